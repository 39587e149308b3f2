"""``provenance scan`` end to end: same verdicts as ``check``, outputs, resume, errors, exit codes."""

from __future__ import annotations

import argparse
import csv
import gc
import hashlib
import io
import json
import os
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import verify
from bench import corpus
from tests.helpers import BASE_MESSAGE, SAMPLES, ZONE, sign, store, zone_store
from tests.test_mailbox import make_maildir, mbox_bytes
from verify import scan
from verify.cli import build_parser, main
from verify.evidence import _words
from verify.keys import KeyStore
from verify.keys.zonefile import ZoneFileSource
from verify.model import KeyLookup

OFFLINE = ["--keys", str(ZONE), "--offline"]


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def scan_args(*argv: str) -> argparse.Namespace:
    """The options `provenance scan ARGV` would get (for calling scan.run with a custom store)."""
    return build_parser().parse_args(["scan", *argv])


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


@dataclass
class Corpus:
    mbox: Path
    zone: Path
    built: list[corpus.Built]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """60 messages from bench/corpus.py: every verdict kind, attachments, quoted From lines."""
    d = tmp_path_factory.mktemp("corpus")
    built, keys = corpus.generate(60, seed=3)
    (d / "keys.zone").write_text(corpus.zone_text(keys))
    corpus.write_mbox(d / "leak.mbox", built)
    return Corpus(d / "leak.mbox", d / "keys.zone", built)


def test_samples_folder_same_verdicts_as_check(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    code, stdout, err = run("scan", str(SAMPLES), *OFFLINE, "--jsonl", str(out), "--mime", "-q")
    assert code == 0 and err == ""
    rows = lines(out)
    emls = sorted(SAMPLES.glob("*.eml"))
    assert sorted(Path(str(r["file"]["path"])) for r in rows) == emls  # type: ignore[index]
    for r in rows:
        src = r["source"]
        assert src == {"path": r["file"]["path"], "index": None, "offset": None}  # type: ignore[index]
        expected = verify.check_file(str(src["path"]), keys=zone_store()).json()  # type: ignore[index]
        assert r["verdict"] == expected["verdict"], src
        assert set(r) == set(expected) | {"source"}  # with --mime, every field check --json has
        assert [c["code"] for c in r["caveats"]] == [c["code"] for c in expected["caveats"]]  # type: ignore[union-attr]
    assert "Verdicts" in stdout and f"Scanned {len(emls)} messages" in stdout


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_generated_mbox_same_verdicts_as_check(generated: Corpus, tmp_path: Path, jobs: str) -> None:
    out = tmp_path / "out.jsonl"
    code, _, _ = run("scan", str(generated.mbox), "--keys", str(generated.zone), "--offline", "--jobs", jobs, "--jsonl", str(out), "-q")
    assert code == 0
    rows = lines(out)
    assert [r["source"]["index"] for r in rows] == list(range(len(generated.built)))  # type: ignore[index]
    keys = KeyStore(files=[ZoneFileSource(generated.zone)])
    raw = generated.mbox.read_bytes()
    kinds = {"verified": "verified", "tampered": "failed", "unsigned": "unsigned", "unaligned": "weak", "missing-key": "unverifiable"}
    for r, b in zip(rows, generated.built, strict=True):
        alone = verify.check_bytes(b.data, keys=keys)
        assert r["verdict"] == alone.verdict.value == kinds[b.kind], r["source"]
        offset = r["source"]["offset"]  # type: ignore[index]
        assert raw[offset : offset + 5] == b"From "
        codes = [c["code"] for c in r["caveats"]]  # type: ignore[union-attr]
        assert ("mbox-from-unquoted" in codes) == b.has_from_line
    assert sum(b.has_from_line for b in generated.built) >= 2
    assert {b.kind for b in generated.built} == set(kinds)


def test_mbox_from_unquoted_and_left_quoted(tmp_path: Path) -> None:
    body = b"Numbers below.\r\n\r\nFrom the desk of Alice: 40,000\r\n>From an old thread: 12\r\n"
    quoted_at_signing = BASE_MESSAGE.split(b"\r\n\r\n")[0] + b"\r\n\r\n" + body
    signed = sign(quoted_at_signing)
    box = tmp_path / "leak.mbox"
    # mboxrd writer: both lines get one more '>'; un-quoting restores the signed bytes.
    box.write_bytes(mbox_bytes(signed))
    # An mboxo writer quoted "From " but left ">From " alone; the signer saw ">From an old".
    mboxo = signed.replace(b"\r\nFrom the desk", b"\r\n>From the desk")
    signed_quoted = sign(BASE_MESSAGE.split(b"\r\n\r\n")[0] + b"\r\n\r\n" + b">From the desk: 1\r\n")
    with open(box, "ab") as fh:
        fh.write(b"From x Tue Feb 10 10:00:00 2009\r\n" + signed_quoted + b"\r\n")
        fh.write(b"From x Tue Feb 10 10:00:00 2009\r\n" + mboxo + b"\r\n")
    args = scan_args(str(box), "--jobs", "1", "--jsonl", str(tmp_path / "o.jsonl"), "-q")
    code = scan.run(args, store(), store, io.StringIO(), io.StringIO())
    assert code == 0
    first, second, third = lines(tmp_path / "o.jsonl")
    assert first["verdict"] == "verified"
    assert [c["code"] for c in first["caveats"]] == ["mbox-from-unquoted"]  # type: ignore[union-attr]
    assert "2 lines" in first["caveats"][0]["message"]  # type: ignore[index]
    assert first["repairs"][0]["code"] == "mbox-from-unquoted"  # type: ignore[index]
    # file describes the bytes as stored in the mbox, not the un-quoted copy.
    as_stored = mbox_bytes(signed).split(b"\r\n", 1)[1][:-2]
    assert b"\r\n>>From an old thread" in as_stored
    assert first["file"] == {"path": str(box), "size": len(as_stored), "sha256": hashlib.sha256(as_stored).hexdigest()}
    # Signed with ">From" in the body: un-quoting breaks it, the stored bytes pass.
    assert second["verdict"] == "verified"
    assert [c["code"] for c in second["caveats"]] == ["mbox-from-left-quoted"]  # type: ignore[union-attr]
    # Neither form passes: the un-quoted result stands, and says it was un-quoted.
    assert third["verdict"] == "failed"
    assert "mbox-from-unquoted" in [c["code"] for c in third["caveats"]]  # type: ignore[union-attr]


def test_maildir(tmp_path: Path) -> None:
    good = (SAMPLES / "verified_rsa_sha256.eml").read_bytes()
    bad = (SAMPLES / "body_tampered.eml").read_bytes()
    md = make_maildir(tmp_path / "Maildir", {"cur/2.b:2,S": bad, "cur/1.a:2,S": good, "new/3.c": good})
    out = tmp_path / "o.jsonl"
    assert run("scan", str(md), *OFFLINE, "--jsonl", str(out), "-q", "--jobs", "2")[0] == 0
    rows = lines(out)
    assert [(Path(r["source"]["path"]).name, r["source"]["index"], r["source"]["offset"], r["verdict"]) for r in rows] == [  # type: ignore[index]
        ("3.c", 0, None, "verified"),
        ("1.a:2,S", 1, None, "verified"),
        ("2.b:2,S", 2, None, "failed"),
    ]


def broken_folder(tmp_path: Path) -> Path:
    d = tmp_path / "leak"
    d.mkdir()
    good = (SAMPLES / "verified_rsa_sha256.eml").read_bytes()
    (d / "01_good.eml").write_bytes(good)
    (d / "02_truncated.eml").write_bytes(good[: good.index(b"DKIM-Signature") + 6])  # cut inside a field name
    (d / "03_binary.eml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (d / "04_outlook.msg").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64)
    (d / "05_empty.eml").write_bytes(b"")
    (d / "06_good.eml").write_bytes(good)
    return d


def test_error_rows_in_a_folder_scan_goes_on(tmp_path: Path) -> None:
    out, table = tmp_path / "o.jsonl", tmp_path / "o.csv"
    code, stdout, err = run("scan", str(broken_folder(tmp_path)), *OFFLINE, "--jsonl", str(out), "--csv", str(table), "-q")
    assert code == 0 and err == ""
    rows = lines(out)
    assert [r["verdict"] for r in rows] == ["verified", "error", "error", "error", "error", "verified"]
    errors = [str(r["error"]) for r in rows if r["verdict"] == "error"]
    assert "malformed header section" in errors[0]
    assert "not an email" in errors[1]
    assert "Outlook" in errors[2] and "export the original" in errors[2]
    assert "empty" in errors[3]
    assert rows[1]["file"]["sha256"] and rows[1]["source"]["index"] is None  # type: ignore[index]
    assert "Errors" in stdout and "To follow up" in stdout and "04_outlook.msg" in stdout
    with open(table, newline="") as fh:
        recs = list(csv.DictReader(fh))
    assert [r["verdict"] for r in recs] == [r["verdict"] for r in rows]
    assert "Outlook" in recs[3]["error"]


def test_error_rows_inside_an_mbox(tmp_path: Path) -> None:
    good = (SAMPLES / "verified_rsa_sha256.eml").read_bytes()
    box = tmp_path / "leak.mbox"
    box.write_bytes(
        mbox_bytes(good)
        + b"From x Thu Jan  1 00:00:00 2009\r\n\x00\x01\x02 binary junk\r\n\r\n"
        + mbox_bytes(good[: good.index(b"Subject") + 4])
        + mbox_bytes(good)
    )
    out = tmp_path / "o.jsonl"
    assert run("scan", str(box), *OFFLINE, "--jsonl", str(out), "-q", "--jobs", "2")[0] == 0
    rows = lines(out)
    assert [(r["source"]["index"], r["verdict"]) for r in rows] == [(0, "verified"), (1, "error"), (2, "error"), (3, "verified")]  # type: ignore[index]
    assert "not an email" in str(rows[1]["error"]) and "malformed header section" in str(rows[2]["error"])
    raw = box.read_bytes()
    assert all(raw[r["source"]["offset"] :].startswith(b"From ") for r in rows)  # type: ignore[index]


def test_resume_skips_what_is_done_and_repairs_a_torn_line(generated: Corpus, tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    base = ["scan", str(generated.mbox), "--keys", str(generated.zone), "--offline", "-q"]
    assert run(*base, "--jsonl", str(out))[0] == 0
    full = out.read_text().splitlines(keepends=True)
    n = len(full)
    # The scan "died" after 25 messages, in the middle of writing the 26th.
    out.write_text("".join(full[:25]) + full[25][:100])
    code, stdout, _ = run(*base, "--resume", str(out))
    assert code == 0
    assert f"Scanned {n - 25} messages" in stdout and "25 more taken from the --resume file" in stdout
    assert "cut off" in stdout
    again = lines(out)
    assert [r["source"]["index"] for r in again] == list(range(n))  # type: ignore[index]
    assert [r["verdict"] for r in again] == [json.loads(x)["verdict"] for x in full]
    # Nothing left to do: nothing is checked, the summary still covers the whole corpus.
    code, stdout, _ = run(*base, "--resume", str(out))
    assert code == 0 and "Scanned 0 messages" in stdout and f"{n} more taken" in stdout
    assert len(lines(out)) == n


def test_resume_file_that_is_not_a_scan_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.jsonl"
    bad.write_text('{"verdict": "verified"}\n')
    code, _, err = run("scan", str(SAMPLES), *OFFLINE, "--resume", str(bad), "-q")
    assert code == 2 and "source" in err and len(err.strip().splitlines()) == 1


def test_jsonl_and_csv_contract(tmp_path: Path) -> None:
    msg = BASE_MESSAGE.replace(b"Subject: Quarterly numbers", b'Subject: =HYPERLINK("http://evil.example","click")')
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "formula.eml").write_bytes(sign(msg, headers=("from", "to", "date", "message-id")))
    out, table = tmp_path / "o.jsonl", tmp_path / "o.csv"
    args = scan_args(str(folder), "--jobs", "1", "--jsonl", str(out), "--csv", str(table), "-q")
    assert scan.run(args, store(), store, io.StringIO(), io.StringIO()) == 0
    (row,) = lines(out)
    for key in (
        "schema_version",
        "tool",
        "file",
        "verdict",
        "summary",
        "message",
        "reference_time",
        "repairs",
        "caveats",
        "signatures",
        "keys",
    ):
        assert key in row
    assert set(row["file"]) >= {"path", "size", "sha256"}  # type: ignore[arg-type]
    assert row["source"] == {"path": str(folder / "formula.eml"), "index": None, "offset": None}
    with open(table, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        (rec,) = list(reader)
    assert tuple(header) == scan.CSV_FIELDS
    rec_d = dict(zip(header, rec, strict=True))
    assert rec_d["verdict"] == row["verdict"] == "verified"
    assert rec_d["subject"].startswith("'=HYPERLINK")  # a spreadsheet shows it, never runs it
    assert rec_d["signing_domains"] == "sender.example" and rec_d["key_bits"] == "2048"
    assert rec_d["year"] == "2009" and rec_d["index"] == "" and rec_d["sha256"] == row["file"]["sha256"]  # type: ignore[index]


def test_quiet_silences_progress() -> None:
    code, _, err = run("scan", str(SAMPLES), *OFFLINE)
    assert code == 0 and "scanning" in err and "messages" in err
    code, _, err = run("scan", str(SAMPLES), *OFFLINE, "-q")
    assert code == 0 and err == ""


def test_exit_codes(tmp_path: Path) -> None:
    assert run("scan", str(SAMPLES / "body_tampered.eml"), *OFFLINE, "-q")[0] == 0  # ran; the verdict is in the table
    code, _, err = run("scan", str(tmp_path / "missing.mbox"), *OFFLINE, "-q")
    assert code == 2 and "missing.mbox" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert run("scan", str(SAMPLES), *OFFLINE, "--jobs", "0")[0] == 2
    assert run("scan", *OFFLINE)[0] == 2
    code, _, err = run("scan", str(SAMPLES), *OFFLINE, "--jsonl", str(tmp_path / "no" / "dir" / "o.jsonl"), "-q")
    assert code == 2 and "o.jsonl" in err


class CountingSource:
    """Answers from a zone file and appends each name asked to a file (works across processes)."""

    def __init__(self, zone: Path, log: Path) -> None:
        self.inner = ZoneFileSource(zone)
        self.log = log

    def lookup(self, name: str) -> KeyLookup | None:
        fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, (name + "\n").encode())
        finally:
            os.close(fd)
        return self.inner.lookup(name)


def test_one_key_lookup_per_selector_across_workers(generated: Corpus, tmp_path: Path) -> None:
    log = tmp_path / "asked.txt"

    def make() -> KeyStore:
        return KeyStore(files=[CountingSource(generated.zone, log)])

    args = scan_args(str(generated.mbox), "--jobs", "2", "-q")
    assert scan.run(args, make(), make, io.StringIO(), io.StringIO()) == 0
    asked = log.read_text().split()
    assert len(asked) == len(set(asked)) >= 5  # every selector once, never once per message or per worker
    used = {f"{s}._domainkey.{d}" for s, d in _selectors(generated)}
    assert set(asked) == used


def _selectors(c: Corpus) -> Iterator[tuple[str, str]]:
    for b in c.built:
        for name in scan.key_names(b.data):
            sel, _, dom = name.partition("._domainkey.")
            yield sel, dom


def test_key_names_reads_d_and_s_like_the_engine() -> None:
    signed = sign(BASE_MESSAGE, domain="Sender.Example", selector="S1")
    assert scan.key_names(signed) == {"s1._domainkey.sender.example"}
    assert scan.key_names(BASE_MESSAGE) == set()


@pytest.mark.parametrize(
    "value",
    ["plain", "Grüße", "\u202eevil\u202c", "\x1b[31mred\x7f", "emoji \U0001f600", "\udce9 lone surrogate", 2**70, ["x", None, True, 1.5]],
)
def test_json_line_is_json_dumps_ensure_ascii(value: object) -> None:
    d = {"subject": value, "n": 1}
    line = scan.json_line(d)
    assert line.isascii() and b"\n" not in line and b"\x1b" not in line and b"\x7f" not in line
    assert line == json.dumps(d, ensure_ascii=True, separators=(",", ":")).encode()


def test_rerun_commands_and_recorded_keys_replay(generated: Corpus, tmp_path: Path) -> None:
    out, rec = tmp_path / "o.jsonl", tmp_path / "answers.zone"
    code, _, _ = run(
        "scan",
        str(generated.mbox),
        "--keys",
        str(generated.zone),
        "--offline",
        "--jobs",
        "2",
        "--jsonl",
        str(out),
        "--record-keys",
        str(rec),
        "-q",
    )
    assert code == 0
    rows = lines(out)
    ev = rows[3]["evidence"]
    assert ev["rerun"].startswith(f"provenance scan --offline --keys {rec}") and ev["rerun"].endswith("# message #3 of the mbox")  # type: ignore[index]
    assert ev["reproducible_offline"] is True  # type: ignore[index]
    # The recorded answers alone reproduce every verdict, offline.
    again = tmp_path / "again.jsonl"
    assert run("scan", str(generated.mbox), "--keys", str(rec), "--offline", "--jsonl", str(again), "-q")[0] == 0
    assert [r["verdict"] for r in lines(again)] == [r["verdict"] for r in rows]
    code, _, _ = run("scan", str(SAMPLES / "verified_ed25519.eml"), *OFFLINE, "--jsonl", str(out), "-q")
    (one,) = lines(out)
    assert one["evidence"]["rerun"] == f"provenance check --offline --keys {ZONE} {SAMPLES / 'verified_ed25519.eml'}"  # type: ignore[index]


@settings(max_examples=1500)
@given(st.text(alphabet=list("ab -#$&|;<>()*?=./'\"\\\t\n\r\x0b\x1c\xa0"), max_size=20))
def test_rerun_words_split_like_the_shell(command: str) -> None:
    """evidence._words is shlex.split's fast path (a scan parses one rerun command a message)."""
    try:
        expected = shlex.split(command)
    except ValueError:  # unbalanced quotes: shlex refuses, and so must the fast path
        with pytest.raises(ValueError):
            _words(command)
        return
    assert _words(command) == expected


def test_live_dns_scan_matches_check(knot_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Keys from a real DNS server (Knot), looked up once in the parent for both workers."""
    srv = knot_server({z: [] for z in ("avlab.example", "bulkmailer.example", "lists.example")}, records_file=str(ZONE))
    resolver = f"{srv.address}:{srv.port}"
    out, rec = tmp_path / "o.jsonl", tmp_path / "answers.zone"
    code, _, err = run(
        "scan", str(SAMPLES), "--resolver", resolver, "--timeout", "3", "--jobs", "2", "--jsonl", str(out), "--record-keys", str(rec), "-q"
    )
    assert code == 0 and err == ""
    for r in lines(out):
        cout = io.StringIO()
        main(["check", str(r["file"]["path"]), "--resolver", resolver, "--timeout", "3", "--json"], stdout=cout, stderr=io.StringIO())  # type: ignore[index]
        assert r["verdict"] == json.loads(cout.getvalue())["verdict"], r["file"]
        assert all(k["source"] == "dns" and k["origin"] == resolver for k in r["keys"] if k["source"] == "dns")  # type: ignore[union-attr]
    recorded = [
        line.split(":")[0] for line in rec.read_text().splitlines() if line.startswith("; ") and "._domainkey." in line.split(":")[0]
    ]
    assert recorded and len(recorded) == len(set(recorded))  # each selector asked (and recorded) once


def test_resume_maildir_after_new_mail_arrived(tmp_path: Path) -> None:
    good = (SAMPLES / "verified_rsa_sha256.eml").read_bytes()
    md = make_maildir(tmp_path / "Maildir", {"cur/2.b:2,S": good, "cur/3.c:2,S": good})
    out = tmp_path / "o.jsonl"
    assert run("scan", str(md), *OFFLINE, "--jsonl", str(out), "-q")[0] == 0
    (md / "new" / "1.a").write_bytes(good)  # sorts first: every index moves
    code, stdout, _ = run("scan", str(md), *OFFLINE, "--resume", str(out), "-q")
    assert code == 0 and "Scanned 1 message in" in stdout
    assert sorted(Path(str(r["source"]["path"])).name for r in lines(out)) == ["1.a", "2.b:2,S", "3.c:2,S"]  # type: ignore[index]


def test_mime_is_opt_in_for_scans(tmp_path: Path) -> None:
    """The MIME parse costs about as much as the rest of a check, so a scan asks for it."""
    out = tmp_path / "o.jsonl"
    assert run("scan", str(SAMPLES / "verified_rsa_sha256.eml"), *OFFLINE, "--jsonl", str(out), "-q")[0] == 0
    (plain,) = lines(out)
    assert "mime" not in plain
    assert run("scan", str(SAMPLES / "verified_rsa_sha256.eml"), *OFFLINE, "--jsonl", str(out), "--mime", "-q")[0] == 0
    (full,) = lines(out)
    assert full["mime"] == verify.check_file(SAMPLES / "verified_rsa_sha256.eml", keys=zone_store()).json()["mime"]


def test_scan_puts_garbage_collection_back(generated: Corpus, tmp_path: Path) -> None:
    """A scan freezes long-lived objects and collects less often while it runs (scan._scan_gc);
    a library caller's interpreter gets its own settings back afterwards, even on an error."""
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    code, _, _ = run(
        "scan", str(generated.mbox), "--keys", str(generated.zone), "--offline", "--jobs", "1", "--jsonl", str(tmp_path / "o.jsonl"), "-q"
    )
    assert code == 0
    assert gc.get_threshold() == before and gc.get_freeze_count() == frozen
    assert run("scan", str(generated.mbox), "--offline", "--jsonl", str(tmp_path / "missing" / "o.jsonl"), "-q")[0] == 2
    assert gc.get_threshold() == before and gc.get_freeze_count() == frozen


def test_batches_keep_order_and_shrink_towards_the_end(generated: Corpus) -> None:
    """Several workers get smaller batches as the scan nears its end (no long tail on one
    worker); every message is in exactly one batch, in input order."""
    plan = verify.mailbox.plan([str(generated.mbox)])
    items = list(verify.mailbox.iter_messages(plan, mbox_data=False))
    one = list(scan._batches(iter(items), set(), lambda it: None, plan.total_bytes, 1))
    two = list(scan._batches(iter(items), set(), lambda it: None, plan.total_bytes, 2))
    for batches in (one, two):
        assert [it.source.index for b in batches for it in b] == [it.source.index for it in items]
        assert all(len(b) <= scan.BATCH_MESSAGES for b in batches)
    if len(items) > 4 * 16:
        assert len(two[-2]) < len(two[0]) or len(two[0]) < scan.BATCH_MESSAGES
