"""docs/indicators.md is what the catalog renders: the page cannot fall behind the code."""

from __future__ import annotations

from pathlib import Path

from marketmaestro_indicators.catalog import INDICATORS
from marketmaestro_indicators.docs import render

PAGE = Path(__file__).resolve().parents[3] / "docs" / "indicators.md"


def test_the_committed_page_is_the_rendered_one() -> None:
    assert PAGE.read_text() == render(), (
        "docs/indicators.md is out of date: python -m marketmaestro_indicators.docs > docs/indicators.md"
    )


def test_every_indicator_has_its_section() -> None:
    page = render()
    for row in INDICATORS:
        assert f"### `{row.name}`\n\n```python\n{row.signature}\n```" in page
