"""Intake: read the evidence once, hash it, and split it into header fields and body.

Signatures are verified on the exact bytes. The only change ever made is to a *copy*:
bare LF line ends become CRLF (the form mail has on the wire, which is what signers
signed), and that repair is recorded on the report.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from verify import limits
from verify.errors import InputError
from verify.model import FileInfo, HeaderField, Repair, fast_init

_FIELD_NAME = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:")
#: One header field: its name (with any blanks before the colon, as the bytes have them) and
#: its value up to and including the CRLF of its last continuation line. In CRLF bytes every
#: LF ends a CRLF, so ``[^\n]*\n`` is one whole line.
_FIELD = re.compile(rb"([\x21-\x39\x3b-\x7e]+[ \t]*):([^\n]*\n(?:[ \t][^\n]*\n)*)")
_CRLF = re.compile(rb"\r\n")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@fast_init
@dataclass(frozen=True)
class Evidence:
    """A message ready for the checks: the bytes as stored and the form verified.

    ``fields`` are ``(name, value)`` byte pairs exactly as dkimpy's canonicalisation
    expects them (value keeps its leading space and trailing CRLF).
    """

    info: FileInfo
    raw: bytes
    wire: bytes
    fields: tuple[tuple[bytes, bytes], ...]
    body: bytes
    repairs: tuple[Repair, ...]
    #: Where each field name occurs (lower-cased, blanks before the colon dropped), top to
    #: bottom. Every check looks fields up by name; lower-casing the names once a message
    #: rather than in each check saved ~10 us a message in scans.
    where: dict[bytes, list[int]] = field(compare=False, repr=False)

    def headers(self) -> tuple[HeaderField, ...]:
        """Header fields as display text: unfolded, undecodable bytes shown as escapes."""
        # Unfolded (every CRLF or bare LF removed, as re.sub(rb"\r?\n", b"") would) in one comprehension:
        # helper calls per field were a fifth of the cost, which scans pay per message.
        return tuple(
            [
                HeaderField(
                    i,
                    name.decode("utf-8", errors="backslashreplace"),
                    value.replace(b"\r\n", b"").replace(b"\n", b"").decode("utf-8", errors="backslashreplace").strip(),
                )
                for i, (name, value) in enumerate(self.fields)
            ]
        )


def read_file(path: str | os.PathLike[str]) -> Evidence:
    """Read a file read-only, once, and examine it; raise :class:`InputError` if it is not mail."""
    return from_bytes(read_bytes(path), os.fspath(path))


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """A message file's bytes, read-only and within the size limit, or :class:`InputError`."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as fh:
            data = fh.read(limits.MAX_MESSAGE_BYTES + 1)
    except IsADirectoryError:
        raise InputError(name, "is a folder (use `provenance scan` for folders)") from None
    except FileNotFoundError:
        raise InputError(name, "no such file") from None
    except PermissionError:
        raise InputError(name, "permission denied") from None
    except OSError as exc:
        raise InputError(name, f"cannot be read ({exc.strerror or exc})") from None
    if len(data) > limits.MAX_MESSAGE_BYTES:
        raise InputError(name, f"larger than the {limits.MAX_MESSAGE_BYTES // 2**20} MiB limit for one message")
    return data


def from_bytes(data: bytes, path: str = "<bytes>") -> Evidence:
    """Examine bytes already in memory (``path`` only names them in the report)."""
    info = FileInfo(path=path, size=len(data), sha256=hashlib.sha256(data).hexdigest())
    if not data or data.isspace():  # as ``not data.strip()``, without copying the message
        raise InputError(path, "empty file, not an email" if not data else "only white space, not an email")
    if data.startswith(_OLE_MAGIC):
        raise InputError(path, "an Outlook .msg file, not an email; export the original message source (.eml) and check that")
    head_end = _header_end(data)
    nul = data.find(b"\x00", 0, head_end)
    if nul != -1:
        raise InputError(path, f"binary data, not an email (NUL byte at offset {nul} in the header section)")

    repairs: list[Repair] = []
    wire = data
    # Counted rather than searched for with a look-behind regex, which cost a scan more than
    # the RSA check. bytes.count is memchr-fast for one byte but slow for the two of CRLF,
    # where the regex engine's literal search is ~20% faster (11.6 against 14.7 us for 16 KB);
    # findall makes one object per line, so only messages under 256 KB go that way.
    crlf = len(_CRLF.findall(data)) if len(data) < 1 << 18 else data.count(b"\r\n")
    bare = data.count(b"\n") - crlf
    if bare:
        # Same result as re.sub(rb"(?<!\r)\n", b"\r\n"), without the regex's list of one
        # piece per line (25 million bare LFs made it a MemoryError; tests/hostile).
        wire = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        how = "every line ends" if not crlf else f"{bare} lines end"
        repairs.append(
            Repair(
                "line-endings-converted",
                f"In the file {how} in LF only; mail travels with CRLF line ends, so the signatures "
                "were checked on a copy with CRLF. The file itself was not changed.",
            )
        )
    fields, body, skipped = _split_fast(wire) or _split(wire, path)
    if skipped:
        repairs.append(
            Repair(
                "mbox-from-line-skipped",
                "The file starts with an mbox 'From ' separator line; it is not part of the message and was not verified.",
            )
        )
    return Evidence(info=info, raw=data, wire=wire, fields=fields, body=body, repairs=tuple(repairs), where=field_index(fields))


def field_index(fields: Sequence[tuple[bytes, bytes]]) -> dict[bytes, list[int]]:
    """Where each field name occurs (:attr:`Evidence.where`), for any list of fields."""
    where: dict[bytes, list[int]] = {}
    for i, (name, _) in enumerate(fields):
        key = name.lower().rstrip()
        if key in where:
            where[key].append(i)
        else:
            where[key] = [i]
    return where


def _header_end(data: bytes) -> int:
    for sep in (b"\r\n\r\n", b"\n\n"):
        i = data.find(sep)
        if i != -1:
            return i
    return len(data)


def _split_fast(wire: bytes) -> tuple[tuple[tuple[bytes, bytes], ...], bytes, bool] | None:
    """:func:`_split` for a well-formed header section, in one ``findall``; None when the
    section is not simply fields and continuation lines (then :func:`_split` reads it line
    by line and says what is wrong). A scan runs this on every message: the line-by-line
    loop cost ~40 us a message, this ~8 us; tests/test_intake.py checks both agree."""
    end = wire.find(b"\r\n\r\n")
    if end <= 0:
        return None
    head = wire[: end + 2]
    fields = _FIELD.findall(head)
    # Matches never overlap, so covering every byte means nothing was skipped in between.
    if not fields or len(fields) > limits.MAX_HEADER_FIELDS or sum(len(n) + len(v) + 1 for n, v in fields) != len(head):
        return None
    return tuple(fields), wire[end + 4 :], False


def _split(wire: bytes, path: str) -> tuple[tuple[tuple[bytes, bytes], ...], bytes, bool]:
    """Split CRLF bytes into header fields and body, as RFC 5322 section 2.1 lays them out.

    Written here rather than calling ``dkim.rfc822_parse`` so that a malformed line is
    reported with its line number instead of a bare exception, and so an mbox ``From ``
    line is only skipped where it can be one (the first line).
    """
    fields: list[list[bytes]] = []  # [name, value part, continuation, ...]: joined once at the end
    skipped = False
    # The header section ends at the first empty line; without one, the whole file is
    # header lines and the body is empty. One split, rather than a find per line.
    end = wire.find(b"\r\n\r\n")
    if wire.startswith(b"\r\n"):
        head, body = b"", wire[2:]
    elif end == -1:
        head, body = (wire[:-2] if wire.endswith(b"\r\n") else wire), b""
    else:
        head, body = wire[:end], wire[end + 4 :]
    for lineno, line in enumerate(head.split(b"\r\n") if head else (), 1):
        if line[0] in (0x20, 0x09):
            if not fields:
                raise InputError(path, "not an email: the first line is indented, so there is no header section")
            fields[-1].append(line + b"\r\n")  # appended, not +=: 100,000 folds must not cost O(n^2)
        else:
            m = _FIELD_NAME.match(line)
            if m is None:
                if lineno == 1 and line.startswith(b"From "):
                    skipped = True
                elif not fields:
                    raise InputError(path, "not an email: the first line is not a header field ('Name: value')")
                else:
                    shown = line[:40].decode("ascii", errors="backslashreplace")
                    raise InputError(
                        path, f"malformed header section: line {lineno} is neither a header field nor a continuation ({shown!r})"
                    )
            else:
                if len(fields) >= limits.MAX_HEADER_FIELDS:
                    raise InputError(path, f"more than {limits.MAX_HEADER_FIELDS} header fields; refusing as hostile input")
                # Keep the exact bytes between the colon and the value: canonicalisation needs them.
                colon = m.end() - 1
                fields.append([line[:colon], line[colon + 1 :] + b"\r\n"])
    if not fields:
        raise InputError(path, "not an email: no header fields")
    return tuple((f[0], b"".join(f[1:])) for f in fields), body, skipped
