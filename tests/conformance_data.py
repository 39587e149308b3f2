"""Load the shared conformance material (other projects' DKIM test cases) for the tests.

The material lives outside the project, in ``../shared/conformance`` relative to the
project root (see its README.md); it is read from there, never copied in. Everything
here is plain data loading: the tests run each case through ``verify.check_bytes``,
the same public code path the CLI uses.

``python -m tests.conformance_data`` prints the Mail::DKIM agreement figure.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: ``<project root>/../shared/conformance``
CONFORMANCE = Path(__file__).resolve().parents[1].parent / "shared" / "conformance"
MAIL_DKIM = CONFORMANCE / "mail-dkim"
DKIMPY = CONFORMANCE / "dkimpy"
RFC8463 = CONFORMANCE / "rfc8463"
STALWART_DKIM = CONFORMANCE / "stalwart" / "dkim"

#: How Mail::DKIM's FAKE_DNS.dat spells a failed lookup -> the status StaticSource replays.
FAKE_DNS_STATUSES = {
    "NXDOMAIN": "nxdomain",
    "~~SERVFAIL~~": "servfail",
    "~~Query timed out~~": "timeout",
}
#: The same failures as ``cases.jsonl`` writes them in ``dns_txt`` (``{"error": ...}``).
CASE_DNS_ERRORS = {
    "NXDOMAIN": "nxdomain",
    "SERVFAIL": "servfail",
    "Query timed out": "timeout",
}


def in_ci() -> bool:
    """Same convention as tests/_dns_fixtures.py: CI set, and not 0/false/no."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@dataclass(frozen=True)
class Case:
    """One conformance case: the message bytes, the key answers, and the peer's verdict."""

    id: str
    path: Path
    answers: dict[str, Any]
    expected: str
    comment: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def data(self) -> bytes:
        return self.path.read_bytes()


# --- Mail::DKIM -------------------------------------------------------------------------


def parse_fake_dns(path: Path) -> dict[str, str]:
    """FAKE_DNS.dat as Mail::DKIM's t/verifier.t reads it.

    ``name<whitespace>value-to-end-of-line`` (``split /\\s+/, $_, 2`` after ``chomp``: the
    value keeps trailing blanks); lines starting with ``#`` or ``;`` and blank lines are
    comments. ``NXDOMAIN`` and ``~~...~~`` are lookup failures, mapped to the status
    strings :class:`verify.keys.static.StaticSource` replays.
    """
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").split("\n"):
        if re.match(r"\s*[#;]", line) or not line.strip():
            continue
        name, value = re.split(r"\s+", line.lstrip(), maxsplit=1)
        out[name] = FAKE_DNS_STATUSES.get(value, value)
    return out


def case_dns_txt(dns_txt: dict[str, Any]) -> dict[str, str]:
    """A case's own ``dns_txt``, with ``{"error": X}`` entries mapped to statuses as well
    (an error this table does not know is kept as ``error:<text>``)."""
    out: dict[str, str] = {}
    for name, value in dns_txt.items():
        if isinstance(value, dict):
            err = str(value.get("error", ""))
            out[name] = CASE_DNS_ERRORS.get(err, f"error:{err}")
        else:
            out[name] = value
    return out


def mail_dkim_cases() -> list[Case]:
    """All 79 Mail::DKIM corpus cases, keys from FAKE_DNS.dat (as Mail::DKIM's own test)."""
    fake = parse_fake_dns(MAIL_DKIM / "FAKE_DNS.dat")
    cases = []
    with open(MAIL_DKIM / "cases.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            d = json.loads(line)
            cases.append(
                Case(
                    id=d["id"].removesuffix(".txt"),
                    path=MAIL_DKIM / d["message_file"],
                    answers=fake,
                    expected=d["expected"],
                    comment=d.get("comment") or "",
                    extra=d,
                )
            )
    return cases


_HEADER_END = re.compile(rb"\r?\n\r?\n")


def header_names(data: bytes) -> set[str]:
    """Lower-cased names of the fields in the header section (no unfolding needed)."""
    m = _HEADER_END.search(data)
    head = data[: m.start()] if m else data
    return {
        ln.split(b":", 1)[0].strip().lower().decode("ascii", "replace")
        for ln in re.split(rb"\r?\n", head)
        if ln and ln[:1] not in b" \t" and b":" in ln
    }


def is_domainkeys_only(data: bytes) -> bool:
    names = header_names(data)
    return "domainkey-signature" in names and "dkim-signature" not in names


# --- dkimpy, RFC 8463, Stalwart ------------------------------------------------------------


def dkimpy_cases() -> list[Case]:
    cases = []
    with open(DKIMPY / "cases.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            d = json.loads(line)
            cases.append(
                Case(id=d["id"], path=DKIMPY / d["message_file"], answers=case_dns_txt(d["dns_txt"]), expected=d["expected"], extra=d)
            )
    return cases


def rfc8463_answers() -> dict[str, list[str]]:
    """dns.json: name -> {"TXT": [[chunk, ...], ...]}; each record's chunks joined with no separator."""
    raw = json.loads((RFC8463 / "dns.json").read_text(encoding="utf-8"))
    return {name: ["".join(chunks) for chunks in rr.get("TXT", [])] for name, rr in raw.items()}


def parse_stalwart(path: Path) -> tuple[dict[str, list[str]], bytes]:
    """A Stalwart resource file: ``name value`` lines up to the first blank line, then the
    message, returned byte for byte (LF line ends: intake is expected to repair them)."""
    raw = path.read_bytes()
    m = re.search(rb"\r?\n\r?\n", raw)
    if m is None:
        raise ValueError(f"{path}: no blank line after the DNS records")
    answers: dict[str, list[str]] = {}
    for line in raw[: m.start()].decode("utf-8").splitlines():
        if not line.strip():
            continue
        name, value = line.split(None, 1)
        answers.setdefault(name, []).append(value.strip())
    return answers, raw[m.end() :]


def stalwart_files() -> list[Path]:
    return sorted(STALWART_DKIM.glob("*.txt"))


# --- the agreement figure ------------------------------------------------------------------


def run_case(case: Case, data: bytes | None = None) -> Any:
    """Check a case exactly as the CLI would, offline, with the case's recorded key answers."""
    import verify
    from verify.keys import KeyStore
    from verify.keys.static import StaticSource

    return verify.check_bytes(case.data() if data is None else data, str(case.path), keys=KeyStore(files=[StaticSource(case.answers)]))


def has_pass(report: Any) -> bool:
    return any(s.result.value == "pass" for s in report.signatures)


def mail_dkim_agreement() -> tuple[list[str], list[str]]:
    """(ids where pass/not-pass agrees with Mail::DKIM, ids where it does not)."""
    agree, differ = [], []
    for case in mail_dkim_cases():
        (agree if has_pass(run_case(case)) == (case.expected == "pass") else differ).append(case.id)
    return agree, differ


if __name__ == "__main__":  # pragma: no cover - a convenience for people, not a test
    if not MAIL_DKIM.is_dir():
        raise SystemExit(f"no conformance material at {CONFORMANCE}")
    agree, differ = mail_dkim_agreement()
    total = len(agree) + len(differ)
    print(f"Mail::DKIM pass/not-pass agreement: {len(agree)}/{total}")
    print("differ:", " ".join(differ))
