"""The header-chain sections of the reader-facing document: route, clocks, recorded
results, ARC and header anomalies. Built from the same model as the JSON; every string
from the evidence goes through :func:`~verify.render.escape.safe`.
"""

from __future__ import annotations

from verify.checks.timeline import span
from verify.model import Finding, Report
from verify.render.document import Block, Bullets, Fields, Heading, Para, Table
from verify.render.escape import safe
from verify.timefmt import stamp

RECORDED_NOTE = (
    "What receiving servers wrote into the message at the time (Authentication-Results). These are claims, not checks made "
    "here: anyone can add such a field. They weigh more when the final receiver wrote them, or when they are sealed in a "
    "valid ARC chain."
)
CLOCKS_AGREE = (
    "No timeline problem found: the hop times run forward, and the Date field and signature times agree with them "
    "(within 15 minutes between servers, an hour for the sender's clock)."
)
ROUTE_NOTE = (
    "Each server that handled the message added a Received field; oldest first. Times are converted to UTC; the delay runs "
    "from the previous dated hop. Nothing here is signed: the route is what the fields say."
)


def _findings(items: tuple[Finding, ...]) -> Bullets:
    return Bullets(tuple((f.code + (" (info)" if f.severity == "info" else ""), safe(f.message)) for f in items))


def _time(t: int | None) -> str:
    return "-" if t is None else stamp(t, "%Y-%m-%d %H:%M:%S", str(t))


def _delay(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    return ("-" if seconds < 0 else "+") + span(seconds)


def _flag(ok: bool | None) -> str:
    return {True: "valid", False: "INVALID", None: "not checked"}[ok]


def chain_blocks(report: Report) -> list[Block]:
    blocks: list[Block] = []
    rows: list[tuple[str, ...]]
    if report.received:
        rows = []
        for h in report.received:
            sender = h.from_host or "-"
            if h.from_rdns and h.from_rdns.lower() != (h.from_host or "").lower():
                sender += f" ({h.from_rdns})"
            rows.append(
                (
                    str(h.index + 1),
                    safe(sender, 200),
                    safe(h.ip or "-"),
                    safe(h.by_host or "-", 200),
                    _time(h.timestamp) + (f" ({h.utc_offset})" if h.utc_offset and h.utc_offset != "+0000" else ""),
                    _delay(h.delay_seconds),
                    safe(h.protocol or "-", 60),
                    safe(h.note or ""),
                )
            )
        columns: tuple[str, ...] = ("hop", "from", "IP", "by", "time (UTC, sender's offset)", "delay", "with", "note")
        if not any(h.note for h in report.received):
            columns, rows = columns[:-1], [r[:-1] for r in rows]
        blocks += [Heading("Route (Received fields, oldest first)"), Para(ROUTE_NOTE), Table(columns, tuple(rows))]
    if report.timeline_findings:
        blocks += [Heading("Timeline"), _findings(report.timeline_findings)]
    elif any(h.timestamp is not None for h in report.received):
        blocks += [Heading("Timeline"), Para(CLOCKS_AGREE)]

    if report.recorded_results:
        rows = []
        for r in report.recorded_results:
            field = "AR" if r.header == "Authentication-Results" else f"ARC i={r.instance}"
            who = r.authserv_id + (" (final receiver)" if r.final_receiver else "") + (" (sealed, ARC valid)" if r.sealed else "")
            props = " ".join(f"{k}={v}" for k, v in r.properties) + (f" reason={r.reason}" if r.reason else "")
            rows.append((f"#{r.field_index + 1} {field}", safe(who, 200), safe(r.method), safe(r.result), safe(props, 300) or "-"))
        blocks += [
            Heading("Recorded at the time"),
            Para(RECORDED_NOTE),
            Table(("field", "recorded by", "method", "result", "details"), tuple(rows)),
        ]

    arc = report.arc
    if arc is not None and (arc.instances or arc.cv != "none"):
        blocks += [Heading("ARC chain"), Fields((("Chain validation (cv)", arc.cv), ("Reason", safe(arc.reason, 300))))]
        rows = []
        for i in arc.instances:
            signer = f"{i.ams_domain or '?'} (s={i.ams_selector or '?'})"
            rows.append(
                (
                    str(i.i),
                    safe(signer, 200),
                    _flag(i.ams_valid),
                    _flag(i.seal_valid),
                    safe(i.seal_cv or "-"),
                    _time(i.timestamp),
                    safe(i.aar or "-", 400),
                )
            )
        blocks.append(Table(("i", "sealed by", "message signature", "seal", "cv", "sealed at (t=)", "recorded (AAR)"), tuple(rows)))

    caveated = {(c.code, c.header) for c in report.caveats}
    shown = tuple(f for f in report.header_findings if (f.code, f.header) not in caveated)
    if shown:
        blocks += [Heading("Header anomalies"), _findings(shown)]
    return blocks
