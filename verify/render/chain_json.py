"""The header chain in the JSON view (README, "JSON"): route, findings, recorded results, ARC.

Field names are a contract (``received``, ``timeline_findings``, ``recorded_results``,
``arc``, ``header_findings``); fields may be added, none renamed.
"""

from __future__ import annotations

from typing import Any

from verify.checks.arc import NO_CHAIN
from verify.model import ArcResult, Finding, Hop, RecordedResult, Report
from verify.timefmt import iso

_iso = iso


def hop_to_dict(h: Hop) -> dict[str, Any]:
    return {
        "index": h.index,
        "from_host": h.from_host,
        "from_rdns": h.from_rdns,
        "by_host": h.by_host,
        "ip": h.ip,
        "protocol": h.protocol,
        "id": h.id,
        "for": h.for_,
        "timestamp": h.timestamp,
        "timestamp_iso": _iso(h.timestamp),
        "utc_offset": h.utc_offset,
        "delay_seconds": h.delay_seconds,
        "field_index": h.field_index,
        "note": h.note,
        "raw": h.raw,
    }


def finding_to_dict(f: Finding) -> dict[str, Any]:
    return {"code": f.code, "message": f.message, "severity": f.severity, "hop": f.hop, "header": f.header, "signature": f.signature}


def recorded_to_dict(r: RecordedResult) -> dict[str, Any]:
    return {
        "header": r.header,
        "authserv_id": r.authserv_id,
        "method": r.method,
        "result": r.result,
        "properties": dict(r.properties),
        "reason": r.reason,
        "instance": r.instance,
        "field_index": r.field_index,
        "sealed": r.sealed,
        "final_receiver": r.final_receiver,
    }


def arc_to_dict(a: ArcResult | None) -> dict[str, Any]:
    a = a or NO_CHAIN
    return {
        "cv": a.cv,
        "reason": a.reason,
        "instances": []
        if not a.instances
        else [
            {
                "i": i.i,
                "ams_domain": i.ams_domain,
                "ams_selector": i.ams_selector,
                "ams_valid": i.ams_valid,
                "seal_domain": i.seal_domain,
                "seal_selector": i.seal_selector,
                "seal_valid": i.seal_valid,
                "seal_cv": i.seal_cv,
                "timestamp": i.timestamp,
                "timestamp_iso": _iso(i.timestamp),
                "aar": i.aar,
                "aar_authserv_id": i.aar_authserv_id,
            }
            for i in a.instances
        ],
    }


def chain_to_dict(report: Report) -> dict[str, Any]:
    d: dict[str, Any] = {}
    add_chain(d, report)
    return d


def add_chain(d: dict[str, Any], report: Report) -> None:
    """:func:`chain_to_dict`'s fields, added to ``d`` (the JSON report) without a dict in between."""
    # ``if ... else []``: a list comprehension is a function call in Python 3.11, and
    # findings are mostly absent (a scan builds these for every message).
    tl, hf = report.timeline_findings, report.header_findings
    d["received"] = [hop_to_dict(h) for h in report.received]
    d["timeline_findings"] = [finding_to_dict(f) for f in tl] if tl else []
    d["recorded_results"] = [recorded_to_dict(r) for r in report.recorded_results]
    d["arc"] = arc_to_dict(report.arc)
    d["header_findings"] = [finding_to_dict(f) for f in hf] if hf else []
