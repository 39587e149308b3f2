"""Intake: read the evidence once, hash it, and split it into header fields and body.

Signatures are verified on the exact bytes. The only change ever made is to a *copy*:
bare LF line ends become CRLF (the form mail has on the wire, which is what signers
signed), and that repair is recorded on the report.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass

from verify import limits
from verify.errors import InputError
from verify.model import FileInfo, HeaderField, Repair

_BARE_LF = re.compile(rb"(?<!\r)\n")
_LINE = re.compile(rb"\r?\n")
_FIELD_NAME = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


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

    def headers(self) -> tuple[HeaderField, ...]:
        """Header fields as display text: unfolded, undecodable bytes shown as escapes."""
        return tuple(HeaderField(i, _text(name), _unfold(value)) for i, (name, value) in enumerate(self.fields))


def _text(b: bytes) -> str:
    return b.decode("utf-8", errors="backslashreplace")


def _unfold(value: bytes) -> str:
    return _text(_LINE.sub(b"", value)).strip()


def read_file(path: str | os.PathLike[str]) -> Evidence:
    """Read a file read-only, once, and examine it; raise :class:`InputError` if it is not mail."""
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
    return from_bytes(data, name)


def from_bytes(data: bytes, path: str = "<bytes>") -> Evidence:
    """Examine bytes already in memory (``path`` only names them in the report)."""
    info = FileInfo(path=path, size=len(data), sha256=hashlib.sha256(data).hexdigest())
    if not data.strip():
        raise InputError(path, "empty file, not an email" if not data else "only white space, not an email")
    if data.startswith(_OLE_MAGIC):
        raise InputError(path, "an Outlook .msg file, not an email; export the original message source (.eml) and check that")
    head_end = _header_end(data)
    nul = data.find(b"\x00", 0, head_end)
    if nul != -1:
        raise InputError(path, f"binary data, not an email (NUL byte at offset {nul} in the header section)")

    repairs: list[Repair] = []
    wire = data
    bare = len(_BARE_LF.findall(data))
    if bare:
        wire = _BARE_LF.sub(b"\r\n", data)
        crlf = data.count(b"\r\n")
        how = "every line ends" if not crlf else f"{bare} lines end"
        repairs.append(
            Repair(
                "line-endings-converted",
                f"In the file {how} in LF only; mail travels with CRLF line ends, so the signatures "
                "were checked on a copy with CRLF. The file itself was not changed.",
            )
        )
    fields, body, skipped = _split(wire, path)
    if skipped:
        repairs.append(
            Repair(
                "mbox-from-line-skipped",
                "The file starts with an mbox 'From ' separator line; it is not part of the message and was not verified.",
            )
        )
    return Evidence(info=info, raw=data, wire=wire, fields=fields, body=body, repairs=tuple(repairs))


def _header_end(data: bytes) -> int:
    for sep in (b"\r\n\r\n", b"\n\n"):
        i = data.find(sep)
        if i != -1:
            return i
    return len(data)


def _split(wire: bytes, path: str) -> tuple[tuple[tuple[bytes, bytes], ...], bytes, bool]:
    """Split CRLF bytes into header fields and body, as RFC 5322 section 2.1 lays them out.

    Written here rather than calling ``dkim.rfc822_parse`` so that a malformed line is
    reported with its line number instead of a bare exception, and so an mbox ``From ``
    line is only skipped where it can be one (the first line).
    """
    fields: list[list[bytes]] = []
    pos = 0
    n = len(wire)
    lineno = 0
    skipped = False
    while pos < n:
        end = wire.find(b"\r\n", pos)
        if end == -1:
            end = n
            nxt = n
        else:
            nxt = end + 2
        line = wire[pos:end]
        lineno += 1
        if not line:
            pos = nxt
            break
        if line[0] in (0x20, 0x09):
            if not fields:
                raise InputError(path, "not an email: the first line is indented, so there is no header section")
            fields[-1][1] += line + b"\r\n"
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
        pos = nxt
    else:
        pos = n
    if not fields:
        raise InputError(path, "not an email: no header fields")
    body = wire[pos:]
    return tuple((f[0], f[1]) for f in fields), body, skipped
