#!/usr/bin/env python3
"""Where one message's time goes in ``provenance scan --jobs 1``, stage by stage.

    python bench/stages.py [--repeat 5]

Runs each stage of the scan path alone over the bench corpus (bench/out/, made by
bench/run.py) and prints the best per-message microseconds of each: no profiler, so
the figures add up to roughly what the scan costs. Meant for finding what to make
faster; bench/run.py gives the figures that count.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from verify import chain, intake, mailbox, scan  # noqa: E402
from verify.checks import anomalies, arc, authresults, dkim, received, timeline  # noqa: E402
from verify.checks.headers import reference_time  # noqa: E402
from verify.keys import KeyStore  # noqa: E402
from verify.keys.zonefile import ZoneFileSource  # noqa: E402
from verify.verdict import decide  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    mbox = str(args.out / "corpus.mbox")
    store = KeyStore(files=[ZoneFileSource(args.out / "keys.zone")])
    items = list(mailbox.read_mbox(mbox))
    data = [mailbox.unquote_mboxrd(it.data)[0] for it in items if it.data is not None]
    n = len(data)
    rows: list[tuple[str, float]] = []

    def stage(label: str, fn: Callable[[], Any]) -> Any:
        best, out = 1e9, None
        for _ in range(args.repeat):
            t = time.perf_counter()
            out = fn()
            best = min(best, time.perf_counter() - t)
        rows.append((label, best / n * 1e6))
        return out

    stage("read mbox (1 MiB chunks) + unquote", lambda: [mailbox.unquote_mboxrd(it.data) for it in mailbox.read_mbox(mbox) if it.data])
    evs = stage("intake.from_bytes", lambda: [intake.from_bytes(d, "x") for d in data])
    hs = stage("  ev.headers()", lambda: [e.headers() for e in evs])
    preps = stage("dkim.prepare", lambda: [dkim.prepare(e) for e in evs])
    answers = stage("key lookups (cached)", lambda: [{p.key_name: store.lookup(p.key_name) for p in ps if p.key_name} for ps in preps])
    sigs = stage("dkim.check", lambda: [dkim.check(e, p, a, {}) for e, p, a in zip(evs, preps, answers, strict=True)])
    arcs = stage("arc.key_names + arc.check", lambda: [(arc.key_names(e), arc.check(e, {}, {}))[1] for e in evs])
    chain.analyse(evs[0], hs[0], preps[0], sigs[0], arcs[0])  # load the Public Suffix List
    stage(
        "chain.analyse",
        lambda: [chain.analyse(e, h, p, s, a) for e, h, p, s, a in zip(evs, hs, preps, sigs, arcs, strict=True)],
    )
    idx = stage("  anomalies.index", lambda: [anomalies.index(h) for h in hs])
    hops = stage("  received.hops", lambda: [received.hops(i.get("received", [])) for i in idx])
    stage("  timeline.check (no dates)", lambda: [timeline.check(hp, None, [], chain.org_domain) for hp in hops])
    stage(
        "  authresults.recorded",
        lambda: [authresults.recorded(i.get(authresults.AR, []), a, [], chain.org_domain) for i, a in zip(idx, arcs, strict=True)],
    )
    stage("reference_time", lambda: [reference_time(h) for h in hs])
    stage(
        "verdict.decide",
        lambda: [
            decide(h, s, reference_time(h)[0], e.repairs, now=0, revealed=store.revealed, arc=a)
            for h, s, e, a in zip(hs, sigs, evs, arcs, strict=True)
        ],
    )
    from verify.engine import check_evidence, check_many

    stage("engine.check_evidence, one at a time", lambda: [check_evidence(e, store, now=0) for e in evs])
    reports = stage(
        "engine.check_many, batches of 256 (the scan)",
        lambda: [r for i in range(0, n, 256) for r in check_many(evs[i : i + 256], store, now=0)],
    )
    dicts = stage("Report.json()", lambda: [r.json() for r in reports])
    stage("scan.facts", lambda: [scan.facts(d) for d in dicts])
    stage("scan.json_line", lambda: [scan.json_line(d) for d in dicts])
    width = max(len(label) for label, _ in rows)
    for label, us in rows:
        print(f"{label:<{width}}  {us:7.1f} us")
    top = [
        us
        for label, us in rows
        if label
        in (
            "read mbox (1 MiB chunks) + unquote",
            "intake.from_bytes",
            "engine.check_many, batches of 256 (the scan)",
            "Report.json()",
            "scan.facts",
            "scan.json_line",
        )
    ]
    print(f"{'sum of the scan path':<{width}}  {sum(top):7.1f} us  ({1e6 / sum(top):,.0f} msg/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
