"""Facts about the header section that the verdict needs: sender domain, reference time.

Pure and cheap: no full MIME parse, only the fields intake already split.
"""

from __future__ import annotations

import email.utils
from collections.abc import Sequence

from verify.model import HeaderField

#: Fields RFC 5322 3.6 allows at most once; a second copy is a classic forgery trick.
SINGLETONS = ("from", "sender", "reply-to", "to", "cc", "subject", "date", "message-id")
#: Fields a reader sees in a mail client, which a reporter will quote.
VISIBLE = ("from", "sender", "reply-to", "to", "cc", "subject", "date")


def parse_date(value: str) -> int | None:
    """An RFC 5322 date as Unix time, or None when it cannot be read."""
    try:
        dt = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if dt is None:
        return None
    try:
        return int(dt.timestamp())
    except (OverflowError, OSError, ValueError):
        return None


def reference_time(headers: Sequence[HeaderField]) -> tuple[int | None, str | None]:
    """When the message was received: the topmost dated Received field, else Date.

    The topmost Received is the last server's receipt, i.e. when a verifier at the
    recipient would have checked the signature; judging x= against it, not today's
    clock, is what "verified as of its time" means.
    """
    for h in headers:
        if h.name.lower() == "received" and ";" in h.value:
            t = parse_date(h.value.rpartition(";")[2])
            if t is not None:
                return t, "topmost dated Received field (the last server's receipt)"
    for h in headers:
        if h.name.lower() == "date":
            t = parse_date(h.value)
            if t is not None:
                return t, "Date field (no dated Received field)"
    return None, None


def from_addresses(headers: Sequence[HeaderField]) -> list[tuple[str, str]]:
    """Every (display name, address) in every From field, top to bottom."""
    values = [h.value for h in headers if h.name.lower() == "from"]
    return [(n, a) for n, a in email.utils.getaddresses(values) if a or n]


def address_domain(addr: str) -> str | None:
    local, at, domain = addr.rpartition("@")
    domain = domain.strip().strip(">").rstrip(".").lower()
    return domain if at and local and domain else None
