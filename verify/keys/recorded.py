"""Recorded key evidence: every key answer a run used, as a DNS master file that replays.

``--record-keys FILE`` writes it; ``--offline --keys FILE`` reads it back and gets the
same answers, so another newsroom reaches the same verdicts without the network.
Each answer is a block: a ``; provenance-key: {json}`` comment carrying where the
answer came from (source, origin/resolver, time, status, DNSSEC status, archive
window), then its records. Any DNS tool can read the records; the comments are what
makes a failed lookup (NXDOMAIN, timeout) replay as the same failure, and a bogus
DNSSEC answer replay as bogus (never used to verify).
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable, Sequence
from typing import Any

import dns.exception
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rrset

from verify.errors import UsageError
from verify.keys import normalize_name
from verify.keys.zonefile import _read_rrsets, txt_strings
from verify.model import KeyLookup
from verify.render.escape import safe

MARKER = "; provenance-key:"
SOURCES = ("dns", "file", "archive", "reconstructed")
DNSSEC_STATES = ("secure", "insecure", "bogus", "unknown")
STATUSES = ("found", "nxdomain", "no-txt", "servfail", "timeout", "error", "not-found")
TTL = 3600
_FIELDS = ("name", "source", "origin", "retrieved_at", "status", "dnssec", "dnssec_detail", "detail", "first_seen", "last_seen")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def has_marker(text: str) -> bool:
    return any(line.startswith(MARKER) for line in text.splitlines())


def _one_line(s: str) -> str:
    """Comment text stays on its line whatever a key name, origin or detail holds.

    Every control, format and separator character is shown as an escape (``safe``), not
    only ASCII ones: the reader splits with ``str.splitlines``, which also breaks at NEL,
    U+2028 and U+2029, so an ARC ``s=`` holding U+2028 once put a line of its choosing
    among the previous answer's records (tests/test_hostile.py); escapes also keep
    ``cat`` of the file inert.
    """
    return safe(_CONTROL.sub("?", s), None)


def txt_rrset(name: str, records: Sequence[str]) -> dns.rrset.RRset:
    """TXT records as DNS would serve them: each split into <=255-byte character-strings."""
    owner = dns.name.from_text(name if name.endswith(".") else name + ".")
    rrset = dns.rrset.RRset(owner, dns.rdataclass.IN, dns.rdatatype.TXT)
    for rec in records:
        raw = rec.encode("utf-8", errors="surrogateescape")
        chunks = [raw[i : i + 255] for i in range(0, len(raw), 255)] or [b""]
        rrset.add(dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, chunks), TTL)
    return rrset


# Cached: a scan puts the same key's block in every report it signs (KeyLookup is frozen),
# and rendering the records through dnspython cost more than verifying the signature.
@functools.lru_cache(maxsize=1024)
def answer_block(lk: KeyLookup) -> str:
    """One answer as a comment block plus its records."""
    try:
        dns.name.from_text(lk.name + ".")
    except (dns.exception.DNSException, UnicodeError, ValueError) as exc:
        # A name no master file can hold (found by the fuzzer: a 64-octet label) is noted, not recorded.
        return _one_line(f"; {lk.name}: not recorded, not a DNS name ({exc})") + "\n"
    meta = {f: getattr(lk, f) for f in _FIELDS}
    where = "resolver" if lk.source == "dns" else "from"
    window = ""
    if lk.first_seen or lk.last_seen:
        window = f", seen {lk.first_seen or '?'} to {lk.last_seen or '?'}"
    lines = [
        _one_line(
            f"; {lk.name}: {lk.source} ({where} {lk.origin}), retrieved {lk.retrieved_at}, status {lk.status}, DNSSEC {lk.dnssec}{window}"
        ),
        MARKER + " " + json.dumps(meta, ensure_ascii=True, sort_keys=False),
    ]
    if lk.source == "reconstructed":
        lines.insert(1, "; RECONSTRUCTED: recovered from signatures, never seen published by the domain")
    if lk.found and lk.txt:
        lines.append(txt_rrset(lk.name, lk.txt).to_text())
    lines.extend(lk.rrsigs)
    return "\n".join(lines) + "\n"


def to_master_text(answers: Iterable[KeyLookup], header: Sequence[str] = ()) -> str:
    """Every answer once, in order, after ``header`` comment lines."""
    seen: set[KeyLookup] = set()
    blocks = []
    for lk in answers:
        if lk in seen:
            continue
        seen.add(lk)
        blocks.append(answer_block(lk))
    head = "".join(_one_line(f"; {h}" if h else ";") + "\n" for h in header)
    return head + "\n" + "\n".join(blocks)


class RecordedSource:
    """The answers of a recorded-evidence file, each with its original provenance."""

    source = "file"

    def __init__(self, path: str | os.PathLike[str], text: str | None = None) -> None:
        self.path = os.fspath(path)
        if text is None:
            try:
                with open(self.path, encoding="utf-8", errors="surrogateescape") as fh:
                    text = fh.read()
            except OSError as exc:
                raise UsageError(f"{self.path}: cannot read key file ({exc.strerror or exc})") from None
        self._answers: dict[str, list[KeyLookup]] = {}
        lines = text.splitlines()
        marks = [i for i, line in enumerate(lines) if line.startswith(MARKER)]
        if not marks or any(ln.strip() and not ln.lstrip().startswith(";") for ln in lines[: marks[0]]):
            raise UsageError(f"{self.path}: records before the first '{MARKER}' line belong to no answer")
        for j, i in enumerate(marks):
            end = marks[j + 1] if j + 1 < len(marks) else len(lines)
            try:
                meta = json.loads(lines[i][len(MARKER) :])
            except json.JSONDecodeError as exc:
                raise UsageError(f"{self.path}, line {i + 1}: provenance-key comment is not valid JSON ({exc.msg})") from None
            if not isinstance(meta, dict):
                raise UsageError(f"{self.path}, line {i + 1}: provenance-key comment must hold a JSON object")
            self._add(meta, "\n".join(lines[i + 1 : end]), i + 1)

    def _add(self, meta: dict[str, Any], records: str, lineno: int) -> None:
        where = f"{self.path}, line {lineno}"
        for f in ("name", "source", "origin", "retrieved_at", "status"):
            if not isinstance(meta.get(f), str):
                raise UsageError(f"{where}: provenance-key has no text {f!r}")
        for f, allowed in (("source", SOURCES), ("status", STATUSES), ("dnssec", DNSSEC_STATES)):
            value = meta.get(f, "unknown")
            if value not in allowed:
                raise UsageError(f"{where}: {f} {str(value)[:30]!r} is not one of {', '.join(allowed)}")
        for f in ("detail", "dnssec_detail", "first_seen", "last_seen"):
            if meta.get(f) is not None and not isinstance(meta[f], str):
                raise UsageError(f"{where}: {f} must be text or null")
        name = normalize_name(meta["name"])
        try:
            rrsets = _read_rrsets(records)
        except dns.exception.DNSException as exc:
            raise UsageError(f"{where}: the records of this answer are not DNS master-file text ({exc})") from None
        txt: list[str] = []
        rrsigs: list[str] = []
        for rrset in rrsets:
            if rrset.rdtype == dns.rdatatype.TXT and normalize_name(rrset.name.to_text()) == name:
                txt.extend(txt_strings(rd) for rd in rrset)
            elif rrset.rdtype == dns.rdatatype.RRSIG:
                rrsigs.append(rrset.to_text())
        status = meta["status"]
        if (status == "found") != bool(txt):
            raise UsageError(f"{where}: status {status} but {len(txt)} TXT record(s) for {name}")
        self._answers.setdefault(name, []).append(
            KeyLookup(
                name=name,
                source=meta["source"],
                origin=meta["origin"],
                retrieved_at=meta["retrieved_at"],
                status=status,
                txt=tuple(txt),
                dnssec=meta.get("dnssec", "unknown"),
                detail=meta.get("detail"),
                first_seen=meta.get("first_seen"),
                last_seen=meta.get("last_seen"),
                recorded_in=self.path,
                dnssec_detail=meta.get("dnssec_detail"),
                rrsigs=tuple(rrsigs),
            )
        )

    def __len__(self) -> int:
        return sum(len(v) for v in self._answers.values())

    def lookup_all(self, name: str) -> Sequence[KeyLookup]:
        return tuple(self._answers.get(normalize_name(name), ()))

    def lookup(self, name: str) -> KeyLookup | None:
        found = self.lookup_all(name)
        return found[0] if found else None
