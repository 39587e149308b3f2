"""Stream the messages of a leak: folders of .eml files, mbox files and Maildirs.

Each message comes out as its bytes *as stored* plus where it was found
(:class:`Source`); nothing is changed here. Memory stays flat: an mbox is read in
chunks and only one message is held at a time, however large the mailbox.

mbox
    A message starts at a line beginning ``From `` at the top of the file or after
    an empty line (the separator every mbox writer puts between messages). The
    separator line and the one empty line before the next separator are the
    mailbox's, not the message's. Body lines that start with ``From `` are stored
    quoted (``>From ``); :func:`unquote_mboxrd` undoes that, and the scan reports it.
Maildir
    A folder with ``cur/`` and ``new/``; messages in file-name order.
Folder
    Walked recursively in name order for ``.eml`` (and ``.msg``, so that Outlook files
    are reported with advice instead of skipped); ``.mbox`` files and Maildirs inside
    are read too. Other files are counted, not read.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from verify import intake, limits
from verify.errors import InputError, UsageError
from verify.model import fast_init

_CHUNK = 1 << 20
#: The separator: an empty line, then a line starting "From ". LF or CRLF mailboxes.
#: A line starting "From ": after an empty line (group 1), or anywhere (then it must look like a separator).
#: A message separator: a "From " line, after an empty line (LF or CRLF) or not.
_SEP = re.compile(rb"\n(\r?\n)?From ")
#: A separator line in full: ``From sender asctime-date`` (with an optional zone, as Gmail writes).
_FROM_LINE = re.compile(
    rb"From \S+ +(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) +(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d{1,2} +"
    rb"\d{1,2}:\d\d(?::\d\d)?(?: +[-+]?[A-Za-z0-9]+)? +\d{4}\r?\Z"
)
_LONGEST_FROM_LINE = 4096
_QUOTED = re.compile(rb"^>(>*From )", re.MULTILINE)
#: Whether a message may hold a quoted line at all: a compiled search for ">From " runs
#: at twice the speed of ``b">From " in data`` (~5 us against ~9 for 16 KB).
_QUOTE_HINT = re.compile(rb">From ")
_QUOTED_AFTER_LF = re.compile(rb"\n>(>*From )")
_QUOTED_AT_START = re.compile(rb">>*From ")
MESSAGE_SUFFIXES = (".eml", ".msg")
MBOX_SUFFIXES = (".mbox",)
_TOO_LARGE = f"larger than the {limits.MAX_MESSAGE_BYTES // 2**20} MiB limit for one message"


@fast_init
@dataclass(frozen=True)
class Source:
    """Where a message was found: ``index`` is its 0-based position in an mbox or
    Maildir (None for a single file); ``offset`` the byte offset of its ``From ``
    separator line in an mbox (None elsewhere)."""

    path: str
    index: int | None = None
    offset: int | None = None
    mbox: bool = False

    def json(self) -> dict[str, object]:
        return {"path": self.path, "index": self.index, "offset": self.offset}

    @property
    def key(self) -> tuple[str, int | None]:
        """Identity of the message for ``--resume``: its file, plus its index in an mbox
        (a Maildir message has a file of its own; its index moves when mail arrives)."""
        return resume_key(self.path, self.index if self.mbox else None)

    def label(self) -> str:
        return self.path if self.index is None else f"{self.path} #{self.index}"


@fast_init
@dataclass(frozen=True)
class Item:
    """One message: its bytes as stored, or why they could not be read.

    ``span`` (offset, length) says where an mbox message's bytes lie in its file, so a
    worker process can read them itself instead of receiving them through a pipe.
    """

    source: Source
    data: bytes | None
    error: str | None = None
    size: int = 0  # bytes of input this item accounts for (progress)
    span: tuple[int, int] | None = None

    def without_data(self) -> Item:
        """The same message with its bytes left in the file (mbox only; others unchanged)."""
        if self.span is None or self.data is None:
            return self
        return Item(self.source, None, None, self.size, self.span)

    def loaded(self, fd: int) -> Item:
        """The message with its bytes read back from ``span`` of the open file ``fd``."""
        assert self.span is not None
        offset, length = self.span
        try:
            data = os.pread(fd, length, offset)
        except OSError as exc:
            return Item(self.source, None, f"cannot be read ({exc.strerror or exc})", self.size, self.span)
        if len(data) != length:
            return Item(self.source, None, "the mbox changed while it was being scanned (message cut short)", self.size, self.span)
        return Item(self.source, data, None, self.size, self.span)


def load(items: Sequence[Item]) -> list[Item]:
    """Read back the bytes of items sent :meth:`Item.without_data`, one open per file."""
    fds: dict[str, int] = {}
    out: list[Item] = []
    try:
        for it in items:
            if it.data is not None or it.span is None or it.error is not None:
                out.append(it)
                continue
            path = it.source.path
            if path not in fds:
                try:
                    fds[path] = os.open(path, os.O_RDONLY)
                except OSError as exc:
                    out.append(Item(it.source, None, f"cannot be read ({exc.strerror or exc})", it.size, it.span))
                    continue
            out.append(it.loaded(fds[path]))
    finally:
        for fd in fds.values():
            os.close(fd)
    return out


@dataclass(frozen=True)
class Input:
    """One PATH of the command line, classified."""

    path: str
    kind: str  # file | mbox | maildir | folder
    size: int


@dataclass
class Plan:
    """What a scan will read: the inputs and their total size (for the ETA)."""

    inputs: list[Input] = field(default_factory=list)
    skipped: int = 0  # files in folders that are not messages

    @property
    def total_bytes(self) -> int:
        return sum(i.size for i in self.inputs)


def resume_key(path: str, mbox_index: int | None) -> tuple[str, int | None]:
    return (os.path.abspath(path), mbox_index)


def is_maildir(path: str) -> bool:
    return os.path.isdir(os.path.join(path, "cur")) and os.path.isdir(os.path.join(path, "new"))


def looks_like_mbox(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(5) == b"From "
    except OSError:
        return False


def plan(paths: Sequence[str]) -> Plan:
    """Classify every PATH (walking folders); a PATH that does not exist is a usage error."""
    out = Plan()
    for p in paths:
        try:
            st = os.stat(p)
        except FileNotFoundError:
            raise UsageError(f"{p}: no such file or folder") from None
        except OSError as exc:
            raise UsageError(f"{p}: cannot be read ({exc.strerror or exc})") from None
        if stat.S_ISDIR(st.st_mode):
            _walk(p, out)
        elif p.lower().endswith(MESSAGE_SUFFIXES) or not looks_like_mbox(p):
            out.inputs.append(Input(p, "file", st.st_size))
        else:
            out.inputs.append(Input(p, "mbox", st.st_size))
    return out


def _walk(folder: str, out: Plan) -> None:
    if is_maildir(folder):
        size = sum(s for _, s in _maildir_files(folder))
        out.inputs.append(Input(folder, "maildir", size))
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        out.inputs.append(Input(folder, "file", 0))  # reported as an error row when read
        return
    maildir = is_maildir(folder)
    for e in entries:
        if e.is_dir(follow_symlinks=False):
            if maildir and e.name in ("cur", "new", "tmp"):
                continue
            _walk(e.path, out)
        elif e.is_file():
            low = e.name.lower()
            if low.endswith(MESSAGE_SUFFIXES):
                out.inputs.append(Input(e.path, "file", _size(e)))
            elif low.endswith(MBOX_SUFFIXES):
                out.inputs.append(Input(e.path, "mbox", _size(e)))
            else:
                out.skipped += 1


def _size(e: os.DirEntry[str]) -> int:
    try:
        return e.stat().st_size
    except OSError:
        return 0


def _maildir_files(folder: str) -> list[tuple[str, int]]:
    files: list[tuple[str, int]] = []
    for sub in ("new", "cur"):
        try:
            entries = list(os.scandir(os.path.join(folder, sub)))
        except OSError:
            continue
        files.extend((e.path, _size(e)) for e in entries if e.is_file() and not e.name.startswith("."))
    return sorted(files, key=lambda f: (os.path.basename(os.path.dirname(f[0])) != "new", os.path.basename(f[0])))


def iter_messages(p: Plan, mbox_data: bool = True) -> Iterator[Item]:
    """Every message of the plan, in order, one at a time. With ``mbox_data`` False, an
    mbox message comes without its bytes, only where they lie (``span``): for a parent
    process whose workers read them themselves."""
    for inp in p.inputs:
        if inp.kind == "mbox":
            yield from read_mbox(inp.path, mbox_data)
        elif inp.kind == "maildir":
            for i, (path, size) in enumerate(_maildir_files(inp.path)):
                yield _read_one(Source(path, i), size)
        else:
            yield _read_one(Source(inp.path), inp.size)


def _read_one(src: Source, size: int) -> Item:
    try:
        return Item(src, intake.read_bytes(src.path), size=size)
    except InputError as exc:
        return Item(src, None, exc.problem, size=size)


def read_mbox(path: str, with_data: bool = True) -> Iterator[Item]:
    """The messages of one mbox file, read in 1 MiB chunks (with ``with_data`` False,
    each without its bytes: copying 16 KB a message was a fifth of a scan parent's work).

    A message over the size limit is an error item (its bytes are skipped, not held);
    a file that does not start with ``From `` is one error item.
    """
    try:
        fh = open(path, "rb")
    except OSError as exc:
        yield Item(Source(path, mbox=True), None, f"cannot be read ({exc.strerror or exc})")
        return
    with fh:
        buf = fh.read(_CHUNK)
        if not buf.startswith(b"From "):
            yield Item(Source(path, mbox=True), None, "not an mbox file: it does not start with a 'From ' line", size=len(buf))
            return
        base = 0  # file offset of buf[0]
        start = 0  # the current entry's From line, in buf
        entry_offset = 0  # the same, in the file
        look = 0  # where the search for the next separator resumes
        index = 0
        eof = False
        oversize = False
        while True:
            m, resume = _separator(buf, look, eof)
            if m is None and not eof:
                if not oversize and len(buf) - start > limits.MAX_MESSAGE_BYTES:
                    oversize = True
                # Drop what is done (or, for an oversize message, all before the search point).
                keep = max(0, min(resume, len(buf) - 8)) if oversize else start
                buf = buf[keep:]
                base += keep
                start = 0
                look = resume - keep
                chunk = fh.read(_CHUNK)
                eof = not chunk
                buf += chunk
                continue
            if m is None:
                entry_end, nxt = len(buf), -1
            else:
                entry_end, nxt = m[0] + 1, m[1] - 5  # keep the message's own last line end
            size = base + (nxt if nxt != -1 else len(buf)) - entry_offset
            src = Source(path, index, entry_offset, mbox=True)
            if oversize:
                yield Item(src, None, _TOO_LARGE, size=size)
                oversize = False
            else:
                if nxt == -1:  # the mbox's own empty line after the last message
                    if buf.endswith(b"\n\r\n", start, entry_end):
                        entry_end -= 2
                    elif buf.endswith(b"\n\n", start, entry_end):
                        entry_end -= 1
                nl = buf.find(b"\n", start, entry_end)  # the end of the From line
                first = nl + 1 if nl != -1 else entry_end
                if entry_end - first > limits.MAX_MESSAGE_BYTES:
                    yield Item(src, None, _TOO_LARGE, size=size)
                else:
                    data = buf[first:entry_end] if with_data else None
                    yield Item(src, data, size=size, span=(base + first, entry_end - first))
            index += 1
            if nxt == -1:
                return
            start = look = nxt
            entry_offset = base + nxt


def _find_sep(buf: bytes, pos: int) -> tuple[int, int, bool] | None:
    """``_SEP.search(buf, pos)`` as (start, end, after an empty line): ``bytes.find`` of the
    6-byte ``\\nFrom `` skips through a mailbox several times faster than the regex, which
    stops at every line end (~20 us a message of a scan). tests/test_mailbox.py checks both agree."""
    i = buf.find(b"\nFrom ", pos)
    if i == -1:
        return None
    if i - 1 >= pos and buf[i - 1] == 0x0A:
        return i - 1, i + 6, True
    if i - 2 >= pos and buf[i - 2] == 0x0A and buf[i - 1] == 0x0D:
        return i - 2, i + 6, True
    return i, i + 6, False


def _separator(buf: bytes, pos: int, eof: bool) -> tuple[tuple[int, int, bool] | None, int]:
    """The next message separator at or after ``pos``, and where to search next.

    A ``From `` line after an empty line is a separator (every writer puts one there);
    one without the empty line counts only if it reads like a separator (sender and
    date), so a broken writer's missing empty line does not merge two messages into one.
    ``None`` means: read more, then search again from the position returned.
    """
    while True:
        m = _find_sep(buf, pos)
        if m is None:
            return None, max(pos, len(buf) - 8)  # a separator may straddle the chunk boundary
        start, end, blank = m
        if blank:
            return m, end
        line_end = buf.find(b"\n", end, end + _LONGEST_FROM_LINE)
        if line_end == -1 and not eof and len(buf) - end < _LONGEST_FROM_LINE:
            return None, start  # the line is not all read yet
        if _FROM_LINE.match(buf, end - 5, line_end if line_end != -1 else len(buf)):
            return m, end
        pos = end


def unquote_mboxrd(data: bytes) -> tuple[bytes, int]:
    """Remove one ``>`` from every line matching ``>+From `` (mboxrd); the count of lines changed."""
    if _QUOTE_HINT.search(data) is None:
        return data, 0
    # _QUOTED.subn(rb"\1", data), in two parts: "^" in a multi-line pattern is tried at every
    # byte (~90 us for 16 KB), a line start after "\n" is found by a literal search (~10 us).
    out, n = _QUOTED_AFTER_LF.subn(rb"\n\1", data)
    if _QUOTED_AT_START.match(out):
        out, n = out[1:], n + 1
    return out, n
