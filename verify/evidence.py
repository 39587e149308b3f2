"""What another newsroom needs to re-run a check and get the same answer.

The JSON report's ``evidence`` block: the versions that produced it, the SHA-256 of
the message, the key answers as replayable master-file text, and the exact command
that re-runs the check offline. The CLI knows the options a run used and sets
``Report.rerun``; library callers get the best command the key answers allow.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from verify.keys.recorded import to_master_text
from verify.model import KeyLookup, Report


@functools.cache
def dkimpy_version() -> str:
    try:
        return version("dkimpy")
    except PackageNotFoundError:  # pragma: no cover - dkimpy is a dependency
        return "unknown"


def needs_network(keys: Sequence[KeyLookup]) -> bool:
    """True when some answer came from live DNS in this run (not replayed from a recording)."""
    return any(k.source == "dns" and k.recorded_in is None for k in keys)


def offline_command(path: str, key_files: Sequence[str], revealed: Sequence[str] = ()) -> str:
    args = ["provenance", "check", "--offline"]
    for f in key_files:
        args += ["--keys", f]
    for f in revealed:
        args += ["--revealed", f]
    return shlex.join([*args, path])


def default_rerun(report: Report) -> str:
    """Without the CLI's options: the key files the answers came from, offline."""
    files: list[str] = []
    for k in report.keys:
        f = k.recorded_in or (k.origin if k.source != "dns" and k.origin != "offline" else None)
        if f and f not in files:
            files.append(f)
    return offline_command(report.file.path, files)


_SHELL_BLANKS = re.compile(r"[ \t\r\n]+")


def _words(command: str) -> list[str]:
    """``shlex.split``, whose pure-Python lexer cost a scan 60 us a message: without quotes,
    backslashes or non-ASCII, the shell words are exactly the runs between blanks."""
    if not command.isascii() or "'" in command or '"' in command or "\\" in command:
        return shlex.split(command)
    return [w for w in _SHELL_BLANKS.split(command) if w]


def evidence_block(report: Report) -> dict[str, Any]:
    if report.rerun is not None:
        rerun, offline = report.rerun, "--offline" in _words(report.rerun)
    else:
        rerun, offline = default_rerun(report), not needs_network(report.keys)
    return {
        "tool_version": report.tool_version,
        "dkimpy_version": dkimpy_version(),
        "sha256": report.file.sha256,
        "rerun": rerun,
        "reproducible_offline": offline,
        "key_records": to_master_text(report.keys),
    }
