#!/usr/bin/env python3
"""Benchmark ``provenance scan`` against a bare dkimpy loop, in one run.

    python bench/run.py                      # 3,000-message corpus: dkimpy, scan --jobs 1, --jobs 2
    python bench/run.py --rss 100000         # also peak memory scanning a 100,000-message mbox
    python bench/run.py --profile            # also where scan --jobs 1 spends its time (cProfile)

The corpus comes from bench/corpus.py (generated into bench/out/ when missing).

* bare dkimpy: ``dkim.verify(message, dnsfunc=...)`` on every message, already in
  memory, keys from a dict: the floor any DKIM tool in Python starts from. It checks
  only the first signature and produces a bool.
* scan: ``provenance scan corpus.mbox --offline --keys keys.zone --jobs N --jsonl FILE
  -q`` through ``verify.cli.main`` (the command's own code path: it reads the mbox,
  writes the full report of every message as JSONL, prints the summary; worker
  processes are forked as the command forks them), timed from after the imports, then
  the same as a real command, to show what interpreter start-up adds.

Every figure is taken in a fresh process of its own (``--once``), so none inherits
another's heap (a process that had just run the dkimpy loop forked slower workers).
Each repeat takes every figure once, in turn, and each figure keeps its best run, on
the wall clock and in CPU seconds (the process plus its reaped workers). The machine
may be shared: the load average is printed, and per-CPU-second figures are the ones a
busy machine distorts least.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench import corpus  # noqa: E402
from verify import mailbox  # noqa: E402
from verify.keys.zonefile import ZoneFileSource  # noqa: E402


def ensure_corpus(out: Path, count: int) -> None:
    marker = out / "expected.json"
    if marker.exists() and (out / "corpus.mbox").exists() and marker.read_text().count('"index"') == count:
        return
    corpus.main(["--count", str(count), "--out", str(out)])


def load_messages(mbox: Path) -> list[bytes]:
    """The messages as they were signed (mbox quoting undone), for the dkimpy loop."""
    return [mailbox.unquote_mboxrd(it.data)[0] for it in mailbox.read_mbox(str(mbox)) if it.data is not None]


@dataclass
class Timing:
    """Best wall-clock and best CPU seconds over the repeats (CPU: this process and its
    reaped children, so worker processes count)."""

    wall: float = 1e9
    cpu: float = 1e9

    def add(self, wall: float, cpu: float) -> None:
        self.wall, self.cpu = min(self.wall, wall), min(self.cpu, cpu)


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def dkimpy_once(mbox: Path, zone: Path) -> tuple[float, float, int]:
    """One timed pass of ``dkim.verify()`` over every message, already in memory (loading
    them is not timed); (wall seconds, CPU seconds, messages that passed)."""
    import dkim

    src = ZoneFileSource(zone)
    cache: dict[bytes, bytes | None] = {}

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
        if name not in cache:
            lk = src.lookup(name.decode().rstrip("."))
            cache[name] = lk.txt[0].encode() if lk is not None and lk.txt else None
        return cache[name]

    messages = load_messages(mbox)
    t, c = time.perf_counter(), _cpu()
    passed = sum(1 for m in messages if dkim.verify(m, dnsfunc=dnsfunc))
    return time.perf_counter() - t, _cpu() - c, passed


def once(what: str, mbox: Path, zone: Path, jsonl: Path) -> tuple[float, float, int]:
    """One figure, in a fresh process: (wall seconds, CPU seconds, dkimpy passes)."""
    cmd = [sys.executable, str(HERE / "run.py"), "--once", what, "--out", str(mbox.parent), "--jsonl-out", str(jsonl)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed ({proc.returncode}): {proc.stderr.strip()}")
    wall, cpu, passed = json.loads(proc.stdout.strip().splitlines()[-1])
    return float(wall), float(cpu), int(passed)


def run_once(what: str, mbox: Path, zone: Path, jsonl: Path) -> None:
    """``--once``: take one figure in this process and print it as JSON."""
    if what == "dkimpy":
        print(json.dumps(dkimpy_once(mbox, zone)))
    else:
        wall, cpu = scan_in_process(mbox, zone, int(what.removeprefix("scan")), jsonl)
        print(json.dumps([wall, cpu, 0]))


def scan_in_process(mbox: Path, zone: Path, jobs: int, jsonl: Path) -> tuple[float, float]:
    """``provenance scan`` through ``verify.cli.main``: the command's code path, without
    the interpreter start-up (which :func:`scan_command` measures). The modules the
    command imports on its way (``cmd_scan`` imports verify.scan when it runs) are
    imported first: import time is start-up, not scanning, and where bytecode is not
    cached (PYTHONDONTWRITEBYTECODE) it is compile time too."""
    import verify.keycli
    import verify.keys.files
    import verify.keys.revealed
    import verify.scan  # noqa: F401
    from verify.cli import main

    t, c = time.perf_counter(), _cpu()
    code = main(
        ["scan", str(mbox), "--offline", "--keys", str(zone), "--jobs", str(jobs), "--jsonl", str(jsonl), "-q"], stdout=io.StringIO()
    )
    if code != 0:
        raise SystemExit(f"scan failed ({code})")
    return time.perf_counter() - t, _cpu() - c


def scan_command(mbox: Path, zone: Path, jobs: int, jsonl: Path) -> tuple[float, float]:
    """The real command in a subprocess, wall clock including interpreter start-up."""
    t, c = time.perf_counter(), _cpu()
    args = [str(mbox), "--offline", "--keys", str(zone), "--jobs", str(jobs), "--jsonl", str(jsonl), "-q"]
    proc = subprocess.run([sys.executable, "-m", "verify", "scan", *args], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"scan failed ({proc.returncode}): {proc.stderr.strip()}")
    return time.perf_counter() - t, _cpu() - c


def tree_memory_kb(pid: int) -> dict[int, tuple[int, int]]:
    """(VmRSS, VmHWM) in KB of a process and each of its descendants, from /proc.
    VmHWM is the kernel's own high-water mark of the process's resident memory."""
    parent: dict[int, int] = {}
    mem: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                fields = dict(line.split(":", 1) for line in fh if ":" in line)
        except OSError:
            continue
        parent[int(entry)] = int(fields.get("PPid", "0").strip())
        mem[int(entry)] = (int(fields.get("VmRSS", "0 kB").split()[0]), int(fields.get("VmHWM", "0 kB").split()[0]))
    tree = {pid}
    grew = True
    while grew:
        grew = False
        for p, pp in parent.items():
            if pp in tree and p not in tree:
                tree.add(p)
                grew = True
    return {p: mem.get(p, (0, 0)) for p in tree}


def rss_run(out: Path, n: int, zone: Path, jobs: int) -> None:
    big = out / f"big{n}.mbox"
    if not big.exists():
        t = time.perf_counter()
        built = [corpus.Built(m, "?", False, "bench@example.org", _epoch()) for m in load_messages(out / "corpus.mbox")]
        corpus.write_mbox(big, built, n)
        print(f"wrote {big} ({n:,} messages, {big.stat().st_size / 2**20:,.0f} MiB) in {time.perf_counter() - t:.0f} s")
    cmd = [
        sys.executable,
        "-m",
        "verify",
        "scan",
        str(big),
        "--offline",
        "--keys",
        str(zone),
        "--jobs",
        str(jobs),
        "--jsonl",
        os.devnull,
        "-q",
    ]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    peak_tree = 0
    peak_each: dict[int, int] = {}
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak_tree
        while not stop.is_set():
            now = tree_memory_kb(proc.pid)
            peak_tree = max(peak_tree, sum(rss for rss, _ in now.values()))
            for p, (_, hwm) in now.items():
                peak_each[p] = max(peak_each.get(p, 0), hwm)
            time.sleep(0.2)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    stdout, stderr = proc.communicate()
    stop.set()
    th.join()
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"scan failed: {stderr.strip()}")
    print(
        f"\n{n:,}-message mbox ({big.stat().st_size / 2**30:.2f} GiB), scan --jobs {jobs} --jsonl {os.devnull}: {wall:.0f} s, {n / wall:,.0f} msg/s"
    )
    each = ", ".join(f"{kb / 1024:,.0f}" for _, kb in sorted(peak_each.items()))
    print(f"  peak RSS of each process (VmHWM), parent first: {each} MB; largest {max(peak_each.values()) / 1024:,.0f} MB")
    print(f"  peak RSS of parent + workers together (VmRSS summed, sampled every 0.2 s): {peak_tree / 1024:,.0f} MB")
    print("  " + stdout.splitlines()[0])


def _epoch() -> object:
    import datetime as dt

    return dt.datetime(2009, 2, 10, tzinfo=dt.UTC)


def profile(mbox: Path, zone: Path, top: int) -> None:
    import cProfile
    import io
    import pstats

    from verify.cli import main

    prof = cProfile.Profile()
    prof.enable()
    main(["scan", str(mbox), "--offline", "--keys", str(zone), "--jobs", "1", "--jsonl", os.devnull, "-q"], stdout=io.StringIO())
    prof.disable()
    for key in ("tottime", "cumulative"):
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats(key).print_stats(top)
        text = s.getvalue()
        print(f"\nscan --jobs 1 under cProfile, top {top} by {key}:")
        print(text[text.index("   ncalls") :].rstrip())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Benchmark provenance scan against bare dkimpy.")
    ap.add_argument("--count", type=int, default=3000)
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--repeat", type=int, default=5, help="runs per figure; the best is kept (default 5)")
    ap.add_argument("--rss", type=int, metavar="N", help="also scan an N-message mbox and report peak memory")
    ap.add_argument("--profile", action="store_true", help="also profile scan --jobs 1 in-process")
    ap.add_argument("--no-speed", action="store_true", help="skip the speed comparison (with --rss or --profile)")
    ap.add_argument("--once", choices=("dkimpy", "scan1", "scan2"), help=argparse.SUPPRESS)
    ap.add_argument("--jsonl-out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    mbox, zone = args.out / "corpus.mbox", args.out / "keys.zone"
    if args.once:
        run_once(args.once, mbox, zone, args.jsonl_out or args.out / "scan.jsonl")
        return 0
    ensure_corpus(args.out, args.count)
    messages = load_messages(mbox)
    n = len(messages)
    avg = sum(len(m) for m in messages) / n / 1024
    attach = sum(1 for m in messages if b"attachment;" in m)
    print(f"corpus: {n:,} messages, {avg:.1f} KB on average, {attach:,} with an attachment; {os.cpu_count()} cores")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    if not args.no_speed:
        speed(messages, mbox, zone, args)
    if args.profile:
        profile(mbox, zone, 30)
    if args.rss:
        rss_run(args.out, args.rss, zone, 2)
    return 0


def speed(messages: list[bytes], mbox: Path, zone: Path, args: argparse.Namespace) -> None:
    """Each repeat runs every figure once, in turn (dkimpy, scan -j1, -j2, the commands),
    so a machine that speeds up or slows down over the minutes skews no ratio; each
    figure keeps its best run."""
    n = len(messages)
    messages.clear()  # dkimpy_once loads its own copy; nothing else holds 48 MB during the scans
    jsonl = args.out / "scan.jsonl"
    dk, j1, j2, c1, c2 = Timing(), Timing(), Timing(), Timing(), Timing()
    passed = 0
    for _ in range(args.repeat):
        wall, cpu, passed = once("dkimpy", mbox, zone, jsonl)
        dk.add(wall, cpu)
        j1.add(*once("scan1", mbox, zone, jsonl)[:2])
        j2.add(*once("scan2", mbox, zone, jsonl)[:2])
        c1.add(*scan_command(mbox, zone, 1, jsonl))
        c2.add(*scan_command(mbox, zone, 2, jsonl))

    def rate(seconds: float) -> str:
        return f"{n / seconds:8,.0f}"

    print()
    print(f"{'':46} {'wall msg/s':>10}  {'per CPU-second':>14}")
    print(f"{'bare dkimpy loop, dkim.verify() (1 process)':46} {rate(dk.wall):>10}  {rate(dk.cpu):>14}   ({passed:,} passed)")
    print(f"{'provenance scan --jobs 1 (full report, JSONL)':46} {rate(j1.wall):>10}  {rate(j1.cpu):>14}   (after imports)")
    print(f"{'provenance scan --jobs 2 (full report, JSONL)':46} {rate(j2.wall):>10}  {rate(j2.cpu):>14}")
    print(f"{'  the same as a command, start-up included: 1':46} {rate(c1.wall):>10}")
    print(f"{'                                             2':46} {rate(c2.wall):>10}")
    print()
    print(f"scan --jobs 1 / bare dkimpy: {dk.wall / j1.wall:.2f}x wall clock, {dk.cpu / j1.cpu:.2f}x per CPU-second (target >= 2x)")
    print(
        f"scan --jobs 2 / --jobs 1:    {j1.wall / j2.wall:.2f}x wall clock (target >= 1.7x); command with start-up {c1.wall / c2.wall:.2f}x"
    )
    print(f"scan command (start-up included) / bare dkimpy: {dk.wall / c1.wall:.2f}x")
    print(
        f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (a busy machine lowers the wall-clock figures, --jobs 2 most)"
    )


if __name__ == "__main__":
    sys.exit(main())
