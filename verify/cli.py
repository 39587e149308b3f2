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

from verify import __version__
from verify.engine import check_file
from verify.errors import InputError, ProvenanceError, UsageError
from verify.keys import KeySource, KeyStore
from verify.model import Report
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


def _key_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("keys")
    g.add_argument(
        "--keys",
        action="append",
        default=[],
        metavar="FILE",
        help="DNS master-file records (dig output or a zone file) holding DKIM keys; repeatable",
    )
    g.add_argument("--offline", action="store_true", help="no network at all: keys come only from --keys files")
    g.add_argument("--resolver", metavar="IP[:PORT]", help="ask this DNS resolver instead of the system's")
    g.add_argument("--timeout", type=_positive, default=5.0, metavar="S", help="seconds per DNS lookup (default 5)")


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
    _key_options(c)
    out = c.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print JSON (one object for one file, a list for several)")
    out.add_argument("--html", metavar="FILE", help="also save the report as a standalone HTML page")
    out.add_argument("--markdown", metavar="FILE", help="also save the report as Markdown")
    out.add_argument("-o", "--output", metavar="FILE", help="write the report here instead of stdout")
    return p


def make_store(args: argparse.Namespace) -> KeyStore:
    from verify.keys.zonefile import ZoneFileSource

    files: list[KeySource] = [ZoneFileSource(path) for path in args.keys]
    if args.offline:
        return KeyStore(files=files)
    from verify.keys.live import LiveDnsSource

    return KeyStore(files=files, dns=LiveDnsSource(args.resolver, args.timeout))


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
        reports.append(r)
        items.append(r.json())

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
