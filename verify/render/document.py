"""One reader-facing document built from a :class:`Report`, shared by every human format.

The terminal, HTML and Markdown renderers draw the same blocks, so the sections a
reporter reads never drift apart. Every string taken from the evidence passes
through :func:`~verify.render.escape.safe` here; renderers then only apply their own
medium's escaping (rich ``Text`` without markup, ``html.escape``, Markdown escapes).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from verify.model import HeaderField, KeyLookup, Report, Verdict
from verify.render.escape import safe
from verify.render.json import key_records
from verify.timefmt import iso
from verify.verdict import when

_VISIBLE = ("from", "sender", "reply-to", "to", "cc", "subject", "date", "message-id")

VERDICT_STYLE = {
    Verdict.VERIFIED: "bold white on green",
    Verdict.WEAK: "bold black on yellow",
    Verdict.FAILED: "bold white on red",
    Verdict.UNVERIFIABLE: "bold black on bright_white",
    Verdict.UNSIGNED: "bold white on blue",
    Verdict.ERROR: "bold white on red",
}

PROVES = (
    "A passing DKIM signature proves that a server holding the signing domain's private key signed these "
    "header fields and this body, and that they have not changed since (within the caveats above)."
)
DOES_NOT_PROVE = (
    "It does not prove who typed the message, that its content is true, that it was sent to the people in "
    "To/Cc, or that the signing domain's key was not stolen or later published. Headers outside the signature "
    "(see the coverage table) could have been added or changed by anyone."
)


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class VerdictLine:
    verdict: Verdict
    sentence: str


@dataclass(frozen=True)
class Fields:
    rows: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Bullets:
    items: tuple[tuple[str, str], ...]  # (code, text)


@dataclass(frozen=True)
class Para:
    text: str


Block = Heading | VerdictLine | Fields | Table | Bullets | Para


def _mark(ok: bool | None) -> str:
    return {True: "ok", False: "CHANGED", None: "not checked"}[ok]


def build(report: Report) -> list[Block]:
    """The report as blocks, in the order a reporter reads it."""
    blocks: list[Block] = [Heading(f"provenance report: {safe(report.file.path)}")]
    blocks.append(Fields((("File", safe(report.file.path)), ("Size", f"{report.file.size:,} bytes"), ("SHA-256", report.file.sha256))))
    rows: list[tuple[str, str]] = []
    for name in ("From", "Sender", "To", "Cc", "Date", "Subject", "Message-ID"):
        for h in report.header(name):
            rows.append((name, safe(h.value, 300)))
    if report.reference_time is not None:
        rows.append(("Received", f"{when(report.reference_time)} (from the {report.reference_source}); times are judged as of then"))
    blocks += [Heading("Message (as it appears in the file)"), Fields(tuple(rows))]
    blocks += [Heading("Verdict"), VerdictLine(report.verdict, safe(report.summary))]

    if report.signatures:
        blocks.append(Heading("Signatures"))
        sig_rows = []
        for s in report.signatures:
            key = f"{s.key.key_type.upper()} {s.key.key_bits} bits" if s.key else "-"
            sig_rows.append(
                (
                    str(s.index + 1),
                    safe(s.domain or "?"),
                    safe(s.selector or "?"),
                    safe(s.algorithm or "?"),
                    key,
                    iso(s.timestamp) or "-",
                    _mark(s.body_hash_ok),
                    _mark(s.signature_ok),
                    s.result.value + (f" ({s.reason.value})" if s.reason else ""),
                )
            )
        blocks.append(
            Table(("#", "signer (d=)", "selector", "algorithm", "key", "signed at (t=)", "body", "headers", "result"), tuple(sig_rows))
        )
        details = tuple((f"#{s.index + 1}", safe(s.detail)) for s in report.signatures if s.detail)
        if details:
            blocks.append(Bullets(details))
        blocks.append(Heading("What each signature covers"))
        cov_rows = []
        visible = [h for h in report.headers if h.name.lower() in _VISIBLE]
        counts = Counter(h.name.lower() for h in visible)
        for s in report.signatures:

            def label(h: HeaderField) -> str:
                return h.name if counts[h.name.lower()] == 1 else f"{h.name} (field #{h.index + 1})"

            covered = set(s.covered_header_indexes)
            signed = [label(h) for h in visible if h.index in covered]
            unsigned = [label(h) for h in visible if h.index not in covered]
            if s.body_bytes_total is None:
                body = "not checked"
            elif s.body_length is None:
                body = f"all {s.body_bytes_total} bytes (canonical)"
            else:
                body = f"first {s.body_bytes_signed} of {s.body_bytes_total} bytes (l=)"
            cov_rows.append((str(s.index + 1), safe(", ".join(signed)) or "-", safe(", ".join(unsigned)) or "-", body))
        blocks.append(Table(("#", "visible headers signed", "visible headers NOT signed", "body"), tuple(cov_rows)))

    if report.mime is not None and (report.mime.attachments or report.mime.findings):
        blocks += _mime_blocks(report)
    if report.caveats:
        blocks += [Heading("Caveats"), Bullets(tuple((c.code, safe(c.message)) for c in report.caveats))]
    # Imported here: chain_blocks builds the Block types this module defines.
    from verify.render.chain_blocks import chain_blocks

    blocks += chain_blocks(report)
    if report.keys:
        blocks += [Heading("Keys"), _keys_table(report)]
        notes = tuple((lk.dnssec, safe(f"{lk.name} ({lk.source}): {lk.dnssec_detail}")) for lk in report.keys if lk.dnssec_detail)
        if notes:
            blocks.append(Bullets(notes))
    blocks += [Heading("What this proves"), Para(PROVES), Heading("What it does not prove"), Para(DOES_NOT_PROVE)]
    return blocks


def _mime_blocks(report: Report) -> list[Block]:
    """Attachments with digests, and whether a passing signature covers the body they are in."""
    assert report.mime is not None
    whole = [s for s in report.signatures if s.passed and s.body_length is None]
    if whole:
        cover = "inside the body signed by " + ", ".join(f"#{s.index + 1} ({safe(s.domain)})" for s in whole)
    elif any(s.passed for s in report.signatures):
        cover = "the passing signature covers only part of the body (l=): check the byte counts"
    else:
        cover = "not covered by any passing signature"
    out: list[Block] = []
    if report.mime.attachments:
        out += [
            Heading("Attachments"),
            Para(f"Digests are of the decoded content; {cover}."),
            Table(
                ("file name", "type", "size", "SHA-256"),
                tuple((safe(a.filename) or "(unnamed)", safe(a.content_type), f"{a.size:,} bytes", a.sha256) for a in report.mime.attachments),
            ),
        ]
    if report.mime.findings:
        out += [Heading("MIME structure"), Bullets(tuple((f.code, safe(f.message)) for f in report.mime.findings))]
    return out


def _served(lk: KeyLookup, report: Report) -> str:
    """Which signatures this answer served, and how: verified, also verifies, no match, ..."""
    out = []
    for s in report.signatures:
        outcomes = [t.outcome for t in s.key_trials if t.lookup == lk]
        if not outcomes:
            continue
        if s.key is not None and s.key.lookup == lk and s.signature_ok:
            what = "verified"
        elif "pass" in outcomes:
            what = "verifies too"
        elif "fail" in outcomes:
            what = "no match"
        else:
            what = outcomes[0]
        out.append(f"#{s.index + 1} {what}")
    for i in report.arc.instances if report.arc is not None else ():
        if f"{i.ams_selector}._domainkey.{i.ams_domain}".lower() == lk.name:
            out.append(f"ARC i={i.i} message signature " + ("valid" if i.ams_valid else "not valid"))
        if f"{i.seal_selector}._domainkey.{i.seal_domain}".lower() == lk.name:
            out.append(f"ARC i={i.i} seal " + ("valid" if i.seal_valid else "not valid"))
    return ", ".join(out) or "-"


def _keys_table(report: Report) -> Table:
    rows = []
    for lk in report.keys:
        recs = key_records(lk)
        good = [r for r in recs if r["error"] is None]
        size = ", ".join(f"{r['key_type']} {r['key_bits']}" for r in good) or ("; ".join(str(r["error"]) for r in recs) or lk.status)
        fp = ", ".join(str(r["fingerprint"])[:16] for r in good) or "-"
        source = lk.source + (" (recorded)" if lk.recorded_in else "")
        origin = lk.origin + (f" via {lk.recorded_in}" if lk.recorded_in else "")
        when = lk.retrieved_at
        if lk.first_seen or lk.last_seen:
            when = f"seen {(lk.first_seen or '?')[:10]} to {(lk.last_seen or '?')[:10]}"
        rows.append((safe(lk.name), source, safe(origin), safe(when), lk.dnssec, safe(size), fp, _served(lk, report)))
    return Table(("name", "source", "origin", "when", "DNSSEC", "key", "SHA-256 (first 16)", "signatures"), tuple(rows))
