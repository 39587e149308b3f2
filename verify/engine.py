"""Orchestration: intake -> key answers -> checks -> verdict -> :class:`Report`.

The only module that both fetches keys and runs checks; the checks themselves stay
pure, so the same code path serves the CLI, scans and library callers.
"""

from __future__ import annotations

import os
import time

from verify import __version__, chain, intake
from verify.checks import arc, dkim
from verify.checks import mime as mime_check
from verify.checks.headers import reference_time
from verify.intake import Evidence
from verify.keys import KeyStore
from verify.model import Report
from verify.verdict import decide


def default_store() -> KeyStore:
    from verify.keys.live import LiveDnsSource

    return KeyStore(dns=LiveDnsSource())


def check_evidence(ev: Evidence, keys: KeyStore | None = None, now: int | None = None, mime: bool = False) -> Report:
    """Run every check on evidence already read, fetching keys through ``keys``.

    ``mime`` adds the attachment list and MIME defects (a full MIME parse through
    mail-parser, about 0.5 ms a message): on for single messages, off for bulk scans.
    """
    store = keys if keys is not None else default_store()
    headers = ev.headers()
    prepared = dkim.prepare(ev)
    names = sorted({p.key_name for p in prepared if p.key_name})
    answers = {n: store.lookup(n) for n in names}
    bodies: dict[bytes, bytes] = {}  # canonical bodies, shared by the DKIM and ARC checks
    sigs = dkim.check(ev, prepared, answers, bodies)
    # ARC keys come through the same store and appear in the report's key list.
    arc_names = [n for n in arc.key_names(ev) if n not in answers]
    answers.update({n: store.lookup(n) for n in arc_names})
    names = [*names, *arc_names]
    arc_result = arc.check(ev, answers, bodies)
    hc = chain.analyse(ev, headers, prepared, sigs, arc_result)
    ref, ref_source = reference_time(headers)
    decision = decide(
        headers,
        sigs,
        ref,
        ev.repairs,
        now=int(time.time()) if now is None else now,
        revealed=store.revealed,
        arc=arc_result,
        recorded=hc.recorded_results,
    )
    return Report(
        file=ev.info,
        verdict=decision.verdict,
        summary=decision.summary,
        caveats=decision.caveats,
        signatures=sigs,
        keys=tuple(a for n in names for a in answers[n]),
        headers=headers,
        reference_time=ref,
        reference_source=ref_source,
        repairs=ev.repairs,
        from_domain=decision.from_domain,
        tool_version=__version__,
        received=hc.received,
        timeline_findings=hc.timeline_findings,
        recorded_results=hc.recorded_results,
        arc=arc_result,
        header_findings=hc.header_findings,
        mime=mime_check.analyse(ev.wire) if mime else None,
    )


def check_bytes(data: bytes, path: str = "<bytes>", keys: KeyStore | None = None, now: int | None = None, mime: bool = False) -> Report:
    """Check a message held in memory; ``path`` only names it in the report."""
    return check_evidence(intake.from_bytes(data, path), keys, now, mime)


def check_file(path: str | os.PathLike[str], keys: KeyStore | None = None, now: int | None = None, mime: bool = True) -> Report:
    """Check one message file, read read-only and never modified."""
    return check_evidence(intake.read_file(path), keys, now, mime)
