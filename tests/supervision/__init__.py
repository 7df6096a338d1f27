"""Tests of the supervision tree: restart policy, mailboxes and the component loop."""
