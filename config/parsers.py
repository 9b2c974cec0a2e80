"""The one JSON parser for every API: UTF-8 only, strict, bounded, never a 500.

DRF's JSONParser trusts the Content-Type charset (an unknown charset raised LookupError,
a 500) and lets RecursionError from very deep nesting escape. JSON on the wire is UTF-8
(RFC 8259), so other charsets are refused; NaN/Infinity are not JSON; `\\u0000` is refused
because PostgreSQL cannot store it in text or jsonb and no CDS Hooks field needs it.
"""

from __future__ import annotations

import json
from typing import Any

from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.parsers import BaseParser

UTF8_NAMES = {"utf-8", "utf8"}


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class StrictJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        charset = "utf-8"
        for param in (media_type or "").split(";")[1:]:
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "charset":
                charset = value.strip().strip('"').lower()
        if charset not in UTF8_NAMES:
            raise UnsupportedMediaType(media_type or "", detail="JSON must be UTF-8 encoded.")
        raw = stream.read() if stream is not None else b""
        if b"\\u0000" in raw:
            raise ParseError("JSON parse error - NUL characters are not accepted.")
        try:
            return json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
        except UnicodeDecodeError as exc:
            raise ParseError("JSON parse error - the body is not UTF-8.") from exc
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply.") from exc
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
