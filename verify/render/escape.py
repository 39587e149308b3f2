"""Make untrusted text inert before it reaches a terminal, a page or a document.

A Subject must never be able to paint "VERIFIED", move the cursor, reorder text with
bidi controls or hide itself: every control, format and separator character becomes
a visible escape such as ``\\x1b`` or ``\\u202e``.
"""

from __future__ import annotations

import re
import unicodedata

_UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"}
_FAST_SAFE = re.compile(r"[\x20-\x7e]*\Z")


def _escape_char(ch: str) -> str:
    o = ord(ch)
    if o < 0x100:
        return f"\\x{o:02x}"
    if o < 0x10000:
        return f"\\u{o:04x}"
    return f"\\U{o:08x}"


def safe(text: str | None, limit: int | None = 2000) -> str:
    """Printable text with every control/format character shown as an escape."""
    if text is None:
        return ""
    if limit is not None and len(text) > limit:
        text = text[:limit] + f"… [{len(text) - limit} more characters]"
    if _FAST_SAFE.match(text):
        return text
    return "".join(_escape_char(c) if unicodedata.category(c) in _UNSAFE_CATEGORIES else c for c in text)
