"""The report model: frozen results that every renderer reads.

Checks produce these objects; the verdict module combines them; renderers and the
JSON view only read them. Field names follow the JSON contract in the README, so a
newsroom tool can rely on them across versions (bump ``SCHEMA_VERSION`` on a break).
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = "1.0"


class Verdict(enum.StrEnum):
    """One word for the whole message; ``error`` only in scans of broken input."""

    VERIFIED = "verified"
    WEAK = "weak"
    FAILED = "failed"
    UNVERIFIABLE = "unverifiable"
    UNSIGNED = "unsigned"
    ERROR = "error"


class Result(enum.StrEnum):
    """Per-signature result, as in RFC 8601's dkim method."""

    PASS = "pass"
    FAIL = "fail"
    PERMERROR = "permerror"
    TEMPERROR = "temperror"
    NEUTRAL = "neutral"


class Reason(enum.StrEnum):
    """Why a signature did not pass: stable codes, part of the JSON contract."""

    BODY_HASH_MISMATCH = "body-hash-mismatch"
    SIGNATURE_MISMATCH = "signature-mismatch"
    KEY_NOT_FOUND = "key-not-found"
    KEY_REVOKED = "key-revoked"
    KEY_MALFORMED = "key-malformed"
    MALFORMED_SIGNATURE = "malformed-signature"
    UNSUPPORTED_ALGORITHM = "unsupported-algorithm"
    DNS_ERROR = "dns-error"


@dataclass(frozen=True)
class FileInfo:
    """What was examined: the evidence's name, size and digest (of the bytes as stored)."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Caveat:
    """A stable code plus a plain explanation; ``signature`` is the index it concerns."""

    code: str
    message: str
    signature: int | None = None
    header: str | None = None


@dataclass(frozen=True)
class KeyLookup:
    """One answer about one key name from one source, with where and when it came from.

    ``status`` is one of ``found``, ``nxdomain``, ``no-txt``, ``servfail``, ``timeout``,
    ``error`` (live DNS) or ``not-found`` (the name is in none of the key files, offline).
    ``txt`` lists every TXT record at the name, each with its strings joined.
    """

    name: str
    source: str  # dns | file | archive | reconstructed
    origin: str  # file path, or resolver address
    retrieved_at: str  # ISO 8601, UTC
    status: str
    txt: tuple[str, ...] = ()
    dnssec: str = "unknown"
    detail: str | None = None
    first_seen: str | None = None
    last_seen: str | None = None

    @property
    def found(self) -> bool:
        return self.status == "found"


@dataclass(frozen=True)
class KeyUse:
    """The key record a signature was checked with: its size, type and fingerprint."""

    lookup: KeyLookup
    record: str
    key_type: str
    key_bits: int
    fingerprint: str  # SHA-256 of the DER public key (RSA SPKI) or raw Ed25519 key


@dataclass(frozen=True)
class SignatureResult:
    """Everything one DKIM-Signature says and what checking it found.

    ``body_hash_ok`` and ``signature_ok`` are judged independently (``None`` when the
    check could not get that far), so "headers authentic, body changed" is expressible.
    """

    index: int
    domain: str | None
    selector: str | None
    algorithm: str | None
    canonicalization: str | None
    signed_headers: tuple[str, ...]
    identity: str | None
    body_length: int | None
    timestamp: int | None
    expiration: int | None
    result: Result
    reason: Reason | None
    detail: str | None
    body_hash_ok: bool | None = None
    signature_ok: bool | None = None
    key: KeyUse | None = None
    key_candidates: int = 0
    body_bytes_total: int | None = None
    body_bytes_signed: int | None = None
    covered_header_indexes: tuple[int, ...] = ()
    raw_header: str = ""

    @property
    def passed(self) -> bool:
        return self.result is Result.PASS

    @property
    def key_name(self) -> str | None:
        if self.domain is None or self.selector is None:
            return None
        return f"{self.selector}._domainkey.{self.domain}"


@dataclass(frozen=True)
class HeaderField:
    """A header field as it stands in the file, in order; ``value`` is unfolded text."""

    index: int
    name: str
    value: str


@dataclass(frozen=True)
class Repair:
    """A change made to a copy of the bytes so they could be verified (never to the file)."""

    code: str
    message: str


@dataclass(frozen=True)
class Report:
    """The whole finding for one message; truthy only when the verdict is ``verified``."""

    file: FileInfo
    verdict: Verdict
    summary: str
    caveats: tuple[Caveat, ...]
    signatures: tuple[SignatureResult, ...]
    keys: tuple[KeyLookup, ...]
    headers: tuple[HeaderField, ...]
    reference_time: int | None
    reference_source: str | None
    repairs: tuple[Repair, ...] = ()
    from_domain: str | None = None
    tool_version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.verdict is Verdict.VERIFIED

    def header(self, name: str) -> list[HeaderField]:
        """Every instance of a header field, top to bottom, matched case-insensitively."""
        lname = name.lower()
        return [h for h in self.headers if h.name.lower() == lname]

    def json(self) -> dict[str, Any]:
        from verify.render.json import report_to_dict

        return report_to_dict(self)


def replace(obj: Any, **changes: Any) -> Any:
    """``dataclasses.replace`` re-exported so callers need not import dataclasses."""
    return dataclasses.replace(obj, **changes)
