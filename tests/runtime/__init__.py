"""Tests of the running bot: exchange isolation, the API and plugin lifecycle hooks."""
