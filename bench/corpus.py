#!/usr/bin/env python3
"""Generate a synthetic signed mail corpus for benchmarks and scan tests.

    python bench/corpus.py --count 3000 --out bench/out          # mbox + keys.zone
    python bench/corpus.py --count 300 --out /tmp/c --folder     # also one .eml per message

Writes ``corpus.mbox`` (mboxrd: body lines starting with ``From `` quoted as ``>From ``),
``keys.zone`` (the public keys as DNS master-file records), ``expected.json`` (what each
message was built to be) and, with ``--folder``, ``eml/NNNNNN.eml``.

What the corpus looks like, so benchmark numbers mean something:

* a dozen keys: ten RSA-2048, one RSA-1024 used with rsa-sha1, one Ed25519, over ten
  organisations plus a bulk mailer; one extra selector is deliberately not published;
* sizes like an office mailbox: plain and multipart/alternative text of a few KB, and
  one message in five with a base64 attachment, averaging about 16 KB a message;
* 3-5 Received fields, Authentication-Results, X-Mailer, dates from 2005 to 2020;
* mostly intact mail, with a few of every other verdict: body changed after signing,
  unsigned, signed by a bulk mailer for another domain, key missing from DNS;
* about 3% of messages with a body line starting ``From `` (quoted in the mbox).

Messages are signed by dkimpy (the reference signer). Keys are generated fresh on each
run; everything else follows ``--seed``.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import email.utils
import json
import random
import sys
import textwrap
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

CRLF = b"\r\n"
SIGNED = [b"from", b"to", b"cc", b"subject", b"date", b"message-id", b"mime-version", b"content-type"]

WORDS = (
    "the budget review meeting draft numbers quarter board report attached please see below thanks regards "
    "we should discuss this before friday contract vendor approval legal counsel press statement release "
    "schedule travel expenses invoice payment account transfer confidential internal only do not forward "
    "samples results analysis engine detection update policy decision agreement call tomorrow morning "
    "office team project deadline client proposal revised version comments changes final summary notes"
).split()


@dataclass(frozen=True)
class Key:
    selector: str
    domain: str
    kind: str  # rsa | ed25519
    bits: int
    algorithm: str
    published: bool = True


ORGS = [
    "acme.example",
    "globex.example",
    "initech.example",
    "umbrella.example",
    "hooli.example",
    "piedpiper.example",
    "vandelay.example",
    "wayne.example",
    "stark.example",
    "tyrell.example",
]
BULK = "bulkmailer.example"

KEYS = [
    Key("s2009", "acme.example", "rsa", 2048, "rsa-sha256"),
    Key("s2015", "acme.example", "rsa", 2048, "rsa-sha256"),
    Key("mail", "globex.example", "rsa", 2048, "rsa-sha256"),
    Key("k1", "initech.example", "rsa", 2048, "rsa-sha256"),
    Key("dkim", "umbrella.example", "rsa", 2048, "rsa-sha256"),
    Key("ed1", "hooli.example", "ed25519", 256, "ed25519-sha256"),
    Key("google", "piedpiper.example", "rsa", 2048, "rsa-sha256"),
    Key("legacy", "vandelay.example", "rsa", 1024, "rsa-sha1"),
    Key("sel1", "wayne.example", "rsa", 2048, "rsa-sha256"),
    Key("sel2", "stark.example", "rsa", 2048, "rsa-sha256"),
    Key("default", "tyrell.example", "rsa", 2048, "rsa-sha256"),
    Key("mx1", BULK, "rsa", 2048, "rsa-sha256"),
    Key("rotated", "tyrell.example", "rsa", 2048, "rsa-sha256", published=False),
]


@dataclass(frozen=True)
class KeyMaterial:
    spec: Key
    private: bytes  # what dkimpy's sign() takes
    record: str  # the TXT record


def make_keys() -> list[KeyMaterial]:
    out = []
    for k in KEYS:
        if k.kind == "ed25519":
            ek = ed25519.Ed25519PrivateKey.generate()
            seed = ek.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
            pub = ek.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            out.append(KeyMaterial(k, base64.b64encode(seed), f"v=DKIM1; k=ed25519; p={base64.b64encode(pub).decode()}"))
        else:
            rk = rsa.generate_private_key(public_exponent=65537, key_size=k.bits)
            pem = rk.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
            der = rk.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            out.append(KeyMaterial(k, pem, f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"))
    return out


def zone_text(keys: Iterable[KeyMaterial]) -> str:
    lines = ["; DKIM keys of the synthetic benchmark corpus (bench/corpus.py); all fictional"]
    for km in keys:
        if not km.spec.published:
            lines.append(f"; {km.spec.selector}._domainkey.{km.spec.domain} deliberately not published")
            continue
        rec = km.record
        parts = " ".join(f'"{rec[i : i + 250]}"' for i in range(0, len(rec), 250))
        lines.append(f"{km.spec.selector}._domainkey.{km.spec.domain}. 3600 IN TXT {parts}")
    return "\n".join(lines) + "\n"


def _paragraphs(rng: random.Random, size: int) -> list[str]:
    out: list[str] = []
    total = 0
    while total < size:
        n = rng.randint(20, 90)
        para = " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."
        out.append(para)
        total += len(para) + 2
    return out


def _text(paras: list[str]) -> bytes:
    lines: list[str] = []
    for p in paras:
        lines.extend(textwrap.wrap(p, 72))
        lines.append("")
    return CRLF.join(x.encode() for x in lines) + CRLF


def _b64_lines(data: bytes) -> bytes:
    enc = base64.b64encode(data)
    return CRLF.join(enc[i : i + 76] for i in range(0, len(enc), 76)) + CRLF


@dataclass(frozen=True)
class Built:
    data: bytes
    kind: str  # verified | tampered | unsigned | unaligned | missing-key
    has_from_line: bool
    envelope: str
    date: dt.datetime


def build_message(i: int, rng: random.Random, keys: dict[tuple[str, str], KeyMaterial]) -> Built:
    """One message: headers, a body of realistic size, signed (or not) as its kind says."""
    roll = rng.random()
    kind = (
        "tampered"
        if roll < 0.04
        else "unsigned"
        if roll < 0.07
        else "unaligned"
        if roll < 0.12
        else "missing-key"
        if roll < 0.14
        else "verified"
    )
    published = [k for k in KEYS if k.published and k.domain != BULK]
    key = rng.choice(published)
    if kind == "missing-key":
        key = next(k for k in KEYS if not k.published)
    org = key.domain
    sender = (
        f"{rng.choice(['anna', 'ben', 'carla', 'dmitri', 'erin', 'farid', 'grace'])}.{rng.choice(['lee', 'ng', 'kovacs', 'diaz'])}@{org}"
    )
    rcpt_org = rng.choice(ORGS)
    to = f"team-{rng.randint(1, 40)}@{rcpt_org}"
    when = dt.datetime(2005, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=rng.randint(0, 16 * 365 * 86400))
    date = email.utils.format_datetime(when)

    # Body: plain text or multipart/alternative, sometimes an attachment.
    text_size = int(min(40_000, rng.lognormvariate(7.9, 0.8)))
    paras = _paragraphs(rng, text_size)
    has_from_line = rng.random() < 0.03
    if has_from_line:
        paras.insert(1, "From the desk of the director: see the figures below.")
    plain = _text(paras)
    boundary = f"=_b{i:06d}_{rng.randrange(16**8):08x}"
    attach = rng.random() < 0.2
    alternative = rng.random() < 0.4
    if not attach and not alternative:
        ctype = b"text/plain; charset=us-ascii"
        body = plain
    else:
        parts: list[bytes] = []
        inner_b = boundary + "_alt"
        if alternative:
            html = b"<html><body>" + b"".join(b"<p>" + p.encode() + b"</p>\r\n" for p in paras) + b"</body></html>\r\n"
            alt = (
                f"--{inner_b}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n".encode()
                + plain
                + f"--{inner_b}\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n".encode()
                + html
                + f"--{inner_b}--\r\n".encode()
            )
            first = f'Content-Type: multipart/alternative; boundary="{inner_b}"\r\n\r\n'.encode() + alt
        else:
            first = b"Content-Type: text/plain; charset=us-ascii\r\n\r\n" + plain
        parts.append(first)
        if attach:
            size = int(min(400_000, rng.lognormvariate(10.1, 0.7)))
            blob = rng.randbytes(size)
            name = rng.choice(["budget.xlsx", "draft.docx", "scan.pdf", "photo.jpg", "notes.zip"])
            parts.append(
                f'Content-Type: application/octet-stream; name="{name}"\r\n'
                f'Content-Disposition: attachment; filename="{name}"\r\n'
                "Content-Transfer-Encoding: base64\r\n\r\n".encode()
                + _b64_lines(blob)
            )
        if attach:
            ctype = f'multipart/mixed; boundary="{boundary}"'.encode()
            body = b"This is a multi-part message in MIME format.\r\n\r\n"
            body += b"".join(f"--{boundary}\r\n".encode() + p for p in parts) + f"--{boundary}--\r\n".encode()
        else:
            ctype = f'multipart/alternative; boundary="{inner_b}"'.encode()
            body = alt

    headers = [
        (b"Date", date.encode()),
        (b"From", f"{sender.split('@')[0].replace('.', ' ').title()} <{sender}>".encode()),
        (b"To", to.encode()),
        (b"Subject", f"Re: {' '.join(rng.choice(WORDS) for _ in range(rng.randint(2, 7)))} #{i}".encode()),
        (b"Message-ID", f"<{i}.{rng.randrange(10**9)}@{org}>".encode()),
        (b"MIME-Version", b"1.0"),
        (b"Content-Type", ctype),
        (b"X-Mailer", rng.choice([b"Microsoft Outlook 14.0", b"Apple Mail (2.3445)", b"Thunderbird 68.0"])),
    ]
    if rng.random() < 0.3:
        headers.insert(3, (b"Cc", f"{rng.choice(['legal', 'press', 'board'])}@{rng.choice(ORGS)}".encode()))
    message = b"".join(n + b": " + v + CRLF for n, v in headers) + CRLF + body

    signed = message
    if kind != "unsigned":
        sign_domain = BULK if kind == "unaligned" else key.domain
        sign_key = next(k for k in KEYS if k.domain == BULK) if kind == "unaligned" else key
        km = keys[(sign_key.selector, sign_domain)]
        with mock.patch("time.time", return_value=int(when.timestamp()) + 1):
            sig = dkim.sign(
                message,
                sign_key.selector.encode(),
                sign_domain.encode(),
                km.private,
                canonicalize=(b"relaxed", b"relaxed") if rng.random() < 0.8 else (b"relaxed", b"simple"),
                signature_algorithm=sign_key.algorithm.encode(),
                include_headers=[h for h in SIGNED if h != b"cc" or b"Cc: " in message],
            )
        signed = sig + message
        if kind == "tampered":
            cut = signed.index(CRLF + CRLF)
            signed = signed[:cut] + signed[cut:].replace(b" the ", b" THE ", 1) + b"P.S. wire the fee today.\r\n"
    # The route, oldest hop first: the sender's workstation to the recipient's store.
    mx = rng.randint(1, 9)  # drawn first: keeps the seeded corpora the tests rely on unchanged
    ws = rng.randint(1, 99)
    path = [f"ws-{ws}.{org}", f"smtp.{org}", f"out.{org}", f"mx{mx}.{rcpt_org}", f"filter.{rcpt_org}", f"store.{rcpt_org}"]
    hops = []
    t = when
    for n in range(rng.randint(3, 5)):
        t = t + dt.timedelta(seconds=rng.randint(1, 40))
        frm, by = path[n], path[n + 1]
        hops.append(
            f"Received: from {frm} ({frm} [192.0.2.{rng.randint(1, 254)}])\r\n"
            f"\tby {by} (Postfix) with ESMTPS id {rng.randrange(16**10):010X}\r\n"
            f"\tfor <{to}>; {email.utils.format_datetime(t)}\r\n"
        )
    hops.reverse()  # newest on top, as servers prepend them
    top = hops[0].encode() + f"Authentication-Results: mx.{rcpt_org}; dkim=pass header.d={org}\r\n".encode()
    data = top + b"".join(h.encode() for h in hops[1:]) + signed
    return Built(data, kind, has_from_line, sender, when)


def generate(count: int, seed: int = 2009, keys: list[KeyMaterial] | None = None) -> tuple[list[Built], list[KeyMaterial]]:
    """``count`` messages and the keys that signed them."""
    rng = random.Random(seed)
    keys = keys or make_keys()
    by_name = {(k.spec.selector, k.spec.domain): k for k in keys}
    return [build_message(i, rng, by_name) for i in range(count)], keys


def mbox_entry(msg: bytes, envelope: str, when: dt.datetime) -> bytes:
    """One mboxrd entry: the ``From `` line, the message with ``>*From `` lines quoted, a blank line."""
    stamp = time.asctime(when.timetuple())
    lines = msg.split(b"\n")
    quoted = b"\n".join(b">" + ln if ln.lstrip(b">").startswith(b"From ") else ln for ln in lines)
    return f"From {envelope} {stamp}\r\n".encode() + quoted + CRLF


def write_mbox(path: Path, items: Iterable[Built], repeat_to: int | None = None) -> int:
    """Write an mboxrd file; with ``repeat_to``, cycle the messages until that many are written."""
    msgs = list(items)
    n = 0
    with open(path, "wb") as fh:
        for b in _cycle(msgs, repeat_to or len(msgs)):
            fh.write(mbox_entry(b.data, b.envelope, b.date))
            n += 1
    return n


def _cycle(msgs: list[Built], total: int) -> Iterator[Built]:
    for i in range(total):
        yield msgs[i % len(msgs)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=3000, help="messages to generate (default 3000)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    ap.add_argument("--seed", type=int, default=2009)
    ap.add_argument("--folder", action="store_true", help="also write one .eml file per message under OUT/eml/")
    ap.add_argument("--repeat-to", type=int, metavar="N", help="also write OUT/big.mbox with N messages (the corpus repeated)")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    built, keys = generate(args.count, args.seed)
    (args.out / "keys.zone").write_text(zone_text(keys))
    write_mbox(args.out / "corpus.mbox", built)
    if args.folder:
        d = args.out / "eml"
        d.mkdir(exist_ok=True)
        for i, b in enumerate(built):
            (d / f"{i:06d}.eml").write_bytes(b.data)
    (args.out / "expected.json").write_text(
        json.dumps([{"index": i, "kind": b.kind, "from_line": b.has_from_line} for i, b in enumerate(built)])
    )
    if args.repeat_to:
        write_mbox(args.out / "big.mbox", built, args.repeat_to)
    sizes = [len(b.data) for b in built]
    kinds: dict[str, int] = {}
    for b in built:
        kinds[b.kind] = kinds.get(b.kind, 0) + 1
    print(
        f"{len(built)} messages, average {sum(sizes) / len(sizes) / 1024:.1f} KB, "
        f"{sum(1 for b in built if b'attachment;' in b.data)} with an attachment, {kinds}, in {time.perf_counter() - t0:.1f} s -> {args.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
