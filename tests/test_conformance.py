"""Other projects' DKIM test cases, run through the same public path as the CLI.

Material: ``../shared/conformance`` relative to the project root (its README.md gives the
formats and quirks). Every case goes through ``verify.check_bytes`` with an offline
``KeyStore(files=[StaticSource(answers)])``: no network, the peer's recorded key answers.

If the material is absent the tests are skipped, unless ``CI`` is set (as in
tests/_dns_fixtures.py: non-empty and not 0/false/no), where they fail.

Where we deliberately disagree with a peer, the case is listed in :data:`EXCEPTIONS`
with the reason, and our own behaviour is asserted instead, so a change in either
direction fails the test.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import conformance_data as cd

KEY_REASONS = {"key-not-found", "key-revoked", "key-malformed", "unsupported-algorithm", "dns-error"}


def _missing(what: Path) -> None:
    reason = f"conformance material not found at {what} (expected ../shared/conformance next to the project root)"
    if cd.in_ci():
        pytest.fail(f"{reason} -- required in CI (CI is set)", pytrace=False)
    pytest.skip(reason)


def _params(folder: Path, loader, ids):  # type: ignore[no-untyped-def]
    """pytest params for a suite, or one placeholder that skips (fails in CI) when absent."""
    if not folder.is_dir():
        return [pytest.param(None, id=f"missing-{folder.relative_to(cd.CONFORMANCE).as_posix()}")]
    items = loader()
    return [pytest.param(item, id=ids(item)) for item in items]


def _require(folder: Path, item: object) -> None:
    if item is None or not folder.is_dir():
        _missing(folder)


def test_conformance_material_present() -> None:
    for folder in (cd.MAIL_DKIM, cd.DKIMPY, cd.RFC8463, cd.STALWART_DKIM):
        if not folder.is_dir():
            _missing(folder)


def _codes(report, signature: int | None = None) -> set[str]:  # type: ignore[no-untyped-def]
    return {c.code for c in report.caveats if signature is None or c.signature == signature}


def _describe(report) -> str:  # type: ignore[no-untyped-def]
    sigs = [(s.index, s.algorithm, s.result.value, s.reason.value if s.reason else None, s.detail) for s in report.signatures]
    return f"verdict={report.verdict.value} signatures={sigs} caveats={sorted(_codes(report))}"


# =========================================================================================
# 1. Mail::DKIM corpus (fastmail/mail-dkim t/corpus, keys from t/FAKE_DNS.dat)
# =========================================================================================


@dataclass(frozen=True)
class Ours:
    """What we do instead of what Mail::DKIM expects, and why."""

    why: str
    passes: bool
    verdict: str | None = None
    result: str | None = None  # every signature's result (when it does not pass)
    reason: str | None = None  # every signature's reason code (when it does not pass)
    caveat: str | None = None  # a caveat code that must be present
    no_caveat: str | None = None  # a caveat code that must be absent
    no_signatures: bool = False


DRAFT_SIGNATURE = Ours(
    why=(
        "pre-RFC draft signature without v= or with v=0.5: RFC 6376 section 3.5 makes v= required "
        "and equal to 1 (draft-00 signatures also lack bh=); Mail::DKIM still accepts them"
    ),
    passes=False,
    verdict="unverifiable",
    result="permerror",
    reason="malformed-signature",
)
DOMAINKEYS_ONLY = Ours(
    why=(
        "DomainKeys-only message (DomainKey-Signature:, no DKIM-Signature:): DomainKeys (RFC 4870, "
        "historic) is not DKIM and is not checked; Mail::DKIM verifies it"
    ),
    passes=False,
    verdict="unsigned",
    caveat="domainkeys-not-checked",
    no_signatures=True,
)
KEY_G_TAG = Ours(
    why=(
        "the key's g= tag was removed by RFC 6376 (Appendix C; section 3.6.1 no longer defines it) "
        "and unknown key tags are ignored, so g= cannot make a key unusable; Mail::DKIM still applies it"
    ),
    passes=True,
)
EXPIRY_AS_OF_RECEIPT = Ours(
    why=(
        "x= (2007-10-24) is judged as of the message's own time (Received 1997, Date 2005), when it had "
        "not expired; Mail::DKIM judges it by today's clock. We say so with expired-after-delivery"
    ),
    passes=True,
    no_caveat="signature-expired",
    caveat="expired-after-delivery",
)

#: Mail::DKIM cases where our pass/not-pass differs from its ``expected``, deliberately.
EXCEPTIONS: dict[str, Ours] = {
    "good_ietf00_1": DRAFT_SIGNATURE,
    "good_ietf00_2": DRAFT_SIGNATURE,
    "good_ietf00_3": DRAFT_SIGNATURE,
    "good_ietf00_4": DRAFT_SIGNATURE,
    "good_ietf00_5": DRAFT_SIGNATURE,
    "mine_ietf01_1": DRAFT_SIGNATURE,
    "mine_ietf01_2": DRAFT_SIGNATURE,
    "mine_ietf01_3": DRAFT_SIGNATURE,
    "mine_ietf01_4": DRAFT_SIGNATURE,
    "mine_ietf05_1": DRAFT_SIGNATURE,
    "good_ietf01_1": DRAFT_SIGNATURE,
    "good_ietf01_2": DRAFT_SIGNATURE,
    "multiple_1": DRAFT_SIGNATURE,
    "no_body_1": DRAFT_SIGNATURE,
    "no_body_2": DRAFT_SIGNATURE,
    "no_body_3": DRAFT_SIGNATURE,
    "good_dk_gmail": DOMAINKEYS_ONLY,
    "good_dk_yahoo": DOMAINKEYS_ONLY,
    "good_dk_1": DOMAINKEYS_ONLY,
    "good_dk_2": DOMAINKEYS_ONLY,
    "good_dk_3": DOMAINKEYS_ONLY,
    "good_dk_4": DOMAINKEYS_ONLY,
    "good_dk_5": DOMAINKEYS_ONLY,
    "good_dk_6": DOMAINKEYS_ONLY,
    "good_dk_7": DOMAINKEYS_ONLY,
    "dk_headers_1": DOMAINKEYS_ONLY,
    "dk_headers_2": DOMAINKEYS_ONLY,
    "dk_multiple_1": DOMAINKEYS_ONLY,
    "badkey_8": KEY_G_TAG,
    "badkey_9": KEY_G_TAG,
    "badkey_12": KEY_G_TAG,
    "badkey_13": KEY_G_TAG,
    "ignore_7": EXPIRY_AS_OF_RECEIPT,
}

#: badkey_* cases whose not-pass agrees with Mail::DKIM but whose *reason* cannot be a key
#: reason: the signature is a v=0.5 draft, rejected before any key is looked up (Mail::DKIM
#: reads the key first). The key problems are exercised by test_mail_dkim_badkey_key_reasons,
#: on a copy with v=1.
REASON_EXCEPTIONS: dict[str, Ours] = {f"badkey_{n}": DRAFT_SIGNATURE for n in range(1, 8)}

#: "invalid because of the key" cases, with the code each problem maps to.
KEY_CASES: dict[str, str] = {
    "badkey_1": "key-not-found",  # NXDOMAIN
    "badkey_2": "key-revoked",  # empty p=
    "badkey_3": "key-malformed",  # v=DKIM3
    "badkey_4": "key-malformed",  # tag-list syntax error ("t;")
    "badkey_5": "unsupported-algorithm",  # k=foobar
    "badkey_6": "key-malformed",  # s=chat: not for email
    "badkey_7": "unsupported-algorithm",  # h=bad: no hash we can use
    "badkey_10": "key-malformed",  # t=s and i= in a subdomain of d=
    "badkey_11": "unsupported-algorithm",  # h=md5:sha1 but a=rsa-sha256
    "badkey_14": "dns-error",  # timeout
    "badkey_15": "dns-error",  # SERVFAIL
    "badkey1_ed25519": "key-malformed",  # wrong length
    "badkey4_ed25519": "key-not-found",  # not in FAKE_DNS.dat
    "badkey5_ed25519": "key-malformed",  # empty record
}

#: The 17 DomainKeys files the README counts (bad_dk_* agree: "invalid", ours unsigned).
DOMAINKEYS_FILES = {k for k, v in EXCEPTIONS.items() if v is DOMAINKEYS_ONLY} | {f"bad_dk_{n}" for n in range(1, 6)}

MAIL_DKIM_PARAMS = _params(cd.MAIL_DKIM, cd.mail_dkim_cases, lambda c: c.id)


def _check_ours(report, ours: Ours) -> None:  # type: ignore[no-untyped-def]
    info = _describe(report)
    assert cd.has_pass(report) is ours.passes, f"{ours.why}\n{info}"
    if ours.verdict is not None:
        assert report.verdict.value == ours.verdict, info
    if ours.no_signatures:
        assert report.signatures == (), info
    if not ours.passes and (ours.result or ours.reason):
        assert report.signatures, info
        for s in report.signatures:
            if ours.result is not None:
                assert s.result.value == ours.result, info
            if ours.reason is not None:
                assert s.reason is not None and s.reason.value == ours.reason, info
    if ours.caveat is not None:
        assert ours.caveat in _codes(report), info
    if ours.no_caveat is not None:
        assert ours.no_caveat not in _codes(report), info


@pytest.mark.parametrize("case", MAIL_DKIM_PARAMS)
def test_mail_dkim(case: cd.Case | None) -> None:
    _require(cd.MAIL_DKIM, case)
    assert case is not None
    data = case.data()
    report = cd.run_case(case, data)
    info = _describe(report)

    if case.id in EXCEPTIONS:
        _check_ours(report, EXCEPTIONS[case.id])
    else:
        # The agreement: a passing signature iff Mail::DKIM says "pass".
        assert cd.has_pass(report) is (case.expected == "pass"), f"Mail::DKIM expects {case.expected!r} ({case.comment})\n{info}"

    if case.id in REASON_EXCEPTIONS:
        _check_ours(report, REASON_EXCEPTIONS[case.id])
    elif case.id in KEY_CASES:
        assert case.expected == "invalid"
        assert report.signatures, info
        for s in report.signatures:
            assert s.reason is not None and s.reason.value in KEY_REASONS, info
            assert s.reason.value == KEY_CASES[case.id], info
        if KEY_CASES[case.id] == "dns-error":
            assert all(s.result.value == "temperror" for s in report.signatures), info
            assert report.verdict.value == "unverifiable", info

    # DomainKeys-only files are reported as unsigned, never checked.
    if cd.is_domainkeys_only(data):
        assert case.id in DOMAINKEYS_FILES
        _check_ours(report, DOMAINKEYS_ONLY)
    else:
        assert case.id not in DOMAINKEYS_FILES

    # Keys under 1024 bits: the crypto may pass, the verdict must still call the key weak.
    passing = [s for s in report.signatures if s.result.value == "pass"]
    weak = [s for s in passing if s.key is not None and s.key.key_type == "rsa" and s.key.key_bits < 1024]
    for s in weak:
        assert "weak-key" in _codes(report, s.index), info
    if passing and len(weak) == len(passing):
        assert report.verdict.value == "weak", info


def test_mail_dkim_multiple_2_per_signature() -> None:
    """verifier.t also checks multiple_2 signature by signature: invalid, pass, fail."""
    if not cd.MAIL_DKIM.is_dir():
        _missing(cd.MAIL_DKIM)
    case = next(c for c in cd.mail_dkim_cases() if c.id == "multiple_2")
    report = cd.run_case(case)
    got = [s.result.value for s in report.signatures[:3]]
    assert got == ["permerror", "pass", "fail"], _describe(report)


def _badkey_ids():  # type: ignore[no-untyped-def]
    return [c for c in cd.mail_dkim_cases() if c.id in REASON_EXCEPTIONS]


@pytest.mark.parametrize("case", _params(cd.MAIL_DKIM, _badkey_ids, lambda c: f"{c.id}-as-v1"))
def test_mail_dkim_badkey_key_reasons(case: cd.Case | None) -> None:
    """badkey_1..7 carry the same v=0.5 signature with different selectors. On a copy with
    v=1 (a derived case, not Mail::DKIM's) the key must be judged before the signature's
    cryptography, so each key problem gets its key reason."""
    _require(cd.MAIL_DKIM, case)
    assert case is not None
    data = case.data()
    assert data.count(b"DKIM-Signature: v=0.5;") == 1
    report = cd.run_case(case, data.replace(b"DKIM-Signature: v=0.5;", b"DKIM-Signature: v=1;", 1))
    [s] = report.signatures
    assert s.result.value == "permerror", _describe(report)
    assert s.reason is not None and s.reason.value in KEY_REASONS, _describe(report)
    assert s.reason.value == KEY_CASES[case.id], _describe(report)


def test_mail_dkim_agreement_figure(capsys: pytest.CaptureFixture[str]) -> None:
    """The figure: pass/not-pass agrees with Mail::DKIM except exactly the listed exceptions."""
    if not cd.MAIL_DKIM.is_dir():
        _missing(cd.MAIL_DKIM)
    agree, differ = cd.mail_dkim_agreement()
    total = len(agree) + len(differ)
    assert total == 79
    assert set(differ) == set(EXCEPTIONS), (
        f"unlisted disagreements: {sorted(set(differ) - set(EXCEPTIONS))}; listed but agreeing: {sorted(set(EXCEPTIONS) - set(differ))}"
    )
    with capsys.disabled():
        print(
            f"\nMail::DKIM pass/not-pass agreement: {len(agree)}/{total}; {len(differ)} listed exceptions "
            f"({sum(v is DRAFT_SIGNATURE for v in EXCEPTIONS.values())} draft signatures, "
            f"{sum(v is DOMAINKEYS_ONLY for v in EXCEPTIONS.values())} DomainKeys-only, "
            f"{sum(v is KEY_G_TAG for v in EXCEPTIONS.values())} key g=, "
            f"{sum(v is EXPIRY_AS_OF_RECEIPT for v in EXCEPTIONS.values())} expiry as of receipt)"
        )


def test_mail_dkim_fake_dns_matches_case_dns_txt() -> None:
    """Keys come from FAKE_DNS.dat, as in Mail::DKIM's own test; each case's dns_txt must say
    the same. Known difference: badkey4_ed25519's name is in no FAKE_DNS.dat line (Mail::DKIM's
    harness then dies, which counts as a DNS failure); offline, ours is key-not-found."""
    if not cd.MAIL_DKIM.is_dir():
        _missing(cd.MAIL_DKIM)
    fake = cd.parse_fake_dns(cd.MAIL_DKIM / "FAKE_DNS.dat")
    not_in_fake = {}
    for case in cd.mail_dkim_cases():
        for name, value in cd.case_dns_txt(case.extra["dns_txt"]).items():
            if name not in fake:
                not_in_fake[case.id] = (name, value)
                continue
            assert fake[name] == value, f"{case.id}: {name}: FAKE_DNS.dat {fake[name]!r} != dns_txt {value!r}"
    assert set(not_in_fake) == {"badkey4_ed25519"}, not_in_fake
    assert not_in_fake["badkey4_ed25519"][1].startswith("error:NOT_IN_FAKE_DNS")


# =========================================================================================
# 2. dkimpy 1.1.5 test data
# =========================================================================================


@pytest.mark.parametrize("case", _params(cd.DKIMPY, cd.dkimpy_cases, lambda c: c.id))
def test_dkimpy(case: cd.Case | None) -> None:
    _require(cd.DKIMPY, case)
    assert case is not None
    report = cd.run_case(case)
    info = _describe(report)
    expected = case.expected.strip().lower()
    if expected == "pass":
        assert cd.has_pass(report), info
    else:
        assert expected.startswith(("not pass", "none")), f"unknown expectation {case.expected!r}"
        assert not cd.has_pass(report), info

    if case.id == "test.message.baddomain":  # d=legitimate.com(.attacker.com verifies, must not pass
        assert [s.reason.value if s.reason else None for s in report.signatures] == ["malformed-signature"], info
    elif case.id == "rfc6376.w1258.msg(unsigned)":
        assert report.signatures == () and report.verdict.value == "unsigned", info
    elif case.id == "rfc6376.signed.msg#sig0-ed25519":
        sig = report.signatures[0]
        assert sig.algorithm == "ed25519-sha256" and sig.result.value == "pass", info
        assert sig.key is not None and sig.key.key_type == "ed25519", info
    elif "key error" in expected:
        for s in report.signatures:
            assert s.result.value == "permerror" and s.reason is not None and s.reason.value in KEY_REASONS, info


# =========================================================================================
# 3. RFC 8463 Appendix A (postalsys/mailauth fixture)
# =========================================================================================


def test_rfc8463_both_signatures_pass() -> None:
    if not cd.RFC8463.is_dir():
        _missing(cd.RFC8463)
    import verify
    from verify.keys import KeyStore
    from verify.keys.static import StaticSource

    data = (cd.RFC8463 / "signed.eml").read_bytes()
    report = verify.check_bytes(data, str(cd.RFC8463 / "signed.eml"), keys=KeyStore(files=[StaticSource(cd.rfc8463_answers())]))
    info = _describe(report)
    assert sorted(s.algorithm or "" for s in report.signatures) == ["ed25519-sha256", "rsa-sha256"], info
    assert all(s.result.value == "pass" for s in report.signatures), info


# =========================================================================================
# 4. Stalwart mail-auth resources/dkim
# =========================================================================================


def _stalwart_cases() -> list[cd.Case]:
    out = []
    for path in cd.stalwart_files():
        answers, _ = cd.parse_stalwart(path)
        out.append(cd.Case(id=path.stem, path=path, answers=answers, expected="last signature passes"))
    return out


STALWART_PARAMS = _params(cd.STALWART_DKIM, _stalwart_cases, lambda c: f"stalwart-{c.id}")


def test_stalwart_has_six_files() -> None:
    if not cd.STALWART_DKIM.is_dir():
        _missing(cd.STALWART_DKIM)
    assert [p.name for p in cd.stalwart_files()] == [f"00{n}.txt" for n in range(1, 7)]


@pytest.mark.parametrize("case", STALWART_PARAMS)
def test_stalwart_last_signature_passes(case: cd.Case | None) -> None:
    _require(cd.STALWART_DKIM, case)
    assert case is not None
    _, message = cd.parse_stalwart(case.path)
    report = cd.run_case(case, message)
    info = _describe(report)
    assert report.signatures, info
    assert report.signatures[-1].result.value == "pass", info
    # Stored with LF; intake checks a CRLF copy and says so.
    assert b"\r\n" not in message
    assert "line-endings-converted" in {r.code for r in report.repairs}, info
    assert "line-endings-converted" in _codes(report), info

    if case.id == "005":
        # Carries x=; signed at 1667843664: judged as of the message's time, it had not expired.
        sig = report.signatures[-1]
        assert sig.timestamp == 1667843664 and sig.expiration is not None, info
        assert report.reference_time is not None and report.reference_time <= sig.expiration, info
        assert "signature-expired" not in _codes(report), info
        assert "expired-after-delivery" in _codes(report, sig.index), info
