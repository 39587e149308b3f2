"""Run ``provenance`` in a child process and measure it: wall time, peak memory, output.

The child is the real console entry (``python -m verify``), so what is measured is what
a user runs. Peak memory is the child's own ``ru_maxrss`` (from ``os.wait4``), not the
test runner's. A CPU-time and address-space ceiling stops a runaway child instead of
letting it take the machine.

    python tests/hostile/measure.py OUTDIR     # build the corpus, time every case (--json; terminal+HTML+Markdown)
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Hard ceilings for the child, well above the limits the tests assert.
CPU_SECONDS = 60
ADDRESS_SPACE = 4 * 1024**3


@dataclass(frozen=True)
class Measured:
    exit: int
    seconds: float
    peak_mb: float
    stdout: str
    stderr: str


def _limits() -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def run_cli(args: list[str], env: dict[str, str] | None = None) -> Measured:
    """``python -m verify ARGS`` with its time and peak resident memory."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "verify", *args],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            env={**os.environ, "NO_COLOR": "1", **(env or {})},
            preexec_fn=_limits,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(
            exit=proc.returncode,
            seconds=seconds,
            peak_mb=usage.ru_maxrss / 1024,  # Linux: kilobytes
            stdout=out.read().decode("utf-8", errors="replace"),
            stderr=err.read().decode("utf-8", errors="replace"),
        )


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from tests.hostile.make_corpus import build

    folder = Path(sys.argv[1])
    print(f"{'case':42} {'size':>12} {'exit':>4} {'json s':>7} {'MB':>5} {'all s':>7} {'MB':>5}")
    for name, (_, eml, zone) in build(folder).items():
        base = ["check", str(eml), "--keys", str(zone), "--offline"]
        j = run_cli([*base, "--json"])
        out = folder / f"{name}.out"
        a = run_cli([*base, "-o", f"{out}.txt", "--html", f"{out}.html", "--markdown", f"{out}.md"])
        print(
            f"{name:42} {eml.stat().st_size:>12,} {j.exit:>4} {j.seconds:>7.2f} {j.peak_mb:>5.0f} {a.seconds:>7.2f} {a.peak_mb:>5.0f}",
            flush=True,
        )
        for line in sorted({*j.stderr.strip().splitlines(), *a.stderr.strip().splitlines()}):
            print(f"    stderr: {line[:150]}")


if __name__ == "__main__":
    main()
