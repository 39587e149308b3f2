"""The key-provenance part of the command line: key options, recording, ``keys recover``.

Kept apart from :mod:`verify.cli` so that the command stays a thin layer: this module
turns options into a :class:`~verify.keys.KeyStore`, writes ``--record-keys``, builds
the exact re-run command, and runs ``provenance keys recover``.
"""

from __future__ import annotations

import argparse
import os
import shlex
from collections.abc import Sequence
from typing import TextIO

from verify import __version__
from verify.errors import InputError, UsageError
from verify.evidence import dkimpy_version, needs_network, offline_command
from verify.keys import KeySource, KeyStore, utcnow_iso
from verify.model import Report
from verify.render.escape import safe

DEFAULT_TIMEOUT = 5.0


def add_options(g: argparse._ArgumentGroup) -> None:
    """The options after ``--keys/--offline/--resolver/--timeout`` in the ``keys`` group."""
    g.add_argument("--dnssec", action="store_true", help="validate DNS answers with DNSSEC (the root key is built in)")
    g.add_argument(
        "--trust-anchor",
        action="append",
        default=[],
        metavar="FILE",
        help="DNSKEY or DS records to trust instead of the root key (implies --dnssec); repeatable",
    )
    g.add_argument(
        "--revealed",
        action="append",
        default=[],
        metavar="FILE",
        help="keys whose private half is public (PEM keys or SHA-256 fingerprints): their signatures prove nothing; repeatable",
    )


def add_record_option(g: argparse._ArgumentGroup) -> None:
    """``--record-keys``, for ``check`` (the one command that writes it)."""
    g.add_argument(
        "--record-keys",
        metavar="FILE",
        help="write every key answer used, as master-file records with their provenance; replay with --offline --keys FILE",
    )


KEYS_HELP = (
    "DKIM keys: DNS master-file records (dig output, a zone file, a --record-keys file) "
    "or a key-archive JSON list (archive.prove.email /api/key); repeatable"
)


def make_store(args: argparse.Namespace) -> KeyStore:
    from verify.keys.files import open_key_file
    from verify.keys.revealed import load_revealed

    files: list[KeySource] = [open_key_file(path) for path in args.keys]
    revealed: set[str] = set()
    for path in getattr(args, "revealed", []) or []:
        revealed |= load_revealed(path)
    anchors_files = getattr(args, "trust_anchor", []) or []
    dnssec = bool(getattr(args, "dnssec", False) or anchors_files)
    if args.offline:
        if dnssec:
            raise UsageError(
                "--dnssec validates live DNS answers, and --offline asks none (recorded answers keep the DNSSEC status they were recorded with)"
            )
        return KeyStore(files=files, revealed=revealed)
    from verify.keys.live import LiveDnsSource

    anchors = None
    if anchors_files:
        from verify.keys.dnssec import load_anchor_file

        anchors = {}
        for path in anchors_files:
            anchors.update(load_anchor_file(path))
    return KeyStore(files=files, dns=LiveDnsSource(args.resolver, args.timeout, dnssec=dnssec, anchors=anchors), revealed=revealed)


def rerun_command(args: argparse.Namespace, report: Report, path: str) -> str:
    """The exact command that re-runs this check: offline whenever the key answers allow it."""
    revealed = list(getattr(args, "revealed", []) or [])
    if getattr(args, "record_keys", None):
        return offline_command(path, [args.record_keys], revealed)
    if not needs_network(report.keys):
        return offline_command(path, list(args.keys), revealed)
    cmd = ["provenance", "check"]
    for f in args.keys:
        cmd += ["--keys", f]
    if args.resolver:
        cmd += ["--resolver", args.resolver]
    if args.timeout != DEFAULT_TIMEOUT:
        cmd += ["--timeout", f"{args.timeout:g}"]
    if getattr(args, "dnssec", False):
        cmd.append("--dnssec")
    for f in getattr(args, "trust_anchor", []) or []:
        cmd += ["--trust-anchor", f]
    for f in revealed:
        cmd += ["--revealed", f]
    return shlex.join([*cmd, path])


def record(args: argparse.Namespace, store: KeyStore, argv_files: Sequence[str]) -> None:
    """Write ``--record-keys``: every answer the run used, replayable with ``--offline --keys``."""
    from verify.keys.recorded import to_master_text

    path = getattr(args, "record_keys", None)
    if not path:
        return
    header = [
        f"provenance {__version__} (dkimpy {dkimpy_version()}): key answers recorded {utcnow_iso()}",
        "Replay offline with: " + offline_command("MESSAGE...", [path]),
        "Messages checked: " + " ".join(shlex.quote(f) for f in argv_files),
        "",
        "Each answer: a comment saying where it came from (source, resolver or file, time, status,",
        "DNSSEC status), a '; provenance-key:' line with the same as JSON, then its records.",
        "An answer without records replays a failed lookup (NXDOMAIN, timeout...) as that failure.",
    ]
    text = to_master_text(store.answers(), header)
    try:
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write(text)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


# --------------------------------------------------------------------------
# provenance keys recover


def add_keys_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    k = sub.add_parser("keys", help="key tools: recover a public key from signatures", description="Key tools.")
    ksub = k.add_subparsers(dest="keys_command", metavar="ACTION")
    r = ksub.add_parser(
        "recover",
        help="recover an RSA public key from two or more messages signed with it",
        description=(
            "Recover the RSA public key (modulus) of every d=/s= that signs two or more of the FILEs, as gcd(s^e - m), "
            "verify every input signature with it, and print it as a master-file record marked as reconstructed "
            "(usable with check --keys). Progress goes to stderr."
        ),
    )
    r.add_argument("files", nargs="+", metavar="FILE", help="message files (.eml) signed with the same d= and s=")
    r.add_argument(
        "-e", "--exponent", type=int, choices=(65537, 3), action="append", help="public exponent to try (default: 65537, then 3)"
    )
    r.add_argument("-o", "--output", metavar="FILE", help="write the record here instead of stdout")


def cmd_keys(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    if args.keys_command != "recover":
        raise UsageError("keys: give an action (recover)")
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from verify.engine import check_file
    from verify.keys.recorded import answer_block
    from verify.keys.recover import EXPONENTS, RecoveryError, collect, recover
    from verify.keys.static import StaticSource

    try:
        groups = collect(args.files)
    except InputError as exc:
        raise UsageError(str(exc)) from None
    usable = {k: v for k, v in groups.items() if len(v) >= 2}
    for (d, s), sigs in groups.items():
        if len(sigs) < 2:
            stderr.write(safe(f"provenance: {s}._domainkey.{d}: only one RSA signature, two or more are needed") + "\n")
    if not usable:
        raise UsageError("no d=/s= signs two or more of the files with RSA: nothing to recover")
    console = Console(file=stderr, highlight=False)
    blocks: list[str] = []
    failed = 0
    for (d, s), sigs in sorted(usable.items()):
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console, transient=True
        ) as bar:
            task = bar.add_task(safe(f"{s}._domainkey.{d}"), total=None)

            def step(what: str, i: int, n: int, task: object = task, bar: Progress = bar) -> None:
                bar.update(task, description=safe(what), completed=i - 1, total=n)  # type: ignore[arg-type]

            try:
                rec = recover(sigs, tuple(args.exponent or EXPONENTS), step)
            except RecoveryError as exc:
                failed += 1
                stderr.write(safe(f"provenance: {s}._domainkey.{d}: {exc}") + "\n")
                continue
        # The same check a report runs: each input signature, verified with the recovered key.
        store = KeyStore(files=[StaticSource({rec.name: rec.record}, origin="reconstructed", source="reconstructed")])
        ok = 0
        for sd in rec.inputs:
            r = check_file(sd.path, keys=store)
            ok += bool(r.signatures[sd.index].signature_ok)
        stderr.write(
            safe(
                f"provenance: {rec.name}: RSA-{rec.bits} key (e={rec.e}) recovered from {len(rec.inputs)} signatures in "
                f"{rec.seconds:.1f} s; small cofactor removed: {rec.cofactor}; {ok} of {len(rec.inputs)} signatures verify with it"
            )
            + "\n"
        )
        for sd in rec.left_out:
            stderr.write(
                safe(
                    f"provenance: {sd.path}: signature #{sd.index + 1} does not fit this key (another key, or a signed header was altered); left out"
                )
                + "\n"
            )
        if ok != len(rec.inputs):
            failed += 1
            continue
        lk = rec.lookup()
        sources = safe(" ".join(shlex.quote(os.path.basename(i.path)) for i in rec.inputs))
        blocks.append(
            f"; RECONSTRUCTED KEY for {rec.name}: RSA-{rec.bits}, e={rec.e}, SHA-256 {rec.fingerprint}\n"
            f"; recovered by provenance {__version__} from: {sources}\n"
            "; The messages are consistent with this one key; nothing here ties it to the domain.\n" + answer_block(lk)
        )
    text = "\n".join(blocks)
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    else:
        stdout.write(text)
    return 0 if not failed else 1
