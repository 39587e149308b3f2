"""atheris fuzz target: ``check`` on raw bytes, then every renderer, fully offline.

Run it for hours (README, "Fuzzing")::

    python tests/fuzz/fuzz_check.py -max_total_time=3600 -timeout=10 -rss_limit_mb=1024 \
        -dict=tests/fuzz/dkim.dict fuzz-corpus/ tests/fuzz/seeds/

An input is a message. Keys come from ``samples/keys.zone``, ``samples/archive.json``
(keys with first/last-seen windows), Mail::DKIM's recorded answers (when ``../shared/conformance`` is there) and, so the fuzzer can mutate key
records too, from the message itself: the value of an ``X-Fuzz-Key:`` field answers
for every key name no file holds (a lookup status such as ``servfail`` replays a
failed lookup). Everything an ordinary user can meet must end as a report or an
:class:`~verify.errors.InputError`; any other exception, a hang (``-timeout``) or a
memory blow-up (``-rss_limit_mb``) is a crash. Every crash becomes a sample under
``tests/regressions/`` named after its trick, with a fix.

Without atheris (``--replay FILE...``) it runs the same one-input function on files,
which is how the regression test replays seeds and crashes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

try:
    import atheris
except ImportError:  # replay mode and the pytest import need no atheris
    atheris = None

from rich.console import Console  # noqa: E402 - after the path set-up; not instrumented (not ours)

with (
    atheris.instrument_imports(include=["verify", "dkim", "authres"])
    if atheris is not None and __name__ == "__main__"
    else contextlib.nullcontext()
):
    import verify
    from verify.errors import InputError
    from verify.keys import KeyStore
    from verify.keys.files import open_key_file
    from verify.keys.static import STATUSES, StaticSource
    from verify.keys.zonefile import ZoneFileSource
    from verify.model import KeyLookup
    from verify.render import html as html_render
    from verify.render import json as json_render
    from verify.render import terminal

_FUZZ_KEY = re.compile(rb"^X-Fuzz-Key:[ \t]*([^\r\n]*)", re.IGNORECASE | re.MULTILINE)
_LIVE_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


class _FuzzKeys:
    """Answers every name with the message's own ``X-Fuzz-Key`` value (None without one)."""

    def __init__(self, data: bytes) -> None:
        m = _FUZZ_KEY.search(data[:65536])
        self._value = m.group(1).decode("utf-8", errors="surrogateescape") if m else None

    def lookup(self, name: str):  # type: ignore[no-untyped-def]
        if self._value is None:
            return None
        if self._value in STATUSES:
            return KeyLookup(name, "file", "fuzz", "2000-01-01T00:00:00Z", self._value)
        return KeyLookup(name, "file", "fuzz", "2000-01-01T00:00:00Z", "found", tuple(self._value.split("\\n")))


_FILES: list[object] = []


def _sources() -> list[object]:
    if not _FILES:
        _FILES.append(ZoneFileSource(ROOT / "samples" / "keys.zone"))
        _FILES.append(open_key_file(ROOT / "samples" / "archive.json"))  # keys with seen-windows
        fake = ROOT.parent / "shared" / "conformance" / "mail-dkim" / "FAKE_DNS.dat"
        if fake.is_file():
            from tests.conformance_data import parse_fake_dns

            _FILES.append(StaticSource(parse_fake_dns(fake), origin="FAKE_DNS.dat"))
    return _FILES


def one_input(data: bytes) -> None:
    """Check ``data`` and render the report every way; raise only on a real bug."""
    store = KeyStore(files=[*_sources(), _FuzzKeys(data)])  # type: ignore[list-item]
    try:
        report = verify.check_bytes(data, path="fuzz.eml", keys=store, now=1_700_000_000)
    except InputError as exc:
        assert "\n" not in str(exc), "an input error must be one line"
        return
    assert report.file.sha256 == hashlib.sha256(data).hexdigest()
    doc = json_render.dumps(report.json())
    json.loads(doc)
    buf = io.StringIO()
    terminal.render(report, Console(file=buf, width=100, color_system=None, force_terminal=False, highlight=False, emoji=False))
    shown = buf.getvalue()
    shown.encode("utf-8")  # a lone surrogate would crash the real terminal write
    bad = _LIVE_CONTROL.search(shown)
    assert bad is None, f"live control character {bad.group()!r} in the terminal report"
    page = html_render.to_html([report])
    bad = _LIVE_CONTROL.search(page)
    assert bad is None, f"live control character {bad.group()!r} in the HTML report"
    page.encode("utf-8")
    html_render.to_markdown([report]).encode("utf-8")
    if report.verdict.value == "verified":
        assert any(s.passed for s in report.signatures)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--replay":
        for name in sys.argv[2:]:
            one_input(Path(name).read_bytes())
            print(f"ok {name}")
        return
    if atheris is None:
        sys.exit("atheris is not installed: pip install -e '.[test]'")
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
