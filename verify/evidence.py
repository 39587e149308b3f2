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

from verify.idmemo import IdentityMemo
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
    return _offline_command(path, tuple(key_files), tuple(revealed))


@functools.lru_cache(maxsize=256)
def _offline_command(path: str, key_files: tuple[str, ...], revealed: tuple[str, ...]) -> str:
    # Cached: a scan asks it once a message with the same file and key files; shlex.join cost ~3 us.
    args = ["provenance", "check", "--offline"]
    for f in key_files:
        args += ["--keys", f]
    for f in revealed:
        args += ["--revealed", f]
    return shlex.join([*args, path])


def default_rerun(report: Report) -> str:
    """Without the CLI's options: the key files the answers came from, offline."""
    return offline_command(report.file.path, _keys_facts(report.keys)[1])


def key_files(keys: Sequence[KeyLookup]) -> tuple[str, ...]:
    """The files the answers came from (replayed recordings, key files), each once, in order."""
    files: list[str] = []
    for k in keys:
        f = k.recorded_in or (k.origin if k.source != "dns" and k.origin != "offline" else None)
        if f and f not in files:
            files.append(f)
    return tuple(files)


#: Per key answer: (master-file text, key files, needs the network), for the tuple of one.
_ONE_KEY: IdentityMemo[KeyLookup, tuple[str, tuple[str, ...], bool]] = IdentityMemo(1024)


def _keys_facts(keys: Sequence[KeyLookup]) -> tuple[str, tuple[str, ...], bool]:
    """What the evidence block derives from the key answers alone.

    A scan's reports mostly hold one key answer, the same object for every message signed
    with that key, so that case is remembered per answer: the master-file text alone cost
    ~2 us a report (hashing the answer twice to find the cached block) and the key files
    another two."""
    if len(keys) == 1:
        lk = keys[0]
        facts = _ONE_KEY.get(lk)
        if facts is None:
            facts = _ONE_KEY.put(lk, (to_master_text(keys), key_files(keys), needs_network(keys)))
        return facts
    return to_master_text(keys), key_files(keys), needs_network(keys)


_SHELL_BLANKS = re.compile(r"[ \t\r\n]+")


_OFFLINE_WORD = re.compile(r"(?:\A|[ \t\r\n])--offline(?:[ \t\r\n]|\Z)")


def has_offline(command: str) -> bool:
    """``"--offline" in _words(command)``, without building the list for the usual command (no
    quotes, backslashes or non-ASCII): a word is a run between blanks, so it is the text
    ``--offline`` with a blank or an end on each side. A scan asks once a message."""
    if not command.isascii() or "'" in command or '"' in command or "\\" in command:
        return "--offline" in shlex.split(command)
    return _OFFLINE_WORD.search(command) is not None


def _words(command: str) -> list[str]:
    """``shlex.split``, whose pure-Python lexer cost a scan 60 us a message: without quotes,
    backslashes or non-ASCII, the shell words are exactly the runs between blanks."""
    if not command.isascii() or "'" in command or '"' in command or "\\" in command:
        return shlex.split(command)
    return [w for w in _SHELL_BLANKS.split(command) if w]


def evidence_block(report: Report) -> dict[str, Any]:
    master, files, network = _keys_facts(report.keys)
    if report.rerun is not None:
        rerun, offline = report.rerun, has_offline(report.rerun)
    else:
        rerun, offline = offline_command(report.file.path, files), not network
    return {
        "tool_version": report.tool_version,
        "dkimpy_version": dkimpy_version(),
        "sha256": report.file.sha256,
        "rerun": rerun,
        "reproducible_offline": offline,
        "key_records": master,
    }
