"""docs/customers-django.md quotes the figures tools/django_footprint.py wrote."""

import json

from local_stack.paths import ROOT
from tools.django_footprint import OUTPUT, quoted


def test_the_django_page_quotes_the_measured_footprint():
    """Catches: docs/customers-django.json measured again and the page left quoting the
    figures before (or figures typed by hand)."""
    # Given the figures the tool wrote
    figures = json.loads(OUTPUT.read_text())

    # Then the page quotes each sentence the tool makes of them, word for word
    page = (ROOT / "docs" / "customers-django.md").read_text()
    for sentence in quoted(figures):
        assert sentence in page, sentence
