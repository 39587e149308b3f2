"""Other projects' ARC cases (RFC 8617), run through the same public path as the CLI.

Every case goes through ``verify.check_bytes`` with an offline
``KeyStore(files=[StaticSource(answers)])`` and the report's ``arc.cv`` is compared with
the peer's expectation. Material: ``../shared/conformance`` (its README.md lists the
quirks met here: LF storage, empty ``cv`` meaning fail, duplicate test names in the
YAML, sha1 must fail, ``t=12345``). Absent material skips the tests, except in CI.

Figures: ValiMail arc_test_suite 171/171 distinct validation cases, none skipped;
dkimpy 2/2; Stalwart 2/2 (002 seals with ed25519-sha256, accepted because RFC 8617
takes ``a=`` from the DKIM registry, which RFC 8463 extended).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

import verify
from tests import conformance_data as cd
from verify.keys import KeyStore
from verify.keys.static import StaticSource

ARC_SUITE = cd.CONFORMANCE / "arc_test_suite" / "arc-draft-validation-tests.yml"
STALWART_ARC = cd.CONFORMANCE / "stalwart" / "arc"


def _missing(what: Path) -> None:
    reason = f"conformance material not found at {what}"
    if cd.in_ci():
        pytest.fail(f"{reason} -- required in CI (CI is set)", pytrace=False)
    pytest.skip(reason)


def _suite() -> list[tuple[str, str, dict[str, str], str, str]]:
    """(scenario, test name, txt-records, message, expected cv) for every distinct test.

    YAML keeps the last of a repeated key, which is how every peer reads the four names
    that appear twice in "Arc Seal Fields"; that leaves 171 distinct tests."""
    out = []
    with open(ARC_SUITE, encoding="utf-8") as fh:
        for doc in yaml.safe_load_all(fh):
            for name, t in doc["tests"].items():
                out.append((doc["description"], name, doc["txt-records"], t["message"], t["cv"]))
    return out


def _expected(cv: Any) -> str:
    # Three tests have an empty cv; every peer reads them as fail (README quirks).
    text = str(cv or "").strip().lower()
    return text or "fail"


SUITE = _suite() if ARC_SUITE.is_file() else []


def _run(message: str | bytes, answers: dict[str, Any], path: str) -> verify.Report:
    data = message.encode("utf-8") if isinstance(message, str) else message
    return verify.check_bytes(data, path, keys=KeyStore(files=[StaticSource(answers)]))


def test_arc_suite_has_171_distinct_cases() -> None:
    if not ARC_SUITE.is_file():
        _missing(ARC_SUITE)
    assert len(SUITE) == 171
    assert len({name for _, name, *_ in SUITE}) == 171


@pytest.mark.parametrize(
    "scenario, name, records, message, cv",
    SUITE or [pytest.param(None, None, None, None, None, id="missing")],
    ids=[f"{s[0].split()[0].lower()}-{s[1]}" for s in SUITE] or None,
)
def test_valimail_arc_validation(scenario: str, name: str, records: dict[str, str], message: str, cv: Any) -> None:
    if scenario is None:
        _missing(ARC_SUITE)
    expected = _expected(cv)
    try:
        report = _run(message, records, f"arc-suite/{name}")
    except verify.InputError as exc:
        # cv_empty and cv_no_headers are not email at all: the CLI refuses them (exit 2),
        # so there is no chain to validate, which is the suite's "None".
        assert expected == "none", f"{name}: not examinable ({exc}) but the suite expects {expected}"
        assert name in ("cv_empty", "cv_no_headers")
        return
    assert report.arc is not None
    assert report.arc.cv == expected, f"{scenario} / {name}: got {report.arc.cv} ({report.arc.reason}), expected {expected}"
    # The message was stored with LF: the chain was validated on the CRLF repair, which is reported.
    if b"\r\n" not in message.encode():
        assert "line-endings-converted" in {r.code for r in report.repairs}


def test_valimail_passing_chains_list_their_keys() -> None:
    """ARC keys come through the KeyStore and appear in the report's key list, like DKIM's."""
    if not ARC_SUITE.is_file():
        _missing(ARC_SUITE)
    scenario, name, records, message, cv = next(s for s in SUITE if s[1] == "cv_pass_i1_1")
    report = _run(message, records, name)
    assert report.arc is not None and report.arc.cv == "pass"
    assert [k.name for k in report.keys] == ["dummy._domainkey.example.org"]
    (inst,) = report.arc.instances
    assert (inst.i, inst.ams_domain, inst.ams_selector, inst.ams_valid, inst.seal_valid) == (1, "example.org", "dummy", True, True)
    assert inst.timestamp == 12345  # 1970: old seals are not rejected for being old
    assert inst.aar is not None and inst.aar.startswith("lists.example.org;")
    sealed = [r for r in report.recorded_results if r.sealed]
    assert {(r.method, r.result) for r in sealed} == {("spf", "pass"), ("dkim", "pass"), ("dmarc", "pass")}


def test_valimail_sha1_fails() -> None:
    if not ARC_SUITE.is_file():
        _missing(ARC_SUITE)
    sha1 = [s for s in SUITE if s[1].endswith("_a_sha1")]
    assert len(sha1) == 2
    for _, name, records, message, cv in sha1:
        assert _expected(cv) == "fail"
        report = _run(message, records, name)
        assert report.arc is not None and report.arc.cv == "fail", report.arc


# --- dkimpy 1.1.5 ARC cases --------------------------------------------------------------


def _dkimpy_cases() -> list[dict[str, Any]]:
    path = cd.DKIMPY / "arc_cases.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("case", _dkimpy_cases() or [None], ids=[c["id"] for c in _dkimpy_cases()] or ["missing"])
def test_dkimpy_arc(case: dict[str, Any] | None) -> None:
    if case is None:
        _missing(cd.DKIMPY / "arc_cases.jsonl")
        return
    report = _run((cd.DKIMPY / case["message_file"]).read_bytes(), case["dns_txt"], case["id"])
    assert report.arc is not None
    assert report.arc.cv == case["expected_cv"], report.arc
    if case["id"] == "arc_fail_h_in_as":
        assert "h= tag not permitted" in report.arc.reason


# --- Stalwart mail-auth resources/arc ---------------------------------------------------


@pytest.mark.parametrize("name", ["001.txt", "002.txt"])
def test_stalwart_arc_chain_passes(name: str) -> None:
    path = STALWART_ARC / name
    if not path.is_file():
        _missing(path)
    answers, message = cd.parse_stalwart(path)
    report = _run(message, answers, str(path))
    assert report.arc is not None
    assert report.arc.cv == "pass", report.arc
    assert all(i.ams_valid and i.seal_valid for i in report.arc.instances)
    arc_keys = {f"{i.ams_selector}._domainkey.{i.ams_domain}" for i in report.arc.instances}
    assert arc_keys <= {k.name for k in report.keys}
    if name == "002.txt":
        assert [i.ams_domain for i in report.arc.instances] == ["scamorza.org", "manchego.org"]
        assert "ed25519-sha256" in message.decode()
