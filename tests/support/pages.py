"""Reading pieces out of rendered pages."""

from __future__ import annotations

import re

_LIST_ITEM = re.compile(r'<li class="list-item">.*?</li>', re.S)


def start_item(html: str, label: str) -> str:
    """The start page's line (admin, compliance officer) whose label is `label`."""
    for item in _LIST_ITEM.findall(html):
        if label in item:
            return item
    raise AssertionError(f"no {label!r} on the start page")
