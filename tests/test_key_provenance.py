"""Key provenance offline: archives, several candidates, recorded evidence, revealed and
reconstructed keys. (DNSSEC and real-DNS rotation: test_dnssec.py, test_live_dns.py.)"""

from __future__ import annotations

import hashlib
import io
import json
import shlex
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from rich.console import Console

import verify
from tests.helpers import RECEIVED, SAMPLES, ZONE, record, sign, zone_store
from verify.cli import main
from verify.errors import UsageError
from verify.key_caveats import WINDOW_SLACK
from verify.keys import KeyStore
from verify.keys.archive import ArchiveSource
from verify.keys.files import open_key_file
from verify.keys.recorded import RecordedSource, answer_block, to_master_text
from verify.keys.revealed import load_revealed
from verify.keys.static import StaticSource
from verify.keys.zonefile import ZoneFileSource
from verify.model import KeyLookup
from verify.render import terminal

ARCHIVE = SAMPLES / "archive.json"
GONE = "gone2009._domainkey.avlab.example"
NAME = "s1._domainkey.sender.example"
EVERY_SAMPLE = sorted(SAMPLES.glob("*.eml"))


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def codes(r: verify.Report) -> set[str]:
    return {c.code for c in r.caveats}


def archive_file(tmp_path: Path, name: str, entries: list[dict[str, object]]) -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(entries))
    return p


def entry(value: str, first: str | None, last: str | None, selector: str = "s1", domain: str = "sender.example") -> dict[str, object]:
    return {"domain": domain, "selector": selector, "value": value, "firstSeenAt": first, "lastSeenAt": last}


# -- archives -------------------------------------------------------------------


def test_key_files_are_told_apart_by_content(tmp_path: Path) -> None:
    assert isinstance(open_key_file(ARCHIVE), ArchiveSource)
    assert isinstance(open_key_file(ZONE), ZoneFileSource)
    rec = tmp_path / "keys.json.txt"  # the name says nothing; the content does
    rec.write_text(to_master_text([KeyLookup(NAME, "dns", "192.0.2.53", "2026-01-01T00:00:00Z", "nxdomain")]))
    assert isinstance(open_key_file(rec), RecordedSource)


def test_archive_records_keep_their_window() -> None:
    src = ArchiveSource(ARCHIVE)
    (lk,) = src.lookup_all(GONE.upper() + ".")
    assert (lk.source, lk.origin, lk.status) == ("archive", str(ARCHIVE), "found")
    assert (lk.first_seen, lk.last_seen) == ("2009-06-02T14:05:51Z", "2009-12-21T08:17:26Z")
    assert lk.txt[0].startswith("v=DKIM1; k=rsa; p=MIIB")


def test_archive_time_formats_and_several_keys_per_selector(tmp_path: Path) -> None:
    f = archive_file(
        tmp_path,
        "a.json",
        [entry(record(bits=1024), "2012-01-13T00:00:00.000Z", None), entry(record(), "2013-05-01T10:00:00+02:00", "2014-01-01")],
    )
    a, b = ArchiveSource(f).lookup_all(NAME)
    assert (a.first_seen, a.last_seen) == ("2012-01-13T00:00:00Z", None)
    assert (b.first_seen, b.last_seen) == ("2013-05-01T08:00:00Z", "2014-01-01T00:00:00Z")


@pytest.mark.parametrize(
    "content, message",
    [
        ("[1, 2]", "record 1: expected an object"),
        ('[{"domain": "x.example", "selector": "s"}]', "missing or non-text 'value'"),
        ('[{"domain": "x.example", "selector": "s", "value": "v=DKIM1; p=", "firstSeenAt": "last year"}]', "not an ISO 8601"),
        ('{"domain": ', "not valid JSON"),
        ('"just a string"', "must be a JSON list"),
    ],
)
def test_bad_archive_is_one_line_naming_the_file(tmp_path: Path, content: str, message: str) -> None:
    f = tmp_path / "bad.json"
    f.write_text(content)
    with pytest.raises(UsageError, match=message):
        ArchiveSource(f)
    code, _, err = run("check", str(SAMPLES / "missing_key.eml"), "--keys", str(f), "--offline")
    assert code == 2 and str(f) in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_archived_key_verifies_mail_whose_key_left_dns() -> None:
    code, out, _ = run("check", str(SAMPLES / "missing_key.eml"), "--keys", str(ZONE), "--keys", str(ARCHIVE), "--offline", "--json")
    r = json.loads(out)
    assert code == 0 and r["verdict"] == "verified", r["summary"]
    (s,) = r["signatures"]
    assert s["key_source"] == "archive" and s["key_origin"] == str(ARCHIVE)
    (k,) = r["keys"]
    assert (k["source"], k["first_seen"], k["last_seen"]) == ("archive", "2009-06-02T14:05:51Z", "2009-12-21T08:17:26Z")
    assert "outside-key-window" not in {c["code"] for c in r["caveats"]}


@pytest.mark.parametrize(
    "first_offset, last_offset, outside",
    [
        (-86400, 86400, False),  # the window holds the message
        (WINDOW_SLACK - 3600, 30 * 86400, False),  # first seen just within the slack after the message
        (WINDOW_SLACK + 3600, 30 * 86400, True),  # first seen more than a week after
        (-400 * 86400, -(WINDOW_SLACK + 3600), True),  # last seen more than a week before
    ],
)
def test_outside_key_window(tmp_path: Path, first_offset: int, last_offset: int, outside: bool) -> None:
    from verify.render.json import iso

    msg = RECEIVED + sign()
    ref = verify.check_bytes(msg, keys=KeyStore(files=[StaticSource({NAME: record()})])).reference_time
    assert ref is not None
    f = archive_file(tmp_path, "w.json", [entry(record(), iso(ref + first_offset), iso(ref + last_offset))])
    r = verify.check_bytes(msg, keys=KeyStore(files=[ArchiveSource(f)]))
    assert ("outside-key-window" in codes(r)) is outside
    # a window says when the archive looked, not when the key was valid: never blocking
    assert r.verdict.value == "verified"
    if outside:
        (c,) = [c for c in r.caveats if c.code == "outside-key-window"]
        assert str(f) in c.message and "days" in c.message


# -- several candidates: agreement, rotation, disagreement ----------------------------


def dns_answer(value: str) -> StaticSource:
    """An answer labelled as from DNS (a recorded one); real DNS is in test_live_dns.py."""
    return StaticSource({NAME: value}, origin="192.0.2.53", source="dns")


@pytest.mark.parametrize(
    "dns_value, words",
    [(record(bits=1024), "holds a different key"), ("nxdomain", "no longer exists"), ("v=DKIM1; k=rsa; p=", "revoked")],
)
def test_rotation_story(tmp_path: Path, dns_value: str, words: str) -> None:
    archive = archive_file(tmp_path, "arch.json", [entry(record(), "2009-01-01T00:00:00Z", "2009-12-31T00:00:00Z")])
    r = verify.check_bytes(RECEIVED + sign(), keys=KeyStore(files=[ArchiveSource(archive), dns_answer(dns_value)]))
    assert r.verdict.value == "verified"
    (rot,) = [c for c in r.caveats if c.code == "key-rotated"]
    assert words in rot.message and str(archive) in rot.message and "rotated" in rot.message
    assert "key-sources-disagree" not in codes(r)  # the rotation explains the difference
    (s,) = r.signatures
    assert s.key is not None and s.key.lookup.source == "archive"
    outcomes = {t.lookup.source: t.outcome for t in s.key_trials}
    assert outcomes["archive"] == "pass" and outcomes["dns"] in ("fail", "nxdomain", "key-revoked")


def test_same_key_from_several_sources_agrees_and_names_the_strongest() -> None:
    keys = KeyStore(files=[StaticSource({NAME: record()}, origin="mine.zone"), dns_answer(record())])
    r = verify.check_bytes(RECEIVED + sign(), keys=keys)
    (s,) = r.signatures
    assert r.verdict.value == "verified" and s.key is not None and s.key.lookup.source == "dns"
    assert [t.outcome for t in s.key_trials] == ["pass", "pass"]
    d = r.json()["signatures"][0]
    assert d["key_sources_agree"] is True and [t["source"] for t in d["key_trials"]] == ["file", "dns"]
    assert not codes(r) & {"key-rotated", "key-sources-disagree", "multiple-key-records"}


def test_sources_that_disagree_are_named() -> None:
    keys = KeyStore(files=[StaticSource({NAME: record()}, origin="a.zone"), StaticSource({NAME: record(bits=1024)}, origin="b.zone")])
    r = verify.check_bytes(RECEIVED + sign(), keys=keys)
    (c,) = [c for c in r.caveats if c.code == "key-sources-disagree"]
    assert "a.zone" in c.message and "b.zone" in c.message and "does not verify" in c.message
    assert r.json()["signatures"][0]["key_sources_agree"] is False
    assert r.verdict.value == "verified"


# -- revealed keys ----------------------------------------------------------------


@pytest.mark.parametrize("sample, pem", [("verified_rsa_sha256.eml", "avlab-2009a.pem"), ("verified_ed25519.eml", "avlab-ed2019.pem")])
def test_revealed_private_key_is_never_verified(sample: str, pem: str) -> None:
    code, out, _ = run(
        "check", str(SAMPLES / sample), "--keys", str(ZONE), "--offline", "--revealed", str(SAMPLES / "keys" / pem), "--json"
    )
    r = json.loads(out)
    assert code == 1 and r["verdict"] == "weak"
    assert "key-revealed" in {c["code"] for c in r["caveats"]} and "key-revealed" in r["summary"]
    assert "--revealed" in r["evidence"]["rerun"]  # the re-run reaches the same verdict


def test_revealed_fingerprints_match_the_report(tmp_path: Path) -> None:
    r = verify.check_file(SAMPLES / "verified_rsa_sha256.eml", keys=zone_store())
    fp = r.signatures[0].key.fingerprint  # type: ignore[union-attr]
    f = tmp_path / "revealed.txt"
    f.write_text(f"# published by AV Lab in 2012\nsha256:{fp.upper()}\n\n{'ab' * 32}  # another one\n")
    assert fp in load_revealed(f)
    store = KeyStore(files=[ZoneFileSource(ZONE)], revealed=load_revealed(f))
    assert verify.check_file(SAMPLES / "verified_rsa_sha256.eml", keys=store).verdict.value == "weak"
    # a key not on the list is untouched
    assert verify.check_file(SAMPLES / "verified_ed25519.eml", keys=store).verdict.value == "verified"


def test_revealed_pem_and_raw_fingerprint_agree() -> None:
    pem = (SAMPLES / "keys" / "avlab-2009a.pem").read_bytes()
    pub = serialization.load_pem_private_key(pem, None).public_key()
    spki = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert load_revealed(SAMPLES / "keys" / "avlab-2009a.pem") == {hashlib.sha256(spki).hexdigest()}


def test_bad_revealed_file_is_a_usage_error(tmp_path: Path) -> None:
    f = tmp_path / "rev.txt"
    f.write_text("not a key\n")
    code, _, err = run("check", str(SAMPLES / "unsigned.eml"), "--offline", "--revealed", str(f))
    assert code == 2 and "rev.txt, line 1" in err


# -- reconstructed keys -------------------------------------------------------------


def reconstructed(value: str) -> KeyLookup:
    return KeyLookup(NAME, "reconstructed", "gcd of 2 signatures: a.eml, b.eml", "2026-01-01T00:00:00Z", "found", (value,))


def test_reconstructed_key_is_at_best_weak(tmp_path: Path) -> None:
    f = tmp_path / "recovered.zone"
    f.write_text(answer_block(reconstructed(record())))
    r = verify.check_bytes(RECEIVED + sign(), keys=KeyStore(files=[open_key_file(f)]))
    assert r.verdict.value == "weak" and "key-reconstructed" in codes(r)
    assert r.keys[0].source == "reconstructed" and r.keys[0].recorded_in == str(f)


@pytest.mark.parametrize("corroboration, verdict", [("archive", "verified"), ("dns", "verified"), ("file", "weak")])
def test_reconstructed_key_corroborated_by_dns_or_archive(tmp_path: Path, corroboration: str, verdict: str) -> None:
    other = StaticSource({NAME: record()}, origin="elsewhere", source=corroboration)
    r = verify.check_bytes(RECEIVED + sign(), keys=KeyStore(files=[StaticSource({NAME: record()}, source="reconstructed"), other]))
    assert r.verdict.value == verdict
    assert ("key-reconstructed" in codes(r)) is (verdict == "weak")


# -- recorded evidence: record, then replay offline --------------------------------------


def verdicts(items: list[dict[str, object]]) -> list[tuple[object, ...]]:
    """What must not change on replay: verdict, caveat codes, and each signature's result and reason."""
    out = []
    for r in items:
        sigs = tuple((s["result"], s["reason"], s["key_fingerprint"]) for s in r["signatures"])  # type: ignore[index, union-attr]
        out.append((r["file"]["path"], r["verdict"], tuple(sorted(c["code"] for c in r["caveats"])), sigs))  # type: ignore[index, union-attr]
    return out


def test_record_then_replay_gives_identical_verdicts_on_every_sample(tmp_path: Path) -> None:
    rec = tmp_path / "evidence.zone"
    files = [str(p) for p in EVERY_SAMPLE]
    _, out1, _ = run("check", *files, "--keys", str(ZONE), "--keys", str(ARCHIVE), "--offline", "--record-keys", str(rec), "--json")
    _, out2, _ = run("check", *files, "--keys", str(rec), "--offline", "--json")
    first, replay = json.loads(out1), json.loads(out2)
    assert len(first) == len(EVERY_SAMPLE) >= 14
    assert verdicts(replay) == verdicts(first)
    # every answer keeps its provenance: source, origin, time, window; and says where it was replayed from
    for a, b in zip(first, replay, strict=True):
        for ka, kb in zip(a["keys"], b["keys"], strict=True):
            assert {
                k: ka[k] for k in ("name", "source", "origin", "retrieved_at", "status", "dnssec", "txt", "first_seen", "last_seen")
            } == {k: kb[k] for k in ("name", "source", "origin", "retrieved_at", "status", "dnssec", "txt", "first_seen", "last_seen")}
            assert ka["recorded_in"] is None and kb["recorded_in"] == str(rec)
    text = rec.read_text()
    assert "; provenance-key:" in text and "Replay offline with: provenance check --offline --keys" in text


@pytest.mark.parametrize(
    "status, result, reason",
    [
        ("nxdomain", "permerror", "key-not-found"),
        ("no-txt", "permerror", "key-not-found"),
        ("servfail", "temperror", "dns-error"),
        ("timeout", "temperror", "dns-error"),
        ("error", "temperror", "dns-error"),
    ],
)
def test_failed_lookups_replay_as_the_same_failure(tmp_path: Path, status: str, result: str, reason: str) -> None:
    msg = tmp_path / "m.eml"
    msg.write_bytes(RECEIVED + sign())
    failing = StaticSource({NAME: status}, origin="192.0.2.53", source="dns")
    first = verify.check_file(msg, keys=KeyStore(files=[failing]))
    rec = tmp_path / "rec.zone"
    rec.write_text(to_master_text(first.keys))
    replay = verify.check_file(msg, keys=KeyStore(files=[open_key_file(rec)]))
    for r in (first, replay):
        (s,) = r.signatures
        assert (s.result.value, s.reason.value if s.reason else None) == (result, reason)
    assert replay.keys[0].status == status and replay.keys[0].source == "dns" and replay.summary == first.summary


def test_bogus_dnssec_answer_is_recorded_as_bogus_and_never_used(tmp_path: Path) -> None:
    bogus = KeyLookup(NAME, "dns", "192.0.2.53", "2026-01-01T00:00:00Z", "found", (record(),), dnssec="bogus", dnssec_detail="bad RRSIG")
    rec = tmp_path / "rec.zone"
    rec.write_text(to_master_text([bogus]))
    r = verify.check_bytes(RECEIVED + sign(), keys=KeyStore(files=[open_key_file(rec)]))
    (s,) = r.signatures
    assert (s.result.value, s.reason.value if s.reason else None) == ("temperror", "dns-error")
    assert "dnssec-bogus" in codes(r) and r.verdict.value == "unverifiable"
    assert [t.outcome for t in s.key_trials] == ["dnssec-bogus"]


def test_recorded_file_errors_name_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "rec.zone"
    f.write_text(
        '; provenance-key: {"name": "x._domainkey.a.example", "source": "carrier pigeon", "origin": "o", "retrieved_at": "t", "status": "found"}\n'
    )
    with pytest.raises(UsageError, match=r"rec.zone, line 1: source 'carrier pigeon'"):
        open_key_file(f)
    f.write_text(
        '; provenance-key: {"name": "x._domainkey.a.example", "source": "dns", "origin": "o", "retrieved_at": "t", "status": "nxdomain"}\n'
        'x._domainkey.a.example. 60 IN TXT "v=DKIM1; p="\n'
    )
    with pytest.raises(UsageError, match="status nxdomain but 1 TXT"):
        open_key_file(f)


def test_hostile_origin_cannot_break_out_of_its_comment(tmp_path: Path) -> None:
    evil = KeyLookup(NAME, "file", 'x.zone\nx._domainkey.sender.example. 60 IN TXT "v=DKIM1; p="', "t", "found", (record(),))
    f = tmp_path / "rec.zone"
    f.write_text(to_master_text([evil]))
    (lk,) = RecordedSource(f).lookup_all(NAME)
    assert lk.origin == evil.origin and lk.txt == (record(),)


# -- evidence block ---------------------------------------------------------------------


def test_evidence_block_and_its_rerun_command(tmp_path: Path) -> None:
    msg = SAMPLES / "missing_key.eml"
    code, out, _ = run("check", str(msg), "--keys", str(ARCHIVE), "--offline", "--json")
    r = json.loads(out)
    ev = r["evidence"]
    assert set(ev) >= {"tool_version", "dkimpy_version", "sha256", "rerun"}
    assert ev["tool_version"] == verify.__version__ and ev["dkimpy_version"][0].isdigit()
    assert ev["sha256"] == hashlib.sha256(msg.read_bytes()).hexdigest() == r["file"]["sha256"]
    assert ev["rerun"] == f"provenance check --offline --keys {ARCHIVE} {msg}" and ev["reproducible_offline"] is True
    assert "; provenance-key:" in ev["key_records"]
    again = shlex.split(ev["rerun"])
    assert again[0] == "provenance"
    code2, out2, _ = run(*again[1:], "--json")
    assert (code2, json.loads(out2)["verdict"]) == (code, r["verdict"])


def test_rerun_names_the_recording(tmp_path: Path) -> None:
    rec = tmp_path / "rec.zone"
    _, out, _ = run(
        "check", str(SAMPLES / "verified_rsa_sha256.eml"), "--keys", str(ZONE), "--offline", "--record-keys", str(rec), "--json"
    )
    assert json.loads(out)["evidence"]["rerun"] == f"provenance check --offline --keys {rec} {SAMPLES / 'verified_rsa_sha256.eml'}"


def test_dnssec_with_offline_is_a_usage_error() -> None:
    code, _, err = run("check", str(SAMPLES / "unsigned.eml"), "--offline", "--dnssec")
    assert code == 2 and "--dnssec" in err


# -- the Keys section of the report ---------------------------------------------------------


def test_keys_section_names_source_window_fingerprint_and_use(tmp_path: Path) -> None:
    keys = KeyStore(files=[ArchiveSource(ARCHIVE), StaticSource({GONE: "nxdomain"}, origin="192.0.2.53", source="dns")])
    r = verify.check_file(SAMPLES / "missing_key.eml", keys=keys)
    buf = io.StringIO()
    terminal.render(r, Console(file=buf, width=220, color_system=None))
    text = buf.getvalue()
    keys_part = text[text.index("\nKeys") :]
    fp = r.signatures[0].key.fingerprint[:16]  # type: ignore[union-attr]
    assert "archive" in keys_part and "seen 2009-06-02 to 2009-12-21" in keys_part and fp in keys_part
    assert "#1 verified" in keys_part and "nxdomain" in keys_part and "DNSSEC" in keys_part
    assert "key-rotated" in text
