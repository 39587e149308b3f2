"""Hostile input: every case of tests/hostile/make_corpus.py ends as a report or a one-line
error (exit 2), never a traceback, within 10 s and 1 GB, through the real CLI.

The corpus is generated into a temporary folder once per session (the largest case is
50 MB; nothing that size is committed). Each case runs twice: in-process through
``verify.cli.main`` (every output: JSON, terminal, HTML, Markdown), and as a child
``python -m verify`` whose wall time and peak resident memory (``ru_maxrss``) are
measured. ``python tests/hostile/measure.py DIR`` prints the same figures as a table.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

from tests.hostile.make_corpus import Case, build, cases
from tests.hostile.measure import run_cli
from verify.cli import main

SECONDS = 10.0
PEAK_MB = 1024.0
CASES = list(cases())


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Case, Path, Path]]:
    return build(tmp_path_factory.mktemp("hostile"))


def _assert_outcome(case: Case, eml: Path, code: int, out: str, err: str) -> dict | None:  # type: ignore[type-arg]
    """A report (exit 0/1, nothing on stderr) or exactly one error line naming the file (exit 2)."""
    assert "Traceback" not in out + err and "internal error" not in err, err[-2000:]
    assert code in (0, 1, 2), (code, err)
    if "exit" in case.expect:
        assert code == case.expect["exit"], (code, err)
    if code == 2:
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"provenance: error: {eml}: "), err
        if "stderr" in case.expect:
            assert str(case.expect["stderr"]) in lines[0]
        return None
    assert err == "", err
    return json.loads(out) if out.lstrip().startswith("{") else None


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_case_in_process(corpus, case: Case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, eml, zone = corpus[case.name]
    base = ["check", str(eml), "--keys", str(zone), "--offline"]

    start = time.monotonic()
    out, err = io.StringIO(), io.StringIO()
    code = main([*base, "--json"], stdout=out, stderr=err)
    report = _assert_outcome(case, eml, code, out.getvalue(), err.getvalue())
    if code != 2:
        assert report is not None
        sig = report["signatures"][0] if report["signatures"] else None
        if "verdict" in case.expect:
            assert report["verdict"] == case.expect["verdict"], (report["summary"], [c["code"] for c in report["caveats"]], sig)
        if "reason" in case.expect:
            assert sig is not None and sig["reason"] == case.expect["reason"], sig
        if "caveat" in case.expect:
            assert case.expect["caveat"] in {c["code"] for c in report["caveats"]}, report["caveats"][:5]
        if case.expect.get("reason") == "limit-reached" or case.expect.get("caveat") == "limit-reached":
            assert "limit-reached" in {c["code"] for c in report["caveats"]}
    else:
        assert json.loads(out.getvalue())["verdict"] == "error"

    # Every human format, from the same run: terminal (-o), HTML, Markdown.
    out, err = io.StringIO(), io.StringIO()
    files = [tmp_path / "report.txt", tmp_path / "report.html", tmp_path / "report.md"]
    code2 = main([*base, "-o", str(files[0]), "--html", str(files[1]), "--markdown", str(files[2])], stdout=out, stderr=err)
    assert code2 == code
    _assert_outcome(case, eml, code2, out.getvalue(), err.getvalue())
    if code != 2:
        for f in files:
            assert f.stat().st_size > 0
        assert "What this proves" in files[0].read_text(encoding="utf-8")
    assert time.monotonic() - start < 2 * SECONDS


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_case_time_and_memory(corpus, case: Case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The real command, in a child process: under 10 s and 1 GB for every output."""
    _, eml, zone = corpus[case.name]
    base = ["check", str(eml), "--keys", str(zone), "--offline"]
    runs = {
        "json": run_cli([*base, "--json"]),
        "all": run_cli([*base, "-o", str(tmp_path / "r.txt"), "--html", str(tmp_path / "r.html"), "--markdown", str(tmp_path / "r.md")]),
    }
    for what, m in runs.items():
        assert m.seconds < SECONDS, f"{case.name} ({what}): {m.seconds:.1f} s"
        assert m.peak_mb < PEAK_MB, f"{case.name} ({what}): {m.peak_mb:.0f} MB"
        _assert_outcome(case, eml, m.exit, m.stdout, m.stderr)


def test_a_batch_goes_on_past_hostile_files(corpus) -> None:  # type: ignore[no-untyped-def]
    """Bad files are reported one line each; the good ones in the same batch still get reports."""
    names = ["empty", "random_bytes", "invalid_utf8_header", "headers_over_limit", "dkim_t_1e30_signed"]
    files = [str(corpus[n][1]) for n in names]
    out, err = io.StringIO(), io.StringIO()
    code = main(["check", *files, "--keys", str(corpus["dkim_t_1e30_signed"][2]), "--offline", "--json"], stdout=out, stderr=err)
    assert code == 2
    assert len(err.getvalue().splitlines()) == 3
    items = json.loads(out.getvalue())
    assert [i["verdict"] for i in items] == ["error", "error", "verified", "error", "verified"]


def test_t_of_ten_to_the_thirty_renders_everywhere(corpus) -> None:  # type: ignore[no-untyped-def]
    """A signing time past the calendar (year 10^22) must not reach datetime unguarded."""
    _, eml, zone = corpus["dkim_t_1e30_signed"]
    out = io.StringIO()
    assert main(["check", str(eml), "--keys", str(zone), "--offline"], stdout=out, stderr=io.StringIO()) == 0
    assert "out of calendar range" in out.getvalue()
    out = io.StringIO()
    main(["check", str(eml), "--keys", str(zone), "--offline", "--json"], stdout=out, stderr=io.StringIO())
    (s,) = json.loads(out.getvalue())["signatures"]
    assert s["timestamp"] == 10**30 and s["timestamp_iso"] is None


def test_limits_are_named_when_hit(corpus) -> None:  # type: ignore[no-untyped-def]
    from verify import limits

    for name, number in [
        ("dkim_h_over_limit", limits.MAX_SIGNED_HEADERS),
        ("dkim_60_signatures", limits.MAX_SIGNATURES),
        ("key_txt_100kb", limits.MAX_KEY_RECORD_BYTES),
        ("key_rsa_20000_bits", limits.MAX_RSA_BITS),
    ]:
        _, eml, zone = corpus[name]
        out = io.StringIO()
        main(["check", str(eml), "--keys", str(zone), "--offline", "--json"], stdout=out, stderr=io.StringIO())
        report = json.loads(out.getvalue())
        messages = [c["message"] for c in report["caveats"] if c["code"] == "limit-reached"]
        assert messages and str(number) in messages[0].replace(",", ""), (name, messages)


def test_scan_of_the_whole_hostile_corpus(corpus, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The corpus as one leak: a row per file, errors as rows, no worker lost, no traceback."""
    folder = corpus["empty"][1].parent
    out, err = io.StringIO(), io.StringIO()
    start = time.monotonic()
    code = main(
        ["scan", str(folder), "--keys", str(corpus["dkim_t_1e30_signed"][2]), "--offline", "--jobs", "2", "-q"]
        + ["--jsonl", str(tmp_path / "rows.jsonl"), "--mime"],
        stdout=out,
        stderr=err,
    )
    assert code in (0, 1, 2), err.getvalue()[-2000:]
    assert "Traceback" not in err.getvalue() and "internal error" not in err.getvalue(), err.getvalue()[-2000:]
    rows = [json.loads(line) for line in (tmp_path / "rows.jsonl").read_text().splitlines()]
    assert len(rows) == len(list(folder.glob("*.eml")))
    verdicts = {r["verdict"] for r in rows}
    assert "error" in verdicts and "verified" in verdicts, verdicts
    assert time.monotonic() - start < SECONDS * len(rows) / 2


def test_recorded_keys_cannot_be_injected_through_a_key_name(tmp_path: Path) -> None:
    """An ARC s= holding U+2028 once put a line of its choosing into a --record-keys file:
    the replay broke (exit 2), or read a record the key file never held. The replay must
    give the same result as the run that recorded it, from the same records."""
    import dkim

    from tests.helpers import BASE_MESSAGE, RECEIVED, record, rsa_key

    pem, attacker = rsa_key(1024)
    forged = dkim.sign(BASE_MESSAGE, b"s1", b"sender.example", pem, include_headers=[b"from", b"to", b"subject"]) + BASE_MESSAGE
    rec = "k=rsa; p=" + attacker
    esc = '" "'.join(
        "".join(f"\\{ord(c):03d}" if c.isupper() or c in ';"\\' else c for c in rec[i : i + 200]) for i in range(0, len(rec), 200)
    )
    inject = f'x\u2028s1._domainkey.sender.example. 300 IN TXT "{esc}"\u2028'
    msg = tmp_path / "forged.eml"
    msg.write_bytes(f"ARC-Seal: i=1; a=rsa-sha256; cv=none; d=evil.example; s={inject}; t=1; b=AAAA\r\n".encode() + RECEIVED + forged)
    legit = tmp_path / "legit.zone"
    legit.write_text(f's1._domainkey.sender.example. 300 IN TXT "{record()[:200]}" "{record()[200:]}"\n')
    recorded = tmp_path / "recorded.zone"

    def run(*args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
        out, err = io.StringIO(), io.StringIO()
        code = main(["check", str(msg), "--offline", "--json", *args], stdout=out, stderr=err)
        assert err.getvalue() == "", err.getvalue()
        return code, json.loads(out.getvalue())

    code, first = run("--keys", str(legit), "--record-keys", str(recorded))
    text = recorded.read_text(encoding="utf-8")
    assert not any(line.lower().startswith("s1._domainkey.sender.example. 300") for line in text.splitlines())
    code2, replay = run("--keys", str(recorded))
    assert (code2, replay["verdict"]) == (code, first["verdict"]) == (1, "failed")
    key = next(k for k in replay["keys"] if k["name"] == "s1._domainkey.sender.example")
    assert key["txt"] == [record()]
