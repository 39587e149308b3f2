"""``provenance scan``: every message of a leak, in parallel, with a corpus summary.

The parent process reads the mailboxes (:mod:`verify.mailbox`), looks up each key
once, and hands batches of messages plus the key answers they need to worker
processes; workers run the same engine as ``check`` and send back each message's
JSON line, CSV row and the few facts the summary needs. Results are written in input
order, so ``--resume`` can trust that every line in the file is a finished message.

A message that cannot be examined becomes a row with verdict ``error`` and the scan
goes on. mbox quoting (``>From ``) is undone before checking and always reported:
caveat ``mbox-from-unquoted``, or ``mbox-from-left-quoted`` when only the bytes as
stored pass the body hash.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import functools
import gc
import hashlib
import json
import multiprocessing
import os
import re
import signal
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Any, TextIO

import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

from verify import engine, intake, mailbox
from verify.checks.headers import parse_date
from verify.errors import InputError, UsageError
from verify.keys import KeyStore
from verify.mailbox import Item, Source
from verify.model import FileInfo, KeyLookup, Repair, Report, fast_init, replace
from verify.render.escape import safe
from verify.render.json import error_to_dict
from verify.timefmt import utc

VERDICTS = ("verified", "weak", "failed", "unverifiable", "unsigned", "error")
#: Messages per batch handed to a worker, and the most bytes in one batch. Each batch costs
#: the parent a round trip (pickling, futures, thread wake-ups), and the engine checks a
#: batch stage by stage: 256 rather than 48 made --jobs 2 ~10% faster.
BATCH_MESSAGES = 256
BATCH_BYTES = 4 << 20
#: Rows listed by name in the summary's follow-up table (all are in --jsonl/--csv).
FOLLOW_UP_ROWS = 25
TOP_DOMAINS = 20

CSV_FIELDS = (
    "path",
    "index",
    "offset",
    "verdict",
    "error",
    "from",
    "from_domain",
    "to",
    "subject",
    "date",
    "year",
    "message_id",
    "signing_domains",
    "selectors",
    "results",
    "reasons",
    "caveats",
    "key_bits",
    "size",
    "sha256",
    "summary",
)

# ---------------------------------------------------------------------------
# One message


def _lines(n: int) -> str:
    return f"{n} line{'s' if n != 1 else ''}"


def _unquoted_evidence(data: bytes, unquoted: bytes, lines: int, source: Source) -> intake.Evidence:
    """The un-quoted copy to check, described as the bytes stored (size, SHA-256), with the repair said."""
    ev = intake.from_bytes(unquoted, source.path)
    stored_info = FileInfo(source.path, len(data), hashlib.sha256(data).hexdigest())
    note = Repair(
        "mbox-from-unquoted",
        f"In the mbox, {_lines(lines)} of this message began '>From '; mbox files quote body lines starting 'From ' that way, so "
        "one '>' was removed (the mboxrd convention) on a copy before verifying. Which mbox variant wrote the file cannot be "
        "known for sure.",
    )
    copy: intake.Evidence = replace(ev, info=stored_info, raw=data, repairs=(*ev.repairs, note))
    return copy


def _stored_if_better(report: Report, data: bytes, lines: int, source: Source, keys: KeyStore, mime: bool) -> Report:
    """The report on the bytes as stored, when only they pass a body hash; else ``report``."""
    if report.signatures and not any(s.body_hash_ok for s in report.signatures):
        stored = intake.from_bytes(data, source.path)
        kept = Repair(
            "mbox-from-left-quoted",
            f"In the mbox, {_lines(lines)} of this message began '>From '. Removing the mbox quote broke the body hash while "
            "the bytes as stored pass it, so the '>' was already there when the message was signed: it was verified as stored.",
        )
        second = engine.check_evidence(replace(stored, repairs=(*stored.repairs, kept)), keys, mime=mime)
        if any(s.body_hash_ok for s in second.signatures):
            return second
    return report


Rerun = Callable[[Report, Source], str]


def item_dicts(items: Sequence[Item], keys: KeyStore, rerun: Rerun | None = None, mime: bool = False) -> list[dict[str, Any]]:
    """The JSON object for each message: ``check --json``'s fields plus ``source``.

    Messages are checked together, stage by stage (:func:`verify.engine.check_many`).
    mbox quoting is undone on a copy and said so; the bytes as stored are what ``file``
    describes (size, SHA-256). If un-quoting ``>From `` lines leaves every body hash
    failing while the stored bytes pass one, the stored bytes are the evidence (the ``>``
    was there when it was signed).
    """
    results: list[Report | Exception | None] = [None] * len(items)
    pending: list[int] = []
    evs: list[intake.Evidence] = []
    quoted: dict[int, int] = {}  # item -> lines un-quoted
    for i, it in enumerate(items):
        if it.data is None:
            continue
        try:
            unquoted, lines = mailbox.unquote_mboxrd(it.data) if it.source.mbox else (it.data, 0)
            if lines:
                evs.append(_unquoted_evidence(it.data, unquoted, lines, it.source))
                quoted[i] = lines
            else:
                evs.append(intake.from_bytes(it.data, it.source.path))
            pending.append(i)
        except Exception as exc:  # noqa: BLE001 - one bad message must not stop a scan of 100,000
            results[i] = exc
    for i, r in zip(pending, engine.check_many(evs, keys, mime=mime), strict=True):
        if i in quoted and isinstance(r, Report):
            data = items[i].data
            assert data is not None
            try:
                r = _stored_if_better(r, data, quoted[i], items[i].source, keys, mime)
            except Exception as exc:  # noqa: BLE001 - as above
                r = exc
        results[i] = r
    return [_item_dict(it, r, rerun) for it, r in zip(items, results, strict=True)]


def _item_dict(item: Item, result: Report | Exception | None, rerun: Rerun | None) -> dict[str, Any]:
    if item.data is None:
        d = error_to_dict(item.source.path, item.error or "could not be read")
    else:
        try:
            if isinstance(result, Exception):
                raise result
            assert result is not None
            report = result if rerun is None else replace(result, rerun=rerun(result, item.source))
            d = report.json()
        except InputError as exc:
            d = _error(item, exc.problem)
        except Exception as exc:  # noqa: BLE001 - one bad message must not stop a scan of 100,000
            d = _error(item, f"internal error while checking ({type(exc).__name__}: {exc}); please report it")
    d["source"] = item.source.json()
    return d


def _error(item: Item, problem: str) -> dict[str, Any]:
    d = error_to_dict(item.source.path, problem)
    assert item.data is not None
    d["file"].update(size=len(item.data), sha256=hashlib.sha256(item.data).hexdigest())
    return d


@fast_init
@dataclass(frozen=True)
class Facts:
    """What the summary needs from one message, read from its JSON object (so lines
    taken from a ``--resume`` file count exactly like fresh ones)."""

    verdict: str
    year: str
    domains: tuple[str, ...]
    reasons: tuple[str, ...]
    caveats: tuple[str, ...]
    error: str | None
    label: str
    summary: str


def _first(v: Any) -> str | None:
    if isinstance(v, list):
        return str(v[0]) if v else None
    return None if v is None else str(v)


def _year(d: dict[str, Any]) -> str:
    date = _first((d.get("message") or {}).get("date"))
    t = parse_date(date) if date else None
    if t is None:
        return "no date"
    day = utc(t)
    return str(day.year) if day is not None else "no date"


def facts(d: dict[str, Any]) -> Facts:
    src = d.get("source") or {}
    path, index = str(src.get("path", "?")), src.get("index")
    sigs = d.get("signatures") or []
    return Facts(
        verdict=str(d.get("verdict", "error")),
        year=_year(d),
        domains=tuple(sorted({str(s["domain"]) for s in sigs if s.get("domain")})),
        reasons=tuple(sorted({str(s["reason"]) for s in sigs if s.get("reason")})),
        caveats=tuple(sorted({str(c["code"]) for c in d.get("caveats") or []})),
        error=d.get("error"),
        label=path if index is None else f"{path} #{index}",
        summary=str(d.get("error") or d.get("summary") or ""),
    )


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(v: Any) -> str:
    """A spreadsheet cell; text a spreadsheet would run as a formula gets a leading quote
    (leaked mail is hostile input, and a Subject can start with '='), and control and
    bidi characters are shown as escapes, as in every other human view: ``cat`` of the
    file must not run a Subject's escape sequences (tests/test_terminal_safety.py)."""
    if v is None:
        return ""
    if isinstance(v, list):
        v = " | ".join(str(x) for x in v)
    s = str(v)
    if s.startswith(_FORMULA):
        s = "'" + s
    return safe(s, None)


def csv_row(d: dict[str, Any], f: Facts) -> list[str]:
    src = d.get("source") or {}
    msg = d.get("message") or {}
    sigs = d.get("signatures") or []
    fil = d.get("file") or {}
    values: list[Any] = [
        src.get("path"),
        src.get("index"),
        src.get("offset"),
        f.verdict,
        d.get("error"),
        msg.get("from"),
        d.get("from_domain"),
        msg.get("to"),
        msg.get("subject"),
        msg.get("date"),
        f.year if f.year != "no date" else None,
        msg.get("message_id"),
        "; ".join(str(s.get("domain")) for s in sigs),
        "; ".join(str(s.get("selector")) for s in sigs),
        "; ".join(str(s.get("result")) for s in sigs),
        "; ".join(f.reasons),
        "; ".join(f.caveats),
        "; ".join(str(s.get("key_bits")) for s in sigs if s.get("key_bits")),
        fil.get("size"),
        fil.get("sha256"),
        f.summary,
    ]
    return [_cell(v) for v in values]


_NON_ASCII = re.compile(r"[^\x00-\x7e]")


def _u_escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    if c < 0x10000:
        return f"\\u{c:04x}"
    c -= 0x10000
    return f"\\u{0xD800 | (c >> 10):04x}\\u{0xDC00 | (c & 0x3FF):04x}"


def json_line(d: dict[str, Any]) -> bytes:
    """One compact JSON line, ASCII only (``\\uXXXX`` escapes, as ``json.dumps(ensure_ascii=True)``
    writes them): a JSON line read in a terminal must not carry live control or bidi
    characters. orjson does the encoding (a quarter of the time of the json module on a
    full report); anything it refuses (a lone surrogate, an integer over 64 bits from
    hostile input) goes through the json module instead."""
    try:
        b = orjson.dumps(d)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(d, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    if b.isascii() and b"\x7f" not in b:
        return b
    # Outside ASCII only inside strings in valid JSON, so escaping each such character is exact.
    return _NON_ASCII.sub(_u_escape, b.decode("utf-8")).encode("ascii")


@fast_init
@dataclass(frozen=True)
class Row:
    """One message's results, as a worker sends them back: its JSON line (with its line end),
    CSV row, summary facts, and input size (progress)."""

    line: bytes | None
    csv: list[str] | None
    facts: Facts
    size: int


@dataclass
class Job:
    """What checking a message needs, in the parent or (inherited or rebuilt) in a worker."""

    keys: KeyStore
    rerun: Rerun | None
    want_json: bool
    want_csv: bool
    mime: bool = False  # --mime: attachments and MIME defects, as check reports them (slower)


def check_items(items: Sequence[Item], job: Job) -> list[Row]:
    rows = []
    for it, d in zip(items, item_dicts(items, job.keys, job.rerun, job.mime), strict=True):
        f = facts(d)
        # The line end is added here, in the worker, so the parent only joins (--jobs N).
        line = json_line(d) + b"\n" if job.want_json else None
        rows.append(Row(line, csv_row(d, f) if job.want_csv else None, f, it.size))
    return rows


def rerun_command(args: argparse.Namespace, report: Report, source: Source) -> str:
    """The command that re-runs one message's check, as ``check`` writes it; a message
    inside an mbox is re-checked by scanning the mbox (``check`` reads one message a file)."""
    from verify import keycli

    cmd = keycli.rerun_command(args, report, source.path)
    if source.mbox:
        cmd = cmd.replace("provenance check", "provenance scan", 1) + f"  # message #{source.index} of the mbox"
    return cmd


# ---------------------------------------------------------------------------
# Keys: one lookup per name for the whole scan

_KEY_FIELDS = (b"dkim-signature", b"arc-message-signature", b"arc-seal")
_FIELD_VALUE = re.compile(rb"[ \t]*:(.*(?:\r?\n[ \t].*)*)")


def key_names(data: bytes) -> set[str]:
    """The key names (``s._domainkey.d``) a message's signatures will ask for.

    A cheap read of ``d=`` and ``s=`` in the header section, so the parent can look
    each key up once before a worker needs it. A name missed here is still looked up
    by the worker itself, and a name read from a malformed signature costs one spare
    lookup: this only saves lookups, it decides nothing.
    """
    end = data.find(b"\r\n\r\n")
    if end == -1:
        end = data.find(b"\n\n")
    head = data if end == -1 else data[: end + 2]
    names: set[str] = set()
    low = head.lower()
    for name in _KEY_FIELDS:
        pos = low.find(name)
        while pos != -1:
            if pos == 0 or low[pos - 1] == 0x0A:  # at the start of a line
                m = _FIELD_VALUE.match(head, pos + len(name))
                if m is not None:
                    _add_key_name(m.group(1), names)
            pos = low.find(name, pos + 1)
    return names


def _add_key_name(value: bytes, names: set[str]) -> None:
    tags = {}
    for part in value.split(b";"):
        tag, eq, tag_value = part.partition(b"=")
        if eq:
            tags[tag.strip()] = tag_value
    d, s = tags.get(b"d"), tags.get(b"s")
    if d and s:
        dom = d.strip().decode("utf-8", "backslashreplace").lower()
        sel = s.strip().decode("utf-8", "backslashreplace").lower()
        if dom and sel:
            names.add(f"{sel}._domainkey.{dom}")


class KeyPrefetch:
    """Looks each key name up once, in the parent; live DNS lookups run concurrently."""

    def __init__(self, store: KeyStore, threads: int = 8) -> None:
        self.store = store
        self._pool = (
            None if store.offline else ThreadPoolExecutor(max_workers=threads, thread_name_prefix="keys")
        )  # dnspython resolvers are thread-safe
        self._pending: dict[str, Future[tuple[KeyLookup, ...]]] = {}
        self.known: dict[str, tuple[KeyLookup, ...]] = {}

    def answers(self, items: Iterable[Item]) -> dict[str, tuple[KeyLookup, ...]]:
        names: set[str] = set()
        for it in items:
            if it.data is not None:
                names |= key_names(it.data)
        for n in names - self.known.keys() - self._pending.keys():
            if self._pool is None:
                self.known[n] = self.store.lookup(n)
            else:
                self._pending[n] = self._pool.submit(self.store.lookup, n)
        for n in names & self._pending.keys():
            self.known[n] = self._pending.pop(n).result()
        return {n: self.known[n] for n in names}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


# ---------------------------------------------------------------------------
# Workers

_WORKER_JOB: Job | None = None


def _build_job(store_factory: Callable[[], KeyStore], args: argparse.Namespace, want_json: bool, want_csv: bool) -> Job:
    return Job(store_factory(), functools.partial(rerun_command, args), want_json, want_csv, bool(getattr(args, "mime", False)))


def _init_worker(build: Callable[[], Job] | None) -> None:
    global _WORKER_JOB
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    if _WORKER_JOB is None and build is not None:  # spawn: nothing was inherited
        _WORKER_JOB = build()
    _settle()  # a forked worker inherited the parent's settings; a spawned one needs its own


def _work(items: list[Item], answers: dict[str, tuple[KeyLookup, ...]]) -> Done:
    assert _WORKER_JOB is not None
    _WORKER_JOB.keys.prime(answers.items())
    return Done.of(check_items(mailbox.load(items), _WORKER_JOB))


# ---------------------------------------------------------------------------
# Summary


@dataclass
class Summary:
    """Counts for the closing table; fed one :class:`Facts` per message."""

    total: int = 0
    resumed: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    years: dict[str, Counter[str]] = field(default_factory=dict)
    domains: dict[str, Counter[str]] = field(default_factory=dict)
    reasons: Counter[str] = field(default_factory=Counter)
    caveats: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    follow_up: list[Facts] = field(default_factory=list)
    follow_up_total: int = 0

    def add(self, f: Facts, resumed: bool = False) -> None:
        self.total += 1
        self.resumed += resumed
        self.verdicts[f.verdict] += 1
        self.years.setdefault(f.year, Counter())[f.verdict] += 1
        for dom in f.domains or ("(not examined)" if f.verdict == "error" else "(no signature)",):
            self.domains.setdefault(dom, Counter())[f.verdict] += 1
        if f.verdict not in ("verified", "weak", "unsigned"):
            self.reasons.update(f.reasons)
        self.caveats.update(f.caveats)
        if f.error is not None:
            self.errors[_error_kind(f.error)] += 1
        if f.verdict in ("failed", "error"):
            self.follow_up_total += 1
            if len(self.follow_up) < FOLLOW_UP_ROWS:
                self.follow_up.append(f)

    def merge(self, other: Summary) -> None:
        """Add the counts of a later part of the scan (a worker's batch), as if each message were added here."""
        self.total += other.total
        self.resumed += other.resumed
        self.verdicts.update(other.verdicts)
        for mine, theirs in ((self.years, other.years), (self.domains, other.domains)):
            for key, counts in theirs.items():
                mine.setdefault(key, Counter()).update(counts)
        self.reasons.update(other.reasons)
        self.caveats.update(other.caveats)
        self.errors.update(other.errors)
        self.follow_up.extend(other.follow_up[: FOLLOW_UP_ROWS - len(self.follow_up)])
        self.follow_up_total += other.follow_up_total


@dataclass
class Done:
    """A checked batch, as the parent needs it: the JSONL bytes, CSV rows, summary counts
    and input size. Workers send this rather than one object per message: it is what the
    parent writes and adds up, with less to unpickle (--jobs N)."""

    lines: bytes
    csv: list[list[str]]
    summary: Summary
    size: int
    count: int

    @staticmethod
    def of(rows: Sequence[Row]) -> Done:
        summary = Summary()
        for r in rows:
            summary.add(r.facts)
        return Done(
            b"".join([r.line for r in rows if r.line is not None]),
            [r.csv for r in rows if r.csv is not None],
            summary,
            sum(r.size for r in rows),
            len(rows),
        )


_NUMBERS = re.compile(r"\d+")


def _error_kind(problem: str) -> str:
    """Group error messages that differ only in numbers or quoted text."""
    kind = problem.split(" (")[0] if "(" in problem and not problem.startswith("internal") else problem
    return _NUMBERS.sub("N", kind)[:100]


def _heading(console: Console, title: str) -> None:
    console.print()
    console.print(Text(title, style="bold"))


def _verdict_table(rows: dict[str, Counter[str]], order: Sequence[str], first: str) -> Table:
    t = Table()
    t.add_column(first)
    for v in VERDICTS:
        t.add_column(v, justify="right")
    t.add_column("total", justify="right")
    for key in order:
        c = rows[key]
        t.add_row(Text(safe(key)), *(f"{c[v]:,}" if c[v] else "" for v in VERDICTS), f"{sum(c.values()):,}")
    return t


def render_summary(s: Summary, console: Console, elapsed: float, jobs: int, notes: Sequence[str]) -> None:
    """The closing tables: verdicts, by year, by signing domain, reasons, caveats, errors,
    and the failed or broken messages to follow up. Every untrusted string is escaped."""
    fresh = s.total - s.resumed
    rate = fresh / elapsed if elapsed > 0 else 0.0
    head = (
        f"Scanned {fresh:,} message{'s' if fresh != 1 else ''} in {elapsed:.1f} s ({rate:,.0f} msg/s, {jobs} job{'s' if jobs != 1 else ''})"
    )
    if s.resumed:
        head += f"; {s.resumed:,} more taken from the --resume file"
    console.print(Text(head + "."))
    for n in notes:
        console.print(Text(safe(n)))

    _heading(console, "Verdicts")
    t = Table()
    t.add_column("verdict")
    t.add_column("messages", justify="right")
    t.add_column("%", justify="right")
    for v in VERDICTS:
        t.add_row(v, f"{s.verdicts[v]:,}", f"{100 * s.verdicts[v] / s.total:.1f}" if s.total else "")
    t.add_row(Text("total", style="bold"), f"{s.total:,}", "")
    console.print(t)

    _heading(console, "By year of the Date field")
    console.print(_verdict_table(s.years, sorted(s.years, key=lambda y: (not y.isdigit(), y)), "year"))

    doms = sorted(s.domains, key=lambda d: (-sum(s.domains[d].values()), d))
    shown = doms[:TOP_DOMAINS]
    table_rows = {d: s.domains[d] for d in shown}
    if len(doms) > TOP_DOMAINS:
        rest: Counter[str] = Counter()
        for d in doms[TOP_DOMAINS:]:
            rest.update(s.domains[d])
        label = f"({len(doms) - TOP_DOMAINS:,} other domains)"
        table_rows[label] = rest
        shown.append(label)
    _heading(console, "By signing domain (d=; a message signed by two domains counts under each)")
    console.print(_verdict_table(table_rows, shown, "signing domain"))

    for title, counter, what in (
        ("Why signatures did not pass, in failed and unverifiable messages", s.reasons, "reason"),
        ("Caveats", s.caveats, "caveat"),
        ("Errors: messages that could not be examined", s.errors, "problem"),
    ):
        if not counter:
            continue
        _heading(console, title)
        t = Table()
        t.add_column(what)
        t.add_column("messages", justify="right")
        for code, count in counter.most_common(15):
            t.add_row(Text(safe(code)), f"{count:,}")
        console.print(t)

    if s.follow_up:
        more = (
            f" (the first {len(s.follow_up)} of {s.follow_up_total:,}; all are in --jsonl/--csv)"
            if s.follow_up_total > len(s.follow_up)
            else ""
        )
        _heading(console, f"To follow up: failed and broken messages{more}")
        for f in s.follow_up:
            console.print(Text(f"{f.verdict:<7} ") + Text(safe(f.label)), soft_wrap=True)
            console.print(Text("        " + safe(f.summary)), soft_wrap=True)


# ---------------------------------------------------------------------------
# Outputs and --resume


def load_resume(path: str) -> tuple[set[tuple[str, int | None]], list[Facts], int | None]:
    """Messages already reported in a --jsonl file: their keys, their facts, and where a
    torn last line starts (the scan died while writing it), if any."""
    done: set[tuple[str, int | None]] = set()
    found: list[Facts] = []
    torn: int | None = None
    if not os.path.exists(path):
        return done, found, None
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the --resume file ({exc.strerror or exc})") from None
    with fh:
        pos = 0
        for raw in fh:
            line_start, pos = pos, pos + len(raw)
            try:
                d = json.loads(raw)
            except ValueError:
                if raw.endswith(b"\n"):
                    raise UsageError(f"{path}: line at byte {line_start} is not JSON; is this a `scan --jsonl` file?") from None
                torn = line_start
                break
            src = d.get("source") if isinstance(d, dict) else None
            if not isinstance(src, dict) or "path" not in src:
                raise UsageError(f"{path}: a line has no 'source'; is this a `scan --jsonl` file?")
            if not raw.endswith(b"\n"):
                torn = line_start  # complete JSON but no line end: rewrite it
                break
            done.add(mailbox.resume_key(str(src["path"]), src.get("index") if src.get("offset") is not None else None))
            found.append(facts(d))
    return done, found, torn


class Outputs:
    """The --jsonl and --csv files, written in input order and flushed per batch."""

    def __init__(self, jsonl: str | None, csv_path: str | None, append_jsonl: bool, torn: int | None, append_csv: bool) -> None:
        self.jsonl: IO[bytes] | None = None
        self.csv_fh: IO[str] | None = None
        self.csv: Any = None
        try:
            if jsonl:
                if append_jsonl and torn is not None:
                    with open(jsonl, "r+b") as fh:
                        fh.truncate(torn)
                self.jsonl = open(jsonl, "ab" if append_jsonl else "wb")
            if csv_path:
                exists = append_csv and os.path.exists(csv_path) and os.path.getsize(csv_path) > 0
                self.csv_fh = open(csv_path, "a" if exists else "w", encoding="utf-8", newline="")
                self.csv = csv.writer(self.csv_fh)
                if not exists:
                    self.csv.writerow(CSV_FIELDS)
        except OSError as exc:
            self.close()
            raise UsageError(f"{exc.filename}: cannot write ({exc.strerror or exc})") from None

    def write(self, done: Done) -> None:
        if self.jsonl is not None:
            self.jsonl.write(done.lines)
            self.jsonl.flush()
        if self.csv is not None:
            self.csv.writerows(done.csv)
            assert self.csv_fh is not None
            self.csv_fh.flush()

    def close(self) -> None:
        for fh in (self.jsonl, self.csv_fh):
            if fh is not None:
                fh.close()


# ---------------------------------------------------------------------------
# The scan


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _batches(
    items: Iterator[Item], done: set[tuple[str, int | None]], on_skip: Callable[[Item], None], total: int = 0, jobs: int = 1
) -> Iterator[list[Item]]:
    """Batches of up to :data:`BATCH_MESSAGES` messages and :data:`BATCH_BYTES` bytes.

    With several workers, batches get smaller as the end nears (``total`` input bytes):
    otherwise one worker could still be busy with a last full batch while the others
    wait, ~8% of a 3,000-message scan. Each batch aims at a (2 x ``jobs``)th of what is left.
    """
    batch: list[Item] = []
    size = 0
    seen = seen_bytes = 0
    limit = BATCH_MESSAGES
    for it in items:
        if done and it.source.key in done:
            on_skip(it)
            continue
        batch.append(it)
        n = len(it.data) if it.data is not None else it.span[1] if it.span is not None else 0
        size += n
        seen += 1
        seen_bytes += max(it.size, n)
        if len(batch) >= limit or size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
            if jobs > 1 and total:
                left = max(0, total - seen_bytes) / (seen_bytes / seen)  # messages, estimated from those so far
                limit = min(BATCH_MESSAGES, max(16, int(left / (2 * jobs))))
    if batch:
        yield batch


class _Progress:
    """A rich progress bar on stderr: bytes read (for the ETA), messages and their rate."""

    def __init__(self, stderr: TextIO, total: int, quiet: bool) -> None:
        self.messages = 0
        self.started = time.perf_counter()
        self._bar: Any = None
        if quiet:
            return
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        console = Console(file=stderr, highlight=False)
        self._bar = Progress(
            TextColumn("scanning"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[messages]:,} messages"),
            TextColumn("{task.fields[rate]:,.0f} msg/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task = self._bar.add_task("scan", total=max(total, 1), messages=0, rate=0.0)
        self._bar.start()

    def advance(self, nbytes: int, messages: int) -> None:
        self.messages += messages
        if self._bar is not None:
            elapsed = time.perf_counter() - self.started
            self._bar.update(self._task, advance=nbytes, messages=self.messages, rate=self.messages / elapsed if elapsed else 0.0)

    def finish(self) -> None:
        if self._bar is not None:
            task = self._bar.tasks[0]
            self._bar.update(self._task, completed=task.total)
            self._bar.stop()


def run(args: argparse.Namespace, store: KeyStore, store_factory: Callable[[], KeyStore], stdout: TextIO, stderr: TextIO) -> int:
    """Run ``provenance scan``; 0 when the scan ran (whatever the verdicts)."""
    jobs = args.jobs or default_jobs()
    plan = mailbox.plan(args.paths)
    jsonl = args.jsonl
    done: set[tuple[str, int | None]] = set()
    resumed: list[Facts] = []
    torn = None
    append_jsonl = False
    if args.resume:
        done, resumed, torn = load_resume(args.resume)
        if jsonl is None:
            jsonl = args.resume
        append_jsonl = os.path.abspath(jsonl) == os.path.abspath(args.resume)
    outputs = Outputs(jsonl, args.csv, append_jsonl, torn, append_csv=bool(args.resume))
    summary = Summary()
    for f in resumed:
        summary.add(f, resumed=True)
    notes = []
    if plan.skipped:
        notes.append(f"{plan.skipped:,} files in the folders were not read (not .eml, .msg or .mbox).")
    if torn is not None:
        notes.append(
            f"The last line of {args.resume} was cut off (the previous scan stopped while writing it); that message was checked again."
        )
    want_json, want_csv = outputs.jsonl is not None, outputs.csv is not None
    job = Job(store, functools.partial(rerun_command, args), want_json, want_csv, bool(getattr(args, "mime", False)))

    workers = None
    progress = None
    with _scan_gc(), contextlib.ExitStack() as cleanup:
        cleanup.callback(lambda: _finish(progress, workers, outputs))
        # Worker processes first: they fork before any thread (progress, DNS) exists.
        # Keys are looked up once, in the parent, and handed to the workers: one DNS query per
        # selector for the whole scan, and --record-keys sees every answer. Offline and not
        # recording, a lookup is a read of key files each worker already holds, so workers
        # read their own and the parent skips parsing every header (~10 us a message).
        prefetch = not store.offline or bool(getattr(args, "record_keys", None))
        workers = (
            _Workers(jobs, job, functools.partial(_build_job, store_factory, args, want_json, want_csv), prefetch) if jobs > 1 else None
        )
        progress = _Progress(stderr, plan.total_bytes, args.quiet)

        def handle(done: Done) -> None:
            outputs.write(done)
            summary.merge(done.summary)
            assert progress is not None
            progress.advance(done.size, done.count)

        def skip(it: Item) -> None:
            assert progress is not None
            progress.advance(it.size, 0)

        messages = mailbox.iter_messages(plan, mbox_data=workers is None or workers.prefetch is not None)
        batches = _batches(messages, done, skip, plan.total_bytes, jobs)
        if workers is None:
            for batch in batches:
                handle(Done.of(check_items(batch, job)))
        else:
            workers.run(batches, handle)
    assert progress is not None
    elapsed = time.perf_counter() - progress.started
    console = Console(file=stdout, highlight=False, emoji=False, soft_wrap=False, width=None if stdout.isatty() else 120)
    render_summary(summary, console, elapsed, jobs, notes)
    return 0


def _finish(progress: _Progress | None, workers: _Workers | None, outputs: Outputs) -> None:
    if progress is not None:
        progress.finish()
    if workers is not None:
        workers.close()
    outputs.close()


#: Container allocations between young-generation collections during a scan (Python's default is 700).
_GC_YOUNG = 50_000


@contextlib.contextmanager
def _scan_gc() -> Iterator[None]:
    """Garbage collection set for a scan, and put back after it.

    A scan allocates millions of short-lived objects; with the default settings the
    collector took ~8% of a scan's time, mostly re-walking the long-lived ones (modules,
    the Public Suffix List, key files) in full collections. Those are frozen first
    (``gc.freeze``; forked workers inherit that, which also spares their copy-on-write
    pages), and young collections run every 50,000 allocations instead of 700: under 1% of
    the time. Reference cycles are still collected, only in larger batches.
    """
    old = gc.get_threshold()
    _settle()
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


def _settle() -> None:
    """Ready this process to check messages: the Public Suffix List loaded once (not on
    the first message), then it and every other long-lived object frozen, and young
    collections every :data:`_GC_YOUNG` allocations (see :func:`_scan_gc`)."""
    from verify.verdict import org_domain

    org_domain("warm.example")
    gc.freeze()
    gc.set_threshold(_GC_YOUNG, *gc.get_threshold()[1:])


def _ready() -> bool:
    return True


class _Workers:
    """``jobs`` worker processes checking batches, results taken back in input order."""

    def __init__(self, jobs: int, job: Job, build: Callable[[], Job], prefetch: bool = True) -> None:
        global _WORKER_JOB
        self.jobs = jobs
        # fork: workers inherit the loaded key files and modules, copied before any
        # thread starts; elsewhere (spawn) each worker builds its own.
        ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
        inherited = ctx.get_start_method() == "fork"  # the Public Suffix List too: _scan_gc loaded it
        _WORKER_JOB = job if inherited else None
        self.pool = ProcessPoolExecutor(
            max_workers=jobs, mp_context=ctx, initializer=_init_worker, initargs=(None if inherited else build,)
        )
        self.pool.submit(_ready).result()  # with fork, this starts every worker now
        self.prefetch = KeyPrefetch(job.keys) if prefetch else None

    def run(self, batches: Iterator[list[Item]], handle: Callable[[Done], None]) -> None:
        window: deque[Future[Done]] = deque()
        try:
            for batch in batches:
                answers = self.prefetch.answers(batch) if self.prefetch is not None else {}
                # An mbox message's bytes are re-read by the worker from the file (page
                # cache) rather than pickled through a pipe: that halves the parent's work.
                window.append(self.pool.submit(_work, [it.without_data() for it in batch], answers))
                while len(window) > 2 * self.jobs:
                    handle(window.popleft().result())
            while window:
                handle(window.popleft().result())
        except BrokenProcessPool:
            raise UsageError(
                "a worker process died (out of memory?); the reports written so far are kept: re-run with --resume FILE.jsonl"
            ) from None

    def close(self) -> None:
        global _WORKER_JOB
        if self.prefetch is not None:
            self.prefetch.close()
        self.pool.shutdown(wait=True, cancel_futures=True)
        _WORKER_JOB = None
