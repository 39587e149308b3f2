"""The atheris fuzz target, run the way CI can afford: a fixed, short number of runs.

``tests/fuzz/fuzz_check.py`` is the target (README, "Fuzzing", says how to run it for
hours). Here it runs as a child process for a fixed number of inputs with a fixed seed,
so a crash, a hang (``-timeout``) or a memory blow-up (``-rss_limit_mb``) fails the test
with the input libFuzzer saved. Every regression sample and seed is also replayed
in-process (no atheris needed for that).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from tests._dns_fixtures import in_ci
from tests.helpers import ROOT, SAMPLES

TARGET = ROOT / "tests" / "fuzz" / "fuzz_check.py"
SEEDS = ROOT / "tests" / "fuzz" / "seeds"
REGRESSIONS = ROOT / "tests" / "regressions"
RUNS = 600

sys.path.insert(0, str(TARGET.parent))
import fuzz_check  # noqa: E402


@pytest.mark.parametrize(
    "path",
    sorted(REGRESSIONS.glob("*.eml")) + sorted(SEEDS.glob("*.eml")),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_replay(path: Path) -> None:
    fuzz_check.one_input(path.read_bytes())


def test_regressions_are_listed_in_their_readme() -> None:
    readme = (REGRESSIONS / "README.md").read_text(encoding="utf-8")
    for p in REGRESSIONS.glob("*.eml"):
        assert f"`{p.name}`" in readme, f"{p.name}: say in tests/regressions/README.md what it did"


def test_fuzz_target_short_run(tmp_path: Path) -> None:
    if importlib.util.find_spec("atheris") is None:
        if in_ci():
            pytest.fail("atheris is not installed (it is in the test extra) -- required in CI", pytrace=False)
        pytest.skip("atheris not installed: pip install -e '.[test]'")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    cmd = [
        sys.executable,
        str(TARGET),
        f"-runs={RUNS}",
        "-seed=6",
        "-timeout=10",
        "-rss_limit_mb=1024",
        "-max_len=65536",
        f"-dict={TARGET.parent / 'dkim.dict'}",
        f"-artifact_prefix={tmp_path}/",
        str(corpus),
        str(SEEDS),
        str(REGRESSIONS),
        str(SAMPLES),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)
    crashes = [p.name for p in tmp_path.iterdir() if p.name.startswith(("crash-", "timeout-", "oom-", "leak-"))]
    assert proc.returncode == 0 and not crashes, f"{crashes}\n{proc.stderr[-4000:]}"
    assert f"Done {RUNS} runs" in proc.stderr
