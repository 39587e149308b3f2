"""``--keys FILE``: one option, three kinds of file, told apart by their content.

A key archive (JSON, as archive.prove.email's ``/api/key`` returns it), a recorded
evidence file (master file with ``; provenance-key:`` comments, from
``--record-keys`` or ``keys recover``), or any other DNS master file (``dig`` output, a
zone file). Content decides, not the file name: a reporter's files are named anyhow.
"""

from __future__ import annotations

import os

from verify.errors import UsageError
from verify.keys import KeySource
from verify.keys.archive import ArchiveSource, looks_like_json
from verify.keys.recorded import RecordedSource, has_marker
from verify.keys.zonefile import ZoneFileSource


def open_key_file(path: str | os.PathLike[str]) -> KeySource:
    """The right source for ``path``; a file that is none of the three is a :class:`UsageError`."""
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8", errors="surrogateescape") as fh:
            text = fh.read()
    except OSError as exc:
        raise UsageError(f"{name}: cannot read key file ({exc.strerror or exc})") from None
    if looks_like_json(text):
        return ArchiveSource(name, text)
    if has_marker(text):
        return RecordedSource(name, text)
    return ZoneFileSource(name)
