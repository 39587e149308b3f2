"""What receivers recorded at the time: Authentication-Results (RFC 8601) and ARC's copy.

Pure: header fields (and our own signature results) in, :class:`~verify.model.RecordedResult`
and :class:`~verify.model.Finding` tuples out. A recorded result is a claim written into
the message by a server, "recorded at the time by <authserv-id>": weaker than a
signature we verify ourselves, since anyone can write such a field, and stronger when it
sits in a validated ARC set or was written by the final receiver (RFC 8601 section 5
has a receiver delete fields claiming its own authserv-id that arrive from outside).

Parsing: the ``authres`` library is the authority. It is also slow for a scan (a
parser that re-looks-up its patterns and rewrites the rest of the text on every step:
about 470 µs for one ordinary three-method field, more than a whole report may cost,
and quadratic in the length), so a compact regex reads the plain, common shape first
(ASCII, no quoted strings or escapes, every clause well formed; about 10 µs) and gives
up on anything else, which then goes to ``authres``.
``tests/test_authresults.py`` checks that the two agree on every field the regex
accepts, including generated ones.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from verify import limits
from verify.model import ArcResult, Finding, HeaderField, RecordedResult, Result, SignatureResult, fast_init

AR = "authentication-results"
AAR = "arc-authentication-results"

# The character classes of authres.core, so the fast path reads exactly what it reads.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_KTEXT = r"[A-Za-z0-9!#$%&'*+?^_`{|}~-]"
_PTEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.@-]"
_TOKEN = r"[A-Za-z0-9!#$%&'*+.^_`{|}~-]+"
_DOT_ATOM = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_PVALUE = rf"(?:@{_DOT_ATOM}|[A-Za-z0-9!#$%&'*+/=?^_`{{|}}~.-]{_PTEXT}*)"
_PROP = re.compile(rf"\s+((?i:smtp|header|body|policy))\.({_KTEXT}+(?:\.{_KTEXT}+)*)=({_PVALUE})(?=\s|\Z)")
_HEAD = re.compile(rf"\s*({_DOT_ATOM})(?:\s+(\d+))?\s*")
_RESINFO = re.compile(
    rf"\s*({_KTEXT}+(?:\.{_KTEXT}+)*)(?:\s*/\s*(\d+))?\s*=\s*({_DOT_ATOM})"
    rf"(?:\s+(?i:reason)\s*=\s*({_TOKEN}))?"
    rf"((?:\s+(?i:smtp|header|body|policy)\.{_KTEXT}+(?:\.{_KTEXT}+)*={_PVALUE})*)\s*"
)
_COMMENT = re.compile(r"\([^()]*\)")
_PLAIN = re.compile(r"[\x20-\x7e\t]*\Z")
_INSTANCE = re.compile(r"\s*i\s*=\s*(\d{1,76})\s*;\s*", re.IGNORECASE)  # bounded: int() refuses > 4,300 digits


@fast_init
@dataclass(frozen=True)
class Parsed:
    """One field's content, normalised: authserv-id and methods lower-cased, as authres does."""

    authserv_id: str
    results: tuple[tuple[str, str, str | None, tuple[tuple[str, str], ...]], ...]  # method, result, reason, props


class Unparsable(ValueError):
    """The field is not RFC 8601 syntax (authres's reason)."""


def _fast(value: str) -> Parsed | None:
    """The common shape read by regex, or None when anything is unusual."""
    if '"' in value or "\\" in value or not _PLAIN.match(value):
        return None
    text = value
    if "(" in text:
        for _ in range(limits.MAX_COMMENT_DEPTH):
            if "(" not in text:
                break
            stripped = _COMMENT.sub(" ", text)
            if stripped == text:
                return None
            text = stripped
        if "(" in text:
            return None
    if ")" in text:
        return None
    head, *parts = text.split(";")
    m = _HEAD.fullmatch(head)
    if m is None or (m.group(2) is not None and m.group(2) != "1") or not parts:
        return None
    # The text is ASCII here (_PLAIN), so a part starting with "none" contains "none".
    if "none" in text.lower() and any(p.strip().lower().startswith("none") for p in parts):
        if len(parts) == 1 and parts[0].strip().lower() == "none":
            return Parsed(m.group(1).lower(), ())
        return None
    results = []
    for p in parts:
        r = _RESINFO.fullmatch(p)
        if r is None:
            return None
        method, _, result, reason, tail = r.groups()
        props = tuple((f"{t.lower()}.{n.lower()}", v) for t, n, v in _PROP.findall(tail)) if tail else ()
        results.append((method.lower(), result.lower(), reason, props))
    return Parsed(m.group(1).lower(), tuple(results))


@functools.lru_cache(maxsize=1)
def _features() -> object:
    import authres

    return authres.all_features()


def _slow(value: str) -> Parsed:
    import authres.core

    try:
        header = _features().parse_value(value)  # type: ignore[attr-defined]
    except authres.core.AuthResError as exc:
        raise Unparsable(str(exc)) from None
    except RecursionError:  # authres recurses once per comment: "(" * 3000 (tests/hostile)
        raise Unparsable("comments nested or repeated too deeply to read") from None
    results = []
    for r in header.results:
        props = tuple((f"{p.type.lower()}.{p.name.lower()}", str(p.value)) for p in r.properties)
        results.append((str(r.method).lower(), str(r.result).lower(), r.reason, props))
    return Parsed(str(header.authserv_id).lower(), tuple(results))


def parse_value(value: str) -> Parsed:
    """An Authentication-Results value (unfolded) read as authres reads it; raises
    :class:`Unparsable` when authres cannot read it, or it is too long to try."""
    if len(value) > limits.MAX_TRACE_FIELD_BYTES:
        raise Unparsable(f"{limits.LIMIT_REACHED}: longer than {limits.MAX_TRACE_FIELD_BYTES:,} characters, not read")
    if len(value) <= 512:
        return _parse_short(value)
    return _fast(value) or _slow(value)


@functools.lru_cache(maxsize=1024)
def _parse_short(value: str) -> Parsed:
    """``_fast(value) or _slow(value)``, cached (Parsed is immutable): a mailbox repeats
    its receivers' fields where they carry no per-message part (no ``header.b``, no
    address), and a miss costs 0.1 µs of a 5-10 µs parse. Long values are not kept."""
    return _fast(value) or _slow(value)


def split_aar(value: str) -> tuple[int | None, str]:
    """ARC-Authentication-Results is ``i=<n>;`` followed by an Authentication-Results value."""
    m = _INSTANCE.match(value)
    if m is None:
        return None, value
    return int(m.group(1)), value[m.end() :]


def recorded(
    headers: Sequence[HeaderField],
    arc: ArcResult | None = None,
    final_hosts: Sequence[str] = (),
    org_domain: Callable[[str], str] | None = None,
) -> tuple[tuple[RecordedResult, ...], tuple[Finding, ...]]:
    """Every method result in every (ARC-)Authentication-Results field, top to bottom.

    ``final_hosts`` are the ``by`` names of the final receiver's hops: a field whose
    authserv-id belongs to the same organisation is marked ``final_receiver``. An AAR
    is ``sealed`` when ``arc`` validated (cv=pass) and has that instance.
    """
    sealed_instances = {i.i for i in arc.instances} if arc is not None and arc.cv == "pass" else set()

    def org(host: str) -> str:
        host = host.rstrip(".").lower()
        return org_domain(host) if org_domain is not None and "." in host else host

    final_orgs = {org(h) for h in final_hosts if h} if final_hosts else set()
    out: list[RecordedResult] = []
    findings: list[Finding] = []
    seen = 0
    for h in headers:
        name = h.name
        name = AR if name == "Authentication-Results" else name.lower()
        if name not in (AR, AAR):
            continue
        seen += 1
        if seen > limits.MAX_AUTH_RESULTS:
            continue
        title = "Authentication-Results" if name == AR else "ARC-Authentication-Results"
        instance, value = split_aar(h.value) if name == AAR else (None, h.value)
        try:
            parsed = parse_value(value)
        except Unparsable as exc:
            findings.append(
                Finding(
                    "unreadable-auth-results",
                    f"The {title} field (field #{h.index + 1}) is not RFC 8601 syntax, so what it records cannot be read reliably ({exc}).",
                    severity="info",
                    header=title,
                )
            )
            continue
        final = name == AR and bool(final_orgs) and org(parsed.authserv_id) in final_orgs
        for method, result, reason, props in parsed.results:
            out.append(
                RecordedResult(
                    header=title,
                    field_index=h.index,
                    authserv_id=parsed.authserv_id,
                    method=method,
                    result=result,
                    properties=props,
                    reason=reason,
                    instance=instance,
                    sealed=instance is not None and instance in sealed_instances,
                    final_receiver=final,
                )
            )
    if seen > limits.MAX_AUTH_RESULTS:
        findings.append(
            Finding(
                limits.LIMIT_REACHED,
                f"The message has {seen:,} (ARC-)Authentication-Results fields; the first {limits.MAX_AUTH_RESULTS} were read, "
                "the rest were not (no real message has that many).",
                header="Authentication-Results",
            )
        )
    return tuple(out), tuple(findings)


_BTAG = re.compile(r"[;:]\s*b\s*=([^;]*)")


def signature_b(raw_header: str) -> str:
    """The b= value of a DKIM-Signature field, without white space."""
    m = _BTAG.search(raw_header)
    return "".join(m.group(1).split()) if m else ""


def matching(r: RecordedResult, sigs: Sequence[SignatureResult]) -> list[SignatureResult] | None:
    """The signatures a recorded dkim result describes, by header.b / header.d / header.i /
    header.s; None when it names none of them (nothing to match on)."""
    props = dict(r.properties)
    keys = {"header.b", "header.d", "header.i", "header.s"} & props.keys()
    if not keys:
        return None
    found = list(sigs)
    if "header.b" in props:
        prefix = props["header.b"]
        found = [s for s in found if prefix and signature_b(s.raw_header).startswith(prefix)]
    if "header.d" in props:
        d = props["header.d"].lower().rstrip(".")
        found = [s for s in found if (s.domain or "") == d]
    if "header.s" in props:
        sel = props["header.s"].lower()
        found = [s for s in found if (s.selector or "") == sel]
    if "header.i" in props:
        i = props["header.i"].lower()
        idom = i.rpartition("@")[2]
        found = [s for s in found if (s.identity or "").lower() == i or (i.startswith("@") and (s.domain or "") == idom)]
    return found


def contradictions(results: Sequence[RecordedResult], sigs: Sequence[SignatureResult], arc: ArcResult | None) -> tuple[Finding, ...]:
    """Recorded results that disagree with what we find now."""
    out: list[Finding] = []
    sealers = {i.aar_authserv_id for i in arc.instances if i.aar_authserv_id} if arc is not None and arc.cv == "pass" else set()
    for r in results:
        if r.header != "Authentication-Results":
            continue  # ARC's copies are weighed in the ARC explanation
        who = f"{r.authserv_id} recorded {r.method}={r.result}"
        if r.method == "dkim":
            found = matching(r, sigs)
            if found is None:
                continue
            desc = " ".join(f"{k}={v}" for k, v in r.properties)
            if not found:
                out.append(
                    Finding(
                        "recorded-signature-absent",
                        f"{who} for a signature ({desc}) that is not in this message: it was removed after delivery, "
                        "or the field was copied from another message.",
                        severity="info",
                        header="Authentication-Results",
                    )
                )
            elif r.result == "pass" and all(s.result is Result.FAIL for s in found):
                s = found[0]
                now = f"signature #{s.index + 1} ({s.domain}) fails now ({s.reason.value if s.reason else s.result.value})"
                if r.authserv_id in sealers:
                    # The same server sealed a valid ARC set: it says itself that it changed the message.
                    out.append(
                        Finding(
                            "recorded-pass-now-fails",
                            f"{who} ({desc}), and {now}: {r.authserv_id} also sealed a valid ARC set, so it changed the "
                            "message after checking it (see modified-in-transit).",
                            severity="info",
                            header="Authentication-Results",
                            signature=s.index,
                        )
                    )
                else:
                    out.append(
                        Finding(
                            "recorded-pass-now-fails",
                            f"{who} ({desc}), but {now}: the message was changed after that server checked it, or the "
                            "recorded result is not genuine.",
                            header="Authentication-Results",
                            signature=s.index,
                        )
                    )
            elif r.result in ("fail", "permerror") and any(s.result is Result.PASS for s in found):
                s = next(s for s in found if s.result is Result.PASS)
                out.append(
                    Finding(
                        "recorded-fail-now-passes",
                        f"{who} ({desc}), but signature #{s.index + 1} ({s.domain}) passes now: that server may have "
                        "had a different key, or the recorded result is not genuine.",
                        header="Authentication-Results",
                        signature=s.index,
                    )
                )
        elif r.method == "arc" and arc is not None and arc.cv in ("pass", "fail") and r.result in ("pass", "fail"):
            if r.result != arc.cv:
                out.append(
                    Finding(
                        "recorded-arc-contradicted",
                        f"{who}, but the ARC chain {'validates' if arc.cv == 'pass' else 'does not validate'} now "
                        f"({arc.reason}): the ARC headers were changed after that server checked them, or the record is not genuine.",
                        header="Authentication-Results",
                    )
                )
    return tuple(out)
