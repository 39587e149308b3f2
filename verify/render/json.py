"""The JSON view: built from the model, never from rendered text (README, "JSON fields")."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TextIO

from verify.evidence import evidence_block
from verify.idmemo import IdentityMemo
from verify.key_caveats import sources_agree
from verify.keys.record import KeyRecordError, parse_key_record
from verify.model import SCHEMA_VERSION, HeaderField, KeyLookup, KeyTrial, Report, SignatureResult
from verify.render.chain_json import add_chain
from verify.timefmt import iso

_MESSAGE_FIELDS = ("from", "sender", "reply-to", "to", "cc", "date", "subject", "message-id")
_MESSAGE_KEYS = tuple(name.replace("-", "_") for name in _MESSAGE_FIELDS)

#: Field name as written -> its key in ``message`` ("" for any other field). A scan meets the
#: same few spellings in every message; one dict lookup each replaces ``.lower()`` plus a
#: lookup (~1 us a report). Emptied when full: hostile mail may invent any number of names.
_KEY_OF: dict[str, str] = {}


def _message_key(name: str) -> str:
    key = _KEY_OF.get(name)
    if key is None:
        lname = name.lower()
        key = lname.replace("-", "_") if lname in _MESSAGE_FIELDS else ""
        if len(_KEY_OF) >= 4096:
            _KEY_OF.clear()
        _KEY_OF[name] = key
    return key


def message_fields(headers: Sequence[HeaderField]) -> dict[str, Any]:
    """The fields a reader quotes, by name: a value, a list when the field repeats, None when absent."""
    message: dict[str, Any] = dict.fromkeys(_MESSAGE_KEYS)
    key_of = _KEY_OF.get
    for h in headers:  # one pass over the fields, not one per name (a scan does this per message)
        key = key_of(h.name)
        if key is None:
            key = _message_key(h.name)
        if key:
            seen = message[key]
            if seen is None:
                message[key] = h.value
            elif type(seen) is list:
                seen.append(h.value)
            else:
                message[key] = [seen, h.value]
    return message


def key_records(lk: KeyLookup) -> list[dict[str, Any]]:
    """Each TXT record at the name, decoded where it is a usable key."""
    out: list[dict[str, Any]] = []
    for txt in lk.txt:
        try:
            k = parse_key_record(txt)
            out.append({"txt": txt, "key_type": k.key_type, "key_bits": k.bits, "fingerprint": k.fingerprint, "error": None})
        except KeyRecordError as exc:
            out.append(
                {"txt": txt, "key_type": None, "key_bits": None, "fingerprint": None, "error": exc.reason.value, "detail": exc.detail}
            )
    return out


#: Each key answer's dict, made once: a scan puts the same KeyLookup object in every message
#: signed with that key, and building the dict (re-reading each TXT record) cost ~5 us a report.
_LOOKUPS: IdentityMemo[KeyLookup, dict[str, Any]] = IdentityMemo(1024)


def lookup_to_dict(lk: KeyLookup) -> dict[str, Any]:
    """The JSON of one key answer. Every call gets its own dict and lists (a caller may change
    them); only the immutable values are shared with the memo."""
    d = _LOOKUPS.get(lk)
    if d is None:
        d = _LOOKUPS.put(lk, _lookup_to_dict(lk))
    out = d.copy()
    out["txt"] = list(lk.txt)
    out["records"] = [r.copy() for r in d["records"]]
    return out


def _lookup_to_dict(lk: KeyLookup) -> dict[str, Any]:
    records = key_records(lk)
    first = next((r for r in records if r["error"] is None), None)
    return {
        "name": lk.name,
        "source": lk.source,
        "origin": lk.origin,
        "retrieved_at": lk.retrieved_at,
        "status": lk.status,
        "dnssec": lk.dnssec,
        "txt": list(lk.txt),
        "key_bits": first["key_bits"] if first else None,
        "key_type": first["key_type"] if first else None,
        "fingerprint": first["fingerprint"] if first else None,
        "first_seen": lk.first_seen,
        "last_seen": lk.last_seen,
        "detail": lk.detail,
        "dnssec_detail": lk.dnssec_detail,
        "recorded_in": lk.recorded_in,
        "records": records,
    }


def trial_to_dict(t: KeyTrial) -> dict[str, Any]:
    return {
        "source": t.lookup.source,
        "origin": t.lookup.origin,
        "recorded_in": t.lookup.recorded_in,
        "status": t.lookup.status,
        "dnssec": t.lookup.dnssec,
        "key_bits": t.key_bits,
        "fingerprint": t.fingerprint,
        "outcome": t.outcome,
    }


def signature_to_dict(s: SignatureResult, report: Report) -> dict[str, Any]:
    # str() of a StrEnum member is its value as a plain str, four times cheaper than ``.value``.
    k = s.key
    headers = report.headers
    n_headers = len(headers)
    return {
        "index": s.index,
        "domain": s.domain,
        "selector": s.selector,
        "algorithm": s.algorithm,
        "canonicalization": s.canonicalization,
        "signed_headers": list(s.signed_headers),
        "identity": s.identity,
        "body_length": s.body_length,
        "timestamp": s.timestamp,
        "timestamp_iso": iso(s.timestamp),
        "expiration": s.expiration,
        "expiration_iso": iso(s.expiration),
        "key_name": s.key_name,
        "key_bits": k.key_bits if k else None,
        "key_type": k.key_type if k else None,
        "key_source": k.lookup.source if k else None,
        "key_origin": k.lookup.origin if k else None,
        "key_fingerprint": k.fingerprint if k else None,
        "key_candidates": s.key_candidates,
        "key_trials": [trial_to_dict(t) for t in s.key_trials],
        "key_sources_agree": sources_agree(s),
        "body_hash_ok": s.body_hash_ok,
        "signature_ok": s.signature_ok,
        "result": str(s.result),
        "reason": str(s.reason) if s.reason else None,
        "detail": s.detail,
        "body_bytes_total": s.body_bytes_total,
        "body_bytes_signed": s.body_bytes_signed,
        "covered_headers": [{"index": i, "name": headers[i].name} for i in s.covered_header_indexes if i < n_headers],
        "header": s.raw_header,
    }


def report_to_dict(report: Report) -> dict[str, Any]:
    message = message_fields(report.headers)
    d: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "provenance", "version": report.tool_version},
        "file": {"path": report.file.path, "size": report.file.size, "sha256": report.file.sha256},
        "verdict": str(report.verdict),
        "summary": report.summary,
        "message": message,
        "from_domain": report.from_domain,
        "reference_time": {"unix": report.reference_time, "iso": iso(report.reference_time), "source": report.reference_source},
        # ``if ... else []``: a list comprehension is a function call in Python 3.11, and these are mostly empty.
        "repairs": [{"code": r.code, "message": r.message} for r in report.repairs] if report.repairs else [],
        "caveats": [{"code": c.code, "message": c.message, "signature": c.signature, "header": c.header} for c in report.caveats]
        if report.caveats
        else [],
        "signatures": [signature_to_dict(s, report) for s in report.signatures],
        "keys": [lookup_to_dict(k) for k in report.keys],
        "evidence": evidence_block(report),
    }
    add_chain(d, report)
    if report.mime is not None:
        d["mime"] = {
            "analysed": report.mime.analysed,
            "attachments": [
                {"filename": a.filename, "content_type": a.content_type, "size": a.size, "sha256": a.sha256} for a in report.mime.attachments
            ],
            "findings": [{"code": f.code, "message": f.message, "severity": f.severity} for f in report.mime.findings],
        }
    d.update(report.extra)
    return d


def error_to_dict(path: str, problem: str) -> dict[str, Any]:
    """A file that could not be examined, in the same list as the reports."""
    return {"schema_version": SCHEMA_VERSION, "file": {"path": path}, "verdict": "error", "error": problem}


def dumps(obj: Any) -> str:
    # ensure_ascii: JSON read in a terminal must not carry live control or bidi characters.
    return json.dumps(obj, indent=2, ensure_ascii=True)


class JsonRenderer:
    """One object for one file, a list for several."""

    def render(self, items: Sequence[dict[str, Any]], out: TextIO, as_list: bool) -> None:
        out.write(dumps(list(items) if as_list else items[0]) + "\n")
