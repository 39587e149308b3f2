"""Evidence is never touched: every command leaves every input byte-for-byte as it was.

Before and after each command, every file under the evidence folders (``samples/`` as
committed, plus an mbox, a Maildir and two key-recovery messages made for the test)
is recorded: SHA-256, size, mtime and mode, and the folder listings too (a command
must not leave a file next to the evidence). While the command runs, an audit hook
(``sys.addaudithook``) sees every ``open`` and file-system call of this process and
records any that could write under an evidence folder: an open with a write, create,
truncate or append flag, or a rename, remove, chmod, utime, truncate or mkdir there.
Scans with worker processes are covered by the digests.
"""

from __future__ import annotations

import hashlib
import io
import mailbox
import os
import shutil
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dkim
import pytest

from tests.helpers import BASE_MESSAGE, RECEIVED, SAMPLES, ZONE
from verify.cli import main

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_PATH_EVENTS = {
    "os.rename": 2,
    "os.remove": 1,
    "os.rmdir": 1,
    "os.mkdir": 1,
    "os.chmod": 1,
    "os.chown": 1,
    "os.utime": 1,
    "os.truncate": 1,
    "os.link": 2,
    "os.symlink": 2,
    "shutil.move": 2,
    "shutil.rmtree": 1,
}


class _Watch:
    """One audit hook for the whole session (hooks cannot be removed); armed per command."""

    roots: tuple[str, ...] = ()
    violations: list[str] = []

    @classmethod
    def hook(cls, event: str, args: tuple[object, ...]) -> None:
        if not cls.roots:
            return
        if event == "open":
            path, mode, flags = (list(args) + [None, None, None])[:3]
            writes = (isinstance(flags, int) and flags & _WRITE_FLAGS) or (isinstance(mode, str) and set(mode) & set("wax+"))
            if writes:
                cls._check(event, path)
        elif event in _PATH_EVENTS:
            for path in args[: _PATH_EVENTS[event]]:
                cls._check(event, path)

    @classmethod
    def _check(cls, event: str, path: object) -> None:
        if not isinstance(path, str | bytes | os.PathLike):
            return  # a file descriptor: its open was already seen
        full = os.path.realpath(os.fsdecode(path))
        if any(full == r or full.startswith(r + os.sep) for r in cls.roots):
            cls.violations.append(f"{event} {full}")


_installed = False


@contextmanager
def watching(roots: list[Path]) -> Iterator[list[str]]:
    global _installed
    if not _installed:
        sys.addaudithook(_Watch.hook)
        _installed = True
    _Watch.violations = []
    _Watch.roots = tuple(os.path.realpath(r) for r in roots)
    try:
        yield _Watch.violations
    finally:
        _Watch.roots = ()


def fingerprint(roots: list[Path]) -> dict[str, tuple[object, ...]]:
    """Every file and folder under the roots: digest, size, mtime, mode (folders: mtime, listing)."""
    out: dict[str, tuple[object, ...]] = {}
    for root in roots:
        for path in sorted([root, *root.rglob("*")]):
            st = path.lstat()
            if stat.S_ISDIR(st.st_mode):
                out[str(path)] = ("dir", st.st_mtime_ns, st.st_mode, tuple(sorted(p.name for p in path.iterdir())))
            else:
                out[str(path)] = ("file", hashlib.sha256(path.read_bytes()).hexdigest(), st.st_size, st.st_mtime_ns, st.st_mode)
    return out


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """samples/ plus an mbox, a Maildir and two messages sharing a 512-bit key."""
    base = tmp_path_factory.mktemp("evidence")
    emls = sorted(SAMPLES.glob("*.eml"))
    box = mailbox.mbox(str(base / "leak.mbox"))
    for p in emls[:6]:
        box.add(p.read_bytes())
    box.close()
    md = mailbox.Maildir(str(base / "Maildir"))
    for p in emls[6:12]:
        md.add(p.read_bytes())
    md.close()
    pem = (SAMPLES / "keys" / "weak512.pem").read_bytes()
    pair = base / "pair"
    pair.mkdir()
    for name, msg in (("a", BASE_MESSAGE), ("b", BASE_MESSAGE.replace(b"Quarterly", b"Annual"))):
        sig = dkim.sign(msg, b"old512", b"sender.example", pem, include_headers=[b"from", b"to", b"subject"])
        (pair / f"{name}.eml").write_bytes(RECEIVED + sig + msg)
    # Evidence as people keep it: read-only files.
    for p in [*base.rglob("*")]:
        if p.is_file():
            p.chmod(0o444)
    return {"samples": SAMPLES, "base": base, "mbox": base / "leak.mbox", "maildir": base / "Maildir", "pair": pair}


def _commands(ev: dict[str, Path], out: Path) -> dict[str, list[str]]:
    emls = [str(p) for p in sorted(SAMPLES.glob("*.eml"))]
    keys = ["--keys", str(ZONE), "--offline"]
    return {
        "check terminal": ["check", *emls, *keys],
        "check --json": ["check", *emls, *keys, "--json"],
        "check -o --html --markdown": [
            "check",
            *emls,
            *keys,
            "-o",
            str(out / "r.txt"),
            "--html",
            str(out / "r.html"),
            "--markdown",
            str(out / "r.md"),
        ],
        "check --record-keys": ["check", *emls, *keys, "--record-keys", str(out / "recorded.zone")],
        "check replay of recorded keys": ["check", *emls, "--offline", "--keys", str(out / "recorded.zone"), "--json"],
        "check archive keys": ["check", *emls, "--offline", "--keys", str(SAMPLES / "archive.json"), "--json"],
        "scan samples": ["scan", str(SAMPLES), *keys, "--jobs", "1", "-q", "--jsonl", str(out / "s.jsonl"), "--csv", str(out / "s.csv")],
        "scan --resume": ["scan", str(SAMPLES), *keys, "--jobs", "1", "-q", "--resume", str(out / "s.jsonl")],
        "scan mbox and Maildir": ["scan", str(ev["mbox"]), str(ev["maildir"]), *keys, "--jobs", "1", "-q", "--jsonl", str(out / "m.jsonl")],
        "scan with workers": ["scan", str(ev["base"]), str(SAMPLES), *keys, "--jobs", "2", "-q", "--csv", str(out / "w.csv")],
        "keys recover": ["keys", "recover", str(ev["pair"] / "a.eml"), str(ev["pair"] / "b.eml"), "-o", str(out / "key.zone")],
        "check the recovered key": ["check", str(ev["pair"] / "a.eml"), "--offline", "--keys", str(out / "key.zone")],
    }


_NAMES = list(_commands({"mbox": Path(), "maildir": Path(), "base": Path(), "pair": Path()}, Path()))


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("out")


@pytest.mark.parametrize("name", _NAMES)
def test_command_leaves_evidence_untouched(evidence: dict[str, Path], out_dir: Path, name: str) -> None:
    args = _commands(evidence, out_dir)[name]
    if args[0] not in {"check", "scan", "keys"}:
        pytest.skip(f"no {args[0]} command")
    roots = [evidence["samples"], evidence["base"]]
    before = fingerprint(roots)
    out, err = io.StringIO(), io.StringIO()
    with watching(roots) as violations:
        code = main(args, stdout=out, stderr=err)
    after = fingerprint(roots)
    assert "Traceback" not in err.getvalue() and "internal error" not in err.getvalue(), err.getvalue()[-2000:]
    assert code in (0, 1), (code, err.getvalue()[-2000:])
    assert not violations, violations
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, changed


def test_the_watch_catches_a_write(evidence: dict[str, Path], tmp_path: Path) -> None:
    """The audit hook and the digests are not toothless: a write under a root is seen."""
    victim = tmp_path / "copy.eml"
    shutil.copy(SAMPLES / "unsigned.eml", victim)
    before = fingerprint([tmp_path])
    with watching([tmp_path]) as violations:
        with open(victim, "ab") as fh:
            fh.write(b"\r\n")
        os.utime(victim, ns=(0, 0))
        with open(victim, "rb") as fh:
            fh.read()
    assert [v.split()[0] for v in violations] == ["open", "os.utime"]
    assert fingerprint([tmp_path]) != before
