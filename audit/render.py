"""Card detail markdown as the clinician's EHR shows it, in safe HTML (pure, no Django).

CDS Hooks card `detail` is GitHub-flavoured markdown. The review page shows the card "as
the clinician saw it" without trusting its content: everything is escaped first, then only
the few constructs our cards use are turned into tags (paragraphs, bullet lists, **bold**,
*italic*, `code`). Links stay as text: an audit page must not send a reviewer elsewhere.
"""

from __future__ import annotations

import re
from html import escape

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![*\w])\*(?!\s)(.+?)(?<!\s)\*(?![*\w])")
_CODE = re.compile(r"`([^`]+)`")


def _inline(text: str) -> str:
    out = escape(text, quote=True)
    out = _CODE.sub(r"<code>\1</code>", out)
    out = _BOLD.sub(r"<strong>\1</strong>", out)
    return _ITALIC.sub(r"<em>\1</em>", out)


def markdown_html(text: str) -> str:
    """A safe HTML rendering of card markdown (paragraphs, lists, emphasis, code)."""
    blocks: list[str] = []
    items: list[str] = []
    para: list[str] = []

    def flush() -> None:
        if items:
            blocks.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
            items.clear()
        if para:
            blocks.append("<p>" + "<br>".join(para) + "</p>")
            para.clear()

    for raw in text.splitlines():
        line = raw.rstrip()
        bullet = re.match(r"^\s*[-*+]\s+(.*)$", line)
        if bullet:
            if para:
                flush()
            items.append(_inline(bullet.group(1)))
        elif not line.strip():
            flush()
        else:
            if items:
                flush()
            para.append(_inline(line.lstrip("#").strip() if line.startswith("#") else line))
    flush()
    return "".join(blocks)
