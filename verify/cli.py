"""The ``provenance`` command: a thin layer of options over the library.

Reports go to stdout (or ``-o FILE``); errors and progress go to stderr, one line per
problem, never a traceback. Exit codes: 0 every message verified, 1 any other verdict,
2 a usage or input error (a batch still checks the other files).
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO

from rich.console import Console

from verify import __version__, keycli
from verify.engine import check_file
from verify.errors import InputError, ProvenanceError, UsageError
from verify.keys import KeyStore
from verify.model import Report, replace
from verify.render.escape import safe

EXIT_VERIFIED, EXIT_NOT_VERIFIED, EXIT_ERROR = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _positive(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not v > 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return v


def _key_options(p: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    g = p.add_argument_group("keys")
    g.add_argument("--keys", action="append", default=[], metavar="FILE", help=keycli.KEYS_HELP)
    g.add_argument("--offline", action="store_true", help="no network at all: keys come only from --keys files")
    g.add_argument("--resolver", metavar="IP[:PORT]", help="ask this DNS resolver instead of the system's")
    g.add_argument("--timeout", type=_positive, default=keycli.DEFAULT_TIMEOUT, metavar="S", help="seconds per DNS lookup (default 5)")
    keycli.add_options(g)
    return g


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="provenance",
        description="Is this leaked email what it claims to be? Verifies DKIM on the exact bytes and explains what that proves.",
    )
    p.add_argument("--version", action="version", version=f"provenance {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    c = sub.add_parser(
        "check",
        help="verify one or more .eml files and print a report",
        description="Verify every DKIM signature of each FILE and print a report.",
    )
    c.add_argument("files", nargs="+", metavar="FILE", help="message files (.eml), read-only")
    keycli.add_record_option(_key_options(c))
    out = c.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print JSON (one object for one file, a list for several)")
    out.add_argument("--html", metavar="FILE", help="also save the report as a standalone HTML page")
    out.add_argument("--markdown", metavar="FILE", help="also save the report as Markdown")
    out.add_argument("-o", "--output", metavar="FILE", help="write the report here instead of stdout")
    _scan_parser(sub)
    keycli.add_keys_command(sub)
    return p


def _jobs(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return v


def _scan_parser(sub: Any) -> None:
    s = sub.add_parser(
        "scan",
        help="check every message of folders, mbox files and Maildirs; print a corpus summary",
        description="Check every message of each PATH (a folder walked for .eml files, an mbox file, or a Maildir) "
        "and print a summary table. Broken messages become `error` rows; the scan goes on.",
    )
    s.add_argument("paths", nargs="+", metavar="PATH", help="folders, mbox files, Maildirs or .eml files, read-only")
    keycli.add_record_option(_key_options(s))
    run = s.add_argument_group("scan")
    run.add_argument("--jobs", type=_jobs, metavar="N", help="worker processes (default: the number of cores)")
    run.add_argument("--jsonl", metavar="FILE", help="write one JSON report per message per line (check --json's fields plus source)")
    run.add_argument("--csv", metavar="FILE", help="write one flat row per message, for a spreadsheet")
    run.add_argument(
        "--resume",
        metavar="FILE.jsonl",
        help="skip messages already reported in this --jsonl file and append to it (unless --jsonl names another file)",
    )
    run.add_argument(
        "--mime",
        action="store_true",
        help="also list attachments (with SHA-256) and MIME defects, as check does; a full MIME parse, about 0.5 ms a message more",
    )
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar on stderr")


def make_store(args: argparse.Namespace) -> KeyStore:
    """Key files (zone, archive or recorded), live DNS unless --offline, DNSSEC, revealed keys."""
    return keycli.make_store(args)


def _err(stream: TextIO, msg: str) -> None:
    stream.write(f"provenance: error: {safe(msg)}\n")


def _write_file(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def cmd_check(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from verify.render import html as html_render
    from verify.render import json as json_render
    from verify.render import terminal

    store = make_store(args)
    reports: list[Report] = []
    items: list[dict[str, Any]] = []
    errors = 0
    for path in args.files:
        try:
            r = check_file(path, keys=store)
        except InputError as exc:
            errors += 1
            _err(stderr, str(exc))
            items.append(json_render.error_to_dict(path, exc.problem))
            continue
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop a batch or print a traceback
            errors += 1
            _err(stderr, f"{path}: internal error while checking ({type(exc).__name__}: {exc}); please report it")
            items.append(json_render.error_to_dict(path, f"internal error: {type(exc).__name__}"))
            continue
        r = replace(r, rerun=keycli.rerun_command(args, r, path))
        reports.append(r)
        items.append(r.json())
    keycli.record(args, store, args.files)

    out: TextIO = io.StringIO() if args.output else stdout
    if args.json:
        if items:
            json_render.JsonRenderer().render(items, out, as_list=len(args.files) > 1)
    else:
        console = Console(file=out, highlight=False, emoji=False, soft_wrap=False, width=None if out.isatty() else 120)
        for r in reports:
            terminal.render(r, console)
    if args.output:
        assert isinstance(out, io.StringIO)
        _write_file(args.output, out.getvalue())
    if args.html:
        _write_file(args.html, html_render.to_html(reports))
    if args.markdown:
        _write_file(args.markdown, html_render.to_markdown(reports))
    if errors:
        return EXIT_ERROR
    return EXIT_VERIFIED if reports and all(reports) else EXIT_NOT_VERIFIED


def cmd_scan(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    import functools

    from verify import scan

    store = make_store(args)
    code = scan.run(args, store, functools.partial(make_store, args), stdout, stderr)
    keycli.record(args, store, args.paths)
    return code


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(stderr)
            return EXIT_ERROR
        if args.command == "check":
            return cmd_check(args, stdout, stderr)
        if args.command == "keys":
            return keycli.cmd_keys(args, stdout, stderr)
        if args.command == "scan":
            return cmd_scan(args, stdout, stderr)
        raise UsageError(f"unknown command {args.command}")
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_ERROR
    except ProvenanceError as exc:
        _err(stderr, str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        _err(stderr, "interrupted")
        return 130


def main_entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
