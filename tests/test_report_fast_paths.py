"""The shortcuts the JSON report and the verdict take for speed give what the general code gives.

Each fast path (issue 5) sits next to the general path it replaces; these tests run both
over many inputs, including the odd ones the shortcut hands back to the general path.
"""

from __future__ import annotations

import itertools
import random
import shlex

import pytest

import verify
from tests.helpers import RECEIVED, sign, store
from verify import evidence
from verify.key_caveats import all_key_caveats, key_caveats, sources_agree, sources_agree_in_full
from verify.keys.recorded import to_master_text
from verify.model import HeaderField, KeyLookup, KeyTrial, KeyUse, Reason, Result, SignatureResult, Verdict
from verify.render import json as json_render
from verify.timefmt import iso, iso_datetime

# -- timefmt.iso ----------------------------------------------------------------


def test_iso_fast_path_matches_datetime_everywhere() -> None:
    rng = random.Random(5)
    edges: list[object] = [0, 1, 59, 60, 3599, 86399, 86400, 951782400, 4107542400, 253402300799, 253402300800]
    edges += [-1, -86400, -(10**12), 10**30, -(10**30), None, True, False, 1.5, 1700000000.0, float("nan")]
    values = edges + [rng.randrange(-(10**12), 3 * 10**11) for _ in range(20000)] + [rng.randrange(0, 253402300800) for _ in range(20000)]
    for t in values:
        assert iso(t) == iso_datetime(t), t  # type: ignore[arg-type]
    assert iso(0) == "1970-01-01T00:00:00Z" and iso(253402300799) == "9999-12-31T23:59:59Z"
    assert iso(253402300800) is None and iso(-1) == "1969-12-31T23:59:59Z"


# -- render/json.py -------------------------------------------------------------


def _message_fields_reference(headers: list[HeaderField]) -> dict[str, object]:
    """The message block as report_to_dict wrote it before the fast path."""
    names = ("from", "sender", "reply-to", "to", "cc", "date", "subject", "message-id")
    found: dict[str, list[str]] = {n: [] for n in names}
    for h in headers:
        values = found.get(h.name.lower())
        if values is not None:
            values.append(h.value)
    return {n.replace("-", "_"): v[0] if len(v) == 1 else (v or None) for n, v in found.items()}


@pytest.mark.parametrize("seed", range(20))
def test_message_fields_match_the_plain_pass(seed: int) -> None:
    rng = random.Random(seed)
    spellings = ["From", "FROM", "from", "To", "CC", "Cc", "Subject", "SUBJECT", "Message-ID", "message-id", "Reply-To", "Date"]
    spellings += ["Received", "X-Other", "From ", "Sender", "Fröm", "DKIM-Signature", f"X-Rand-{seed}"]
    headers = [HeaderField(i, rng.choice(spellings), f"v{i}") for i in range(rng.randrange(0, 30))]
    got = json_render.message_fields(headers)
    want = _message_fields_reference(headers)
    assert got == want and list(got) == list(want)
    # and again, now that every spelling is in the name cache
    assert json_render.message_fields(headers) == want


def test_key_dicts_are_remembered_but_never_shared() -> None:
    msg = RECEIVED + sign()
    keys = store()
    a, b = verify.check_bytes(msg, keys=keys), verify.check_bytes(msg, keys=keys)
    assert a.keys[0] is b.keys[0]  # a scan's reports share their key answers
    first = json_render.lookup_to_dict(a.keys[0])
    assert first == json_render._lookup_to_dict(a.keys[0])
    first["txt"].append("changed")
    first["records"][0]["key_bits"] = -1
    first["name"] = "changed"
    again = json_render.lookup_to_dict(b.keys[0])
    assert again == json_render._lookup_to_dict(b.keys[0])
    assert again["txt"] is not first["txt"] and again["records"] is not first["records"]
    assert again["records"][0] is not first["records"][0]


def test_str_of_each_enum_is_its_value() -> None:
    """report_to_dict writes str(member) for the enum's value (cheaper than .value)."""
    for enum_type in (Verdict, Result, Reason):
        for member in enum_type:
            assert type(str(member)) is str and str(member) == member.value


# -- evidence.py ------------------------------------------------------------------

COMMANDS = [
    "provenance check --offline a.eml",
    "provenance scan --offline --keys k.zone box.mbox  # message #3 of the mbox",
    "provenance check --keys k.zone a.eml",
    "provenance check a.eml --offline",
    "--offline",
    "x--offline y",
    "x --offline-no y",
    "x\t--offline\ty",
    "x\r\n--offline",
    "provenance check '--offline' a.eml",
    'provenance check "--offline" a.eml',
    "provenance check \\--offline a.eml",
    "provenance check a.eml ’--offline’",
    "",
    " ",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_has_offline_is_the_word_test(command: str) -> None:
    assert evidence.has_offline(command) == ("--offline" in shlex.split(command)) == ("--offline" in evidence._words(command))


def test_key_facts_of_one_answer_are_those_of_the_general_path() -> None:
    lookups = [
        KeyLookup("s._domainkey.a.example", "file", "keys.zone", "2026-01-01T00:00:00Z", "found", ("v=DKIM1; p=",)),
        KeyLookup("s._domainkey.a.example", "dns", "192.0.2.53", "2026-01-01T00:00:00Z", "nxdomain"),
        KeyLookup("s._domainkey.a.example", "dns", "192.0.2.53", "2026-01-01T00:00:00Z", "nxdomain", recorded_in="rec.zone"),
        KeyLookup("s._domainkey.a.example", "file", "offline", "2026-01-01T00:00:00Z", "not-found"),
    ]
    for lk in lookups:
        for _ in range(2):  # computed, then remembered
            assert evidence._keys_facts((lk,)) == (to_master_text([lk]), evidence.key_files([lk]), evidence.needs_network([lk]))
    both = tuple(lookups[:3])
    assert evidence._keys_facts(both) == (to_master_text(both), ("keys.zone", "rec.zone"), True)


# -- key_caveats.py ---------------------------------------------------------------

FP, OTHER = "ab" * 32, "cd" * 32


def _lookup(source: str, window: bool, dnssec_detail: str | None = None) -> KeyLookup:
    first, last = ("2020-01-01T00:00:00Z", "2020-02-01T00:00:00Z") if window else (None, None)
    return KeyLookup(
        "s._domainkey.a.example",
        source,
        f"{source}-origin",
        "2026-01-01T00:00:00Z",
        "found",
        ("v=DKIM1; p=x",),
        first_seen=first,
        last_seen=last,
        dnssec_detail=dnssec_detail,
    )


def _signatures() -> list[SignatureResult]:
    sigs = []
    outcomes = ("pass", "fail", "dnssec-bogus", "nxdomain")
    sources = ("file", "dns", "archive", "reconstructed")
    for n_trials, result, has_key in itertools.product((0, 1, 2), (Result.PASS, Result.FAIL), (True, False)):
        choices = list(itertools.product(outcomes, sources, (False, True), (FP, OTHER, None)))
        for combo in (
            itertools.combinations(choices, n_trials)
            if n_trials < 2
            else random.Random(n_trials).sample(list(itertools.combinations(choices, 2)), 400)
        ):
            trials = tuple(KeyTrial(_lookup(src, win), "v=DKIM1; p=x", out, "rsa", 2048, fp) for out, src, win, fp in combo)
            key = KeyUse(trials[0].lookup if trials else _lookup("file", False), "v=DKIM1; p=x", "rsa", 2048, FP) if has_key else None
            sigs.append(
                SignatureResult(
                    0,
                    "a.example",
                    "s",
                    "rsa-sha256",
                    "relaxed/relaxed",
                    ("from",),
                    None,
                    None,
                    1_600_000_000,
                    None,
                    result,
                    None,
                    None,
                    key=key,
                    key_trials=trials,
                )
            )
    return sigs


@pytest.mark.parametrize("revealed", [frozenset(), frozenset({FP}), frozenset({OTHER})])
@pytest.mark.parametrize("ref", [None, 1_580_000_000, 1_700_000_000])
def test_key_caveats_shortcut_gives_every_rule_s_answer(revealed: frozenset[str], ref: int | None) -> None:
    shortcuts = 0
    for s in _signatures():
        got = key_caveats(s, ref, revealed)
        assert got == all_key_caveats(s, ref, revealed), s
        shortcuts += len(s.key_trials) == 1 and s.key_trials[0].lookup.source == "file"
    assert shortcuts  # the shortcut's own case is among them


def test_sources_agree_shortcut() -> None:
    answers = {sources_agree(s) for s in _signatures()}
    assert answers == {None, True, False}
    for s in _signatures():
        assert sources_agree(s) == sources_agree_in_full(s)


# -- verdict.py -------------------------------------------------------------------


def test_decide_reads_names_case_blind_from_one_index() -> None:
    """decide() lower-cases each name once and reads an index; the caveats are those the
    five separate passes gave (checked against the code before issue 5)."""
    from verify.verdict import decide

    lk = KeyLookup("s._domainkey.a.example", "file", "k.zone", "2026-01-01T00:00:00Z", "found", ("v=DKIM1; t=y; p=x",))
    key = KeyUse(lk, "v=DKIM1; t=y; p=x", "rsa", 2048, FP)
    names = [
        "From",
        "FROM",
        "DKIM-Signature",
        "dkim-signature ",
        "DomainKey-Signature",
        "Subject",
        "To",
        "to",
        "Date",
        "Received",
        "Received",
    ]
    headers = [HeaderField(i, n, "Alice <a@a.example>" if n.lower() == "from" else "x") for i, n in enumerate(names)]
    trial = KeyTrial(lk, lk.txt[0], "pass", "rsa", 2048, FP)
    sig = SignatureResult(
        0, "a.example", "s", "rsa-sha256", "relaxed/relaxed", ("from",), None, None, 1_600_000_000, None, Result.PASS, None, None,
        key=key, key_trials=(trial,), covered_header_indexes=(0, 2, 6),
    )  # fmt: skip
    d = decide(headers, [sig], 1_600_000_100, now=1_700_000_000)
    assert d.verdict is Verdict.WEAK
    assert [(c.code, c.signature, c.header) for c in d.caveats] == [
        ("multiple-from-addresses", None, "From"),
        ("limit-reached", None, "DKIM-Signature"),  # "dkim-signature " counts as a DKIM-Signature field
        ("domainkeys-not-checked", None, None),
        ("duplicate-header", 0, "From"),  # the message-level twins gave way to these
        ("duplicate-header", 0, "To"),
        ("key-testing-mode", 0, None),
        ("unsigned-header", None, "From"),
        ("unsigned-header", None, "Subject"),
        ("unsigned-header", None, "To"),
        ("unsigned-header", None, "Date"),
    ]
    assert "2 DKIM-Signature fields" in d.caveats[1].message and "(field #8)" in d.caveats[4].message
