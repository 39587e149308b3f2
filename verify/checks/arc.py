"""ARC (RFC 8617): does a chain of intermediaries vouch for what they saw?

Pure: the evidence and key answers the engine fetched in, an
:class:`~verify.model.ArcResult` out. dkimpy's ``ARC.verify`` does the validation
(set structure, AMS and AS signatures, the cv= rules); it gets a ``dnsfunc`` that only
reads the answers handed in, so there is no network here and every key used appears
in the report's key list, exactly like DKIM's. :func:`key_names` tells the engine
which names to fetch first.

One change to dkimpy's behaviour: its ``validate_signature_fields`` compares ``t=`` and
``x=`` with today's clock, so a seal made years ago with an ``x=`` would be rejected
for being old, and a message is judged as of its own time here (README, "Rules of
evidence"). The syntax checks stay (digits, x= not before t=); only the comparisons
with today are dropped. This is done on a copy of ``ARC.verify_instance`` whose
globals see the lenient function, so dkimpy itself, and any other user of it in the
process, is untouched.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import types
from collections.abc import Mapping, Sequence
from typing import Any

import dkim
import dns.exception
import dns.name
from dkim.canonicalization import CanonicalizationPolicy, InvalidCanonicalizationPolicyError
from dkim.crypto import HASH_ALGORITHMS
from dkim.util import InvalidTagValueList

from verify import limits
from verify.checks.dkim import canonical_body
from verify.checks.dkim import tag_list as parse_tag_value
from verify.intake import Evidence
from verify.keys.record import KeyRecordError, parse_key_record
from verify.model import ArcInstance, ArcResult, KeyLookup

_ARC_NAMES = (b"arc-seal", b"arc-message-signature", b"arc-authentication-results")
_DIGITS = re.compile(rb"\d{1,76}\Z")  # bounded: int() refuses > 4,300 digits (ValueError)
_INSTANCE = re.compile(rb"\s*i\s*=\s*(\d{1,76})\s*;", re.IGNORECASE)
_AUTHSERV = re.compile(r"\s*([^\s;(]+)")

NO_CHAIN = ArcResult("none", "the message has no ARC headers", ())
MAX_SETS = limits.MAX_ARC_SETS

# dkimpy logs every failed check at ERROR; they are reported here, not logged.
_QUIET = logging.getLogger("verify.checks.arc.dkimpy")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


def _fields_as_of_message(sig: dict[bytes, bytes], mandatory_fields: Any = (), arc: bool = False) -> None:
    """dkimpy's checks without "t= in the future" and "x= in the past" against today,
    and with ed25519-sha256 accepted: RFC 8617 takes a= from the DKIM registry, which
    RFC 8463 extended (dkimpy's ARC knows only rsa-sha256; rsa-sha1 stays refused, RFC 8301)."""
    timeless = {k: v for k, v in sig.items() if k not in (b"t", b"x")}
    if timeless.get(b"a") == b"ed25519-sha256":
        timeless[b"a"] = b"rsa-sha256"  # for the registry check only; the key type is checked below
    dkim.validate_signature_fields(timeless, list(mandatory_fields), arc)
    for tag in (b"t", b"x"):
        if tag in sig and not _DIGITS.match(sig[tag]):
            raise dkim.ValidationError(f"{tag.decode()}= value is not a decimal integer ({sig[tag]!r})")
    if b"t" in sig and b"x" in sig and int(sig[b"x"]) < int(sig[b"t"]):
        raise dkim.ValidationError(f"x= value is less than t= value (x={sig[b'x']!r} t={sig[b't']!r})")


_original = dkim.ARC.verify_instance
_verify_instance = types.FunctionType(
    _original.__code__,
    {**vars(dkim), "validate_signature_fields": _fields_as_of_message},
    _original.__name__,
    _original.__defaults__,
    _original.__closure__,
)


class _ARC(dkim.ARC):  # type: ignore[misc]
    """dkimpy's ARC with two changes: time fields judged without today's clock (above),
    and each distinct body canonicalisation computed once per message rather than once
    per ARC set (50 sets over a 50 MB body would otherwise canonicalise 2.5 GB)."""

    verify_instance = _verify_instance

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._bodies: dict[bytes, bytes] = {}
        self._digests: dict[tuple[bytes, int | None, bytes], bytes] = {}

    def verify_sig_process(self, sig: dict[bytes, bytes], include_headers: Any, sig_header: Any, dnsfunc: Any) -> Any:
        # dkimpy verifies with whatever key type the record holds; a= must name that type.
        wanted = b"ed25519" if sig.get(b"a", b"").startswith(b"ed25519") else b"rsa"
        if self.ktag != wanted:
            raise dkim.ValidationError(f"a={sig.get(b'a', b'')!r} does not fit the key type k={self.ktag!r}")
        if b"bh" in sig:
            self._check_body_hash(sig)
            # dkimpy hashes the body only when bh= is present; it has been checked here.
            sig = {k: v for k, v in sig.items() if k != b"bh"}
        return super().verify_sig_process(sig, include_headers, sig_header, dnsfunc)

    def _check_body_hash(self, sig: dict[bytes, bytes]) -> None:
        """dkimpy's body-hash step (same canonicalisation, same errors), memoised."""
        c = sig.get(b"c", b"simple/simple")
        try:
            policy = CanonicalizationPolicy.from_c_value(c)
        except InvalidCanonicalizationPolicyError as exc:
            raise dkim.MessageFormatError(f"invalid c= value: {exc.args[0]}") from None
        length = int(sig[b"l"]) if b"l" in sig else None
        algo = c.partition(b"/")[2] or b"simple"
        if algo not in self._bodies:  # once per canonicalisation, whatever the l= values
            self._bodies[algo] = canonical_body(policy, self.body)
        key = (algo, length, sig[b"a"])
        if key not in self._digests:  # a memoryview: l= cuts without copying 50 MB
            body = memoryview(self._bodies[algo])
            self._digests[key] = HASH_ALGORITHMS[sig[b"a"]](body if length is None else body[:length]).digest()
        digest = self._digests[key]
        try:
            expected = base64.b64decode(re.sub(rb"\s+", b"", sig[b"bh"]))
        except (binascii.Error, ValueError) as exc:
            raise dkim.MessageFormatError(str(exc)) from None
        if digest != expected:
            raise dkim.ValidationError("body hash mismatch (the body was changed after this set was signed)")


def _s(b: bytes | None) -> str | None:
    return None if b is None else b.decode("utf-8", errors="backslashreplace")


def _sets(ev: Evidence) -> dict[int, dict[bytes, bytes]]:
    """ARC fields by instance: {i: {name: value}} (the first of duplicates, for display)."""
    out: dict[int, dict[bytes, bytes]] = {}
    for fi in sorted(i for lname in _ARC_NAMES for i in ev.where.get(lname, ())):
        name, value = ev.fields[fi]
        lname = name.lower().rstrip()
        if lname == b"arc-authentication-results":
            m = _INSTANCE.match(value)
            if m is None:
                continue
            i = int(m.group(1))
        else:
            try:
                tags = parse_tag_value(value)
                i = int(tags.get(b"i", b""))
            except (InvalidTagValueList, ValueError):
                continue
        out.setdefault(i, {}).setdefault(lname, value)
    return out


def key_names(ev: Evidence) -> list[str]:
    """``selector._domainkey.domain`` for every AMS and AS, for the engine to fetch."""
    names: list[str] = []
    for fi in sorted(i for lname in (b"arc-seal", b"arc-message-signature") for i in ev.where.get(lname, ())):
        value = ev.fields[fi][1]
        try:
            tags = parse_tag_value(value)
        except InvalidTagValueList:
            continue
        d, s = _s(tags.get(b"d")), _s(tags.get(b"s"))
        if d and s:
            key = f"{s}._domainkey.{d}".lower()
            if key not in names and _is_dns_name(key):
                names.append(key)
    return names


def _is_dns_name(name: str) -> bool:
    """Only names DNS can hold are fetched (and recorded): a 64-octet label or a U+2028 in
    s= (found by the fuzzer) is no key name; dkimpy then finds no key for that set."""
    try:
        dns.name.from_text(name + ".")
    except (dns.exception.DNSException, UnicodeError, ValueError):
        return False
    return name.isascii() and name.isprintable() and " " not in name


def _dnsfunc(keys: Mapping[str, Sequence[KeyLookup]]) -> Any:
    """A dkimpy ``dnsfunc`` answering only from answers already fetched."""

    def dnsfunc(name: bytes | str, timeout: int = 5) -> bytes | None:
        text = name.decode("ascii", errors="replace") if isinstance(name, bytes) else name
        records = [txt for lk in keys.get(text.rstrip(".").lower(), ()) if lk.found for txt in lk.txt]
        # Only a record our own parser accepts reaches dkimpy: the same rules and limits as
        # DKIM (dkimpy's pure-Python RSA must never see a 16,384-bit exponent: 16 s a check).
        for txt in records:  # several records at one name: the first that is a usable key
            try:
                parse_key_record(txt)
            except KeyRecordError:
                continue
            return txt.encode("utf-8", errors="surrogateescape")
        return None

    return dnsfunc


def _key_problem(names: Sequence[str], keys: Mapping[str, Sequence[KeyLookup]]) -> str | None:
    """Why a key could not be had, when that, not a broken chain, may be the cause."""
    for n in names:
        lookups = keys.get(n, ())
        if lookups and not any(lk.found for lk in lookups):
            worst = lookups[-1]
            temporary = worst.status in ("timeout", "servfail", "error")
            return f"key {n}: {worst.status}" + (" (a DNS problem: this may be temporary)" if temporary else "")
        problems = []
        for txt in (t for lk in lookups if lk.found for t in lk.txt):
            try:
                parse_key_record(txt)
            except KeyRecordError as exc:
                problems.append(f"{exc.reason.value}: {exc.detail}")
                continue
            problems = []
            break
        if problems:
            return f"key {n}: {problems[0]}"
    return None


def check(ev: Evidence, keys: Mapping[str, Sequence[KeyLookup]], bodies: dict[bytes, bytes] | None = None) -> ArcResult:
    """Validate the ARC chain with the key answers fetched for :func:`key_names`."""
    sets = _sets(ev)
    if not sets and not any(n in ev.where for n in _ARC_NAMES):
        return NO_CHAIN
    if len(sets) > MAX_SETS or any(i > MAX_SETS or i < 1 for i in sets):
        return ArcResult("fail", f"instance numbers outside 1..{MAX_SETS} (RFC 8617 4.2.1 allows at most {MAX_SETS} ARC sets)", ())
    arc = _ARC(logger=_QUIET)
    if bodies is not None:  # canonical bodies the DKIM check already made (engine.py)
        arc._bodies = bodies
    arc.headers = [(n, v) for n, v in ev.fields]
    arc.body = ev.body
    try:
        cv, results, reason = arc.verify(dnsfunc=_dnsfunc(keys))
    except dkim.DKIMException as exc:  # raised outside verify_instance's own handling
        cv, results, reason = dkim.CV_Fail, [], str(exc)
    # dkimpy answers None for "a seal reported cv=fail": the chain is broken (RFC 8617 5.2).
    verdict = {dkim.CV_Pass: "pass", dkim.CV_None: "none"}.get(cv, "fail")
    why = str(reason)
    if verdict == "fail" and "did not validate" in why:
        problem = _key_problem(key_names(ev), keys)
        if problem:
            why += f"; {problem}"
    checked = {r["instance"]: r for r in results}
    instances = []
    for i in sorted(set(sets) | set(checked)):
        fields = sets.get(i, {})
        r = checked.get(i, {})
        ams = _tags(fields.get(b"arc-message-signature"))
        seal = _tags(fields.get(b"arc-seal"))
        aar = fields.get(b"arc-authentication-results")
        aar_text = _s(_INSTANCE.sub(b"", aar, count=1).strip()) if aar is not None else None
        authserv = _AUTHSERV.match(aar_text) if aar_text else None
        t = seal.get(b"t") or ams.get(b"t")
        instances.append(
            ArcInstance(
                i=i,
                ams_domain=_s(ams.get(b"d")),
                ams_selector=_s(ams.get(b"s")),
                ams_valid=r.get("ams-valid"),
                seal_domain=_s(seal.get(b"d")),
                seal_selector=_s(seal.get(b"s")),
                seal_valid=r.get("as-valid"),
                seal_cv=_s(seal.get(b"cv")),
                timestamp=int(t) if t is not None and _DIGITS.match(t) else None,
                aar=" ".join(aar_text.split()) if aar_text else None,
                aar_authserv_id=authserv.group(1).lower() if authserv else None,
            )
        )
    return ArcResult(verdict, why, tuple(instances))


def _tags(value: bytes | None) -> dict[bytes, bytes]:
    if value is None:
        return {}
    try:
        return {k: v.strip() for k, v in parse_tag_value(value).items()}
    except InvalidTagValueList:
        return {}
