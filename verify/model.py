"""The report model: frozen results that every renderer reads.

Checks produce these objects; the verdict module combines them; renderers and the
JSON view only read them. Field names follow the JSON contract in the README, so a
newsroom tool can rely on them across versions (bump ``SCHEMA_VERSION`` on a break).
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any, TypeVar

SCHEMA_VERSION = "1.0"

_T = TypeVar("_T")


def fast_init(cls: type[_T]) -> type[_T]:
    """Give a frozen dataclass an ``__init__`` that fills the instance ``__dict__`` directly.

    The ``__init__`` that ``dataclass(frozen=True)`` writes calls ``object.__setattr__`` once
    per field, about 200 ns each; a scan builds some 200 fields a message (header fields,
    hops, results), which came to ~40 us of a ~700 us message. This one has the same
    signature, defaults and default factories; frozenness, equality, hashing and ``repr``
    do not go through ``__init__`` and are unchanged. Only for plain frozen dataclasses
    (no slots, no ``__post_init__``, no ``init=False`` fields): anything else keeps its own.
    """
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    if not params.frozen or "__slots__" in cls.__dict__ or hasattr(cls, "__post_init__") or any(not f.init for f in fields):
        return cls
    ns: dict[str, Any] = {"_MISSING": dataclasses.MISSING}
    args: list[str] = []
    kw_args: list[str] = []
    body: list[str] = []
    for f in fields:
        target = kw_args if f.kw_only else args
        if f.default is not dataclasses.MISSING:
            ns[f"_d_{f.name}"] = f.default
            target.append(f"{f.name}=_d_{f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            ns[f"_f_{f.name}"] = f.default_factory
            target.append(f"{f.name}=_MISSING")
            body.append(f" if {f.name} is _MISSING: {f.name} = _f_{f.name}()")
        else:
            target.append(f.name)
    signature = ", ".join(["self", *args, *(["*", *kw_args] if kw_args else [])])
    body.append(" d = self.__dict__")
    body += [f" d[{f.name!r}] = {f.name}" for f in fields]
    exec(f"def __init__({signature}):\n" + "\n".join(body), ns)  # noqa: S102 - source built above from field names
    init = ns["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    cls.__init__ = init  # type: ignore[method-assign]
    cls.__fast_init__ = True  # type: ignore[attr-defined]
    return cls


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
    #: Not judged: the signature or its key is over a resource limit (verify/limits.py).
    LIMIT_REACHED = "limit-reached"


@fast_init
@dataclass(frozen=True)
class FileInfo:
    """What was examined: the evidence's name, size and digest (of the bytes as stored)."""

    path: str
    size: int
    sha256: str


@fast_init
@dataclass(frozen=True)
class Caveat:
    """A stable code plus a plain explanation; ``signature`` is the index it concerns."""

    code: str
    message: str
    signature: int | None = None
    header: str | None = None


@fast_init
@dataclass(frozen=True)
class KeyLookup:
    """One answer about one key name from one source, with where and when it came from.

    ``status`` is one of ``found``, ``nxdomain``, ``no-txt``, ``servfail``, ``timeout``,
    ``error`` (live DNS) or ``not-found`` (the name is in none of the key files, offline).
    ``txt`` lists every TXT record at the name, each with its strings joined.
    ``dnssec`` is ``secure``, ``insecure``, ``bogus`` or ``unknown`` (not checked);
    ``first_seen``/``last_seen`` bound the window an archive saw the key in;
    ``recorded_in`` names the evidence file an answer was replayed from (``--record-keys``).
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
    recorded_in: str | None = None
    dnssec_detail: str | None = None
    rrsigs: tuple[str, ...] = ()  # RRSIG records (master-file text) that came with the answer

    @property
    def found(self) -> bool:
        return self.status == "found"


@fast_init
@dataclass(frozen=True)
class KeyUse:
    """The key record a signature was checked with: its size, type and fingerprint."""

    lookup: KeyLookup
    record: str
    key_type: str
    key_bits: int
    fingerprint: str  # SHA-256 of the DER public key (RSA SPKI) or raw Ed25519 key


@fast_init
@dataclass(frozen=True)
class KeyTrial:
    """One key answer tried for one signature, and what came of it.

    ``outcome`` is ``pass`` (the header signature verifies with this key), ``fail``
    (it does not), a reason code why the record could not serve (``key-revoked``,
    ``key-malformed``, ``unsupported-algorithm``, ``dnssec-bogus``), or the lookup's
    status when it found no record (``nxdomain``, ``timeout``, ...). Comparing trials
    tells whether sources agree and whether a key was rotated.
    """

    lookup: KeyLookup
    record: str | None
    outcome: str
    key_type: str | None = None
    key_bits: int | None = None
    fingerprint: str | None = None


@fast_init
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
    key_trials: tuple[KeyTrial, ...] = ()

    @property
    def passed(self) -> bool:
        return self.result is Result.PASS

    @property
    def key_name(self) -> str | None:
        if self.domain is None or self.selector is None:
            return None
        return f"{self.selector}._domainkey.{self.domain}"


@fast_init
@dataclass(frozen=True)
class HeaderField:
    """A header field as it stands in the file, in order; ``value`` is unfolded text."""

    index: int
    name: str
    value: str


@fast_init
@dataclass(frozen=True)
class Repair:
    """A change made to a copy of the bytes so they could be verified (never to the file)."""

    code: str
    message: str


@fast_init
@dataclass(frozen=True)
class Finding:
    """A fact from the header chain worth a reader's attention: stable code, plain message.

    ``severity`` is ``warning`` (something does not add up) or ``info`` (context that is
    often innocent). ``hop`` is a :class:`Hop` index, ``header`` a field name,
    ``signature`` a DKIM signature index, when the finding is about one.
    """

    code: str
    message: str
    severity: str = "warning"
    hop: int | None = None
    header: str | None = None
    signature: int | None = None


@fast_init
@dataclass(frozen=True)
class Hop:
    """One Received field, read as a hop of the route; ``index`` 0 is the oldest hop.

    ``from_host`` is the name the sending server gave (HELO/EHLO) as written;
    ``from_rdns`` the name the receiving server found for its address, when it wrote
    one; ``ip`` the sending address. ``timestamp`` is Unix time (UTC) and
    ``delay_seconds`` the time since the nearest earlier dated hop. ``note`` says what
    could not be read; ``raw`` is the field value exactly as unfolded.
    """

    index: int
    field_index: int
    raw: str
    from_host: str | None = None
    from_rdns: str | None = None
    by_host: str | None = None
    ip: str | None = None
    protocol: str | None = None
    id: str | None = None
    for_: str | None = None
    timestamp: int | None = None
    utc_offset: str | None = None
    delay_seconds: int | None = None
    note: str | None = None


@fast_init
@dataclass(frozen=True)
class RecordedResult:
    """One method's result as a receiving server wrote it in (ARC-)Authentication-Results.

    Anyone can write such a field, so it is a claim, not a check we made: ``sealed`` is
    true when it sits in an ARC set of a chain that validates, ``final_receiver`` when
    it sits above every Received field but the topmost (added at final delivery).
    """

    header: str
    field_index: int
    authserv_id: str
    method: str
    result: str
    properties: tuple[tuple[str, str], ...] = ()
    reason: str | None = None
    instance: int | None = None
    sealed: bool = False
    final_receiver: bool = False


@fast_init
@dataclass(frozen=True)
class ArcInstance:
    """One ARC set (RFC 8617): the message signature, the seal, and what it recorded."""

    i: int
    ams_domain: str | None
    ams_selector: str | None
    ams_valid: bool | None
    seal_domain: str | None
    seal_selector: str | None
    seal_valid: bool | None
    seal_cv: str | None
    timestamp: int | None
    aar: str | None
    aar_authserv_id: str | None = None


@fast_init
@dataclass(frozen=True)
class ArcResult:
    """The ARC chain's validation: ``cv`` is ``pass``, ``fail`` or ``none`` (no chain)."""

    cv: str
    reason: str
    instances: tuple[ArcInstance, ...] = ()


@fast_init
@dataclass(frozen=True)
class Attachment:
    """One attachment as the MIME structure gives it; the digest is of the decoded content."""

    filename: str
    content_type: str
    size: int
    sha256: str


@fast_init
@dataclass(frozen=True)
class MimeResult:
    """Attachments and MIME/header defects; ``analysed`` is False when a limit or error stopped it."""

    attachments: tuple[Attachment, ...]
    findings: tuple[Finding, ...]
    analysed: bool


@fast_init
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
    received: tuple[Hop, ...] = ()
    timeline_findings: tuple[Finding, ...] = ()
    recorded_results: tuple[RecordedResult, ...] = ()
    arc: ArcResult | None = None
    header_findings: tuple[Finding, ...] = ()
    rerun: str | None = None  # the command that reproduces this report offline (set by the CLI)
    mime: MimeResult | None = None  # attachments and MIME defects; None when not analysed (scans)

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
    """``dataclasses.replace``, so callers need not import dataclasses.

    For a :func:`fast_init` class the copy is made by filling its ``__dict__``: the
    same result (the new object gets the old values and the changes, no factory runs),
    at a quarter of the cost, which a scan pays once a message."""
    cls = type(obj)
    if not cls.__dict__.get("__fast_init__"):
        return dataclasses.replace(obj, **changes)
    fields = cls.__dataclass_fields__
    for name in changes:
        if name not in fields:
            raise TypeError(f"{cls.__name__}.__init__() got an unexpected keyword argument {name!r}")
    new = object.__new__(cls)
    d = new.__dict__
    d.update(obj.__dict__)
    d.update(changes)
    return new
