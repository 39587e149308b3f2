#!/usr/bin/env python3
"""Generate the fictional "AV Lab" mailbox used as DKIM samples.

Run from anywhere:

    python samples/make_samples.py

Everything is written next to this script (``samples/``):

* ``keys/*.pem``   private keys (created once if absent, then reused)
* ``keys.zone``    the DNS TXT records for the public keys
* ``*.eml``        the sample messages

The output is deterministic: the keys are committed, ``time.time`` is pinned
while dkimpy signs (so ``t=`` is fixed), RSA PKCS#1 v1.5 and Ed25519
signatures are deterministic, and every other value is spelled out below.
Running the script twice produces byte-identical files.

After writing, the script re-verifies every sample with dkimpy against
``keys.zone`` and exits non-zero if any sample does not behave as intended.
Pass ``--no-check`` to skip that step.

All people, companies, domains, addresses and keys are fictional.  IP
addresses come from the documentation ranges of RFC 5737.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import hashlib
import logging
import math
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import dkim
import dns.name
import dns.rdatatype
import dns.zone
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

HERE = Path(__file__).resolve().parent
KEY_DIR = HERE / "keys"
ZONE_FILE = HERE / "keys.zone"

CRLF = "\r\n"

# The header fields covered by every signature (``from`` exactly once).
SIGNED_HEADERS = [b"from", b"to", b"subject", b"date", b"message-id",
                  b"mime-version", b"content-type"]
CANON = (b"relaxed", b"relaxed")

# Time zones used in headers.  Moscow was UTC+3 (MSK) in winter 2009 and
# all year in 2019; the newsroom is in London (GMT in winter, BST in summer).
MSK = dt.timezone(dt.timedelta(hours=3), "MSK")
GMT = dt.timezone(dt.timedelta(hours=0), "GMT")
BST = dt.timezone(dt.timedelta(hours=1), "BST")


# --------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class KeySpec:
    name: str          # file name in keys/ (without .pem)
    kind: str          # "rsa" or "ed25519"
    bits: int
    selector: str
    domain: str
    dns: str           # "published", "revoked" (empty p=) or "absent"
    comment: str


KEYS = {k.name: k for k in [
    KeySpec("avlab-2009a", "rsa", 2048, "2009a", "avlab.example", "published",
            "AV Lab main signing key, 2009 (rsa-sha256)"),
    KeySpec("avlab-ed2019", "ed25519", 256, "ed2019", "avlab.example", "published",
            "AV Lab Ed25519 key, 2019 (RFC 8463)"),
    KeySpec("avlab-legacy", "rsa", 1024, "legacy", "avlab.example", "published",
            "AV Lab legacy 1024-bit key, still used with rsa-sha1 in 2009"),
    KeySpec("weak512", "rsa", 512, "old512", "avlab.example", "published",
            "512-bit key on an old reporting box - factorable, do not trust"),
    KeySpec("mailer", "rsa", 2048, "mx1", "bulkmailer.example", "published",
            "third-party newsletter provider (not the From: domain)"),
    KeySpec("revoked", "rsa", 1024, "retired2008", "avlab.example", "revoked",
            "key retired by AV Lab: record kept with an empty p= (revoked)"),
    KeySpec("avlab-gone2009", "rsa", 2048, "gone2009", "avlab.example", "absent",
            "selector removed from DNS after key rotation"),
    KeySpec("lists-arc2019", "rsa", 2048, "arc2019", "lists.example", "published",
            "mailing-list host that seals ARC sets (RFC 8617)"),
]}


def _is_probable_prime(n: int, rounds: int = 40) -> bool:
    """Miller-Rabin with random bases."""
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d //= 2
        r += 1
    for _ in range(rounds):
        a = 2 + secrets.randbelow(n - 3)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _random_prime(bits: int, e: int) -> int:
    while True:
        # top two bits set so that p*q has exactly 2*bits bits; odd
        cand = secrets.randbits(bits) | (3 << (bits - 2)) | 1
        if math.gcd(e, cand - 1) == 1 and _is_probable_prime(cand):
            return cand


def _small_rsa_key(bits: int) -> rsa.RSAPrivateKey:
    """RSA key below cryptography's 1024-bit generation floor.

    cryptography refuses ``generate_private_key(key_size<1024)`` but happily
    loads such a key from its numbers, so build the numbers by hand.
    """
    e = 65537
    while True:
        p = _random_prime(bits // 2, e)
        q = _random_prime(bits // 2, e)
        if p != q and (p * q).bit_length() == bits:
            break
    if p < q:
        p, q = q, p
    d = pow(e, -1, (p - 1) * (q - 1) // math.gcd(p - 1, q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p=p, q=q, d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p), dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(e=e, n=p * q))
    return numbers.private_key()


def load_or_create_key(spec: KeySpec):
    path = KEY_DIR / f"{spec.name}.pem"
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    else:
        KEY_DIR.mkdir(parents=True, exist_ok=True)
        if spec.kind == "ed25519":
            key = ed25519.Ed25519PrivateKey.generate()
            pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        else:
            if spec.bits < 1024:
                key = _small_rsa_key(spec.bits)
            else:
                key = rsa.generate_private_key(public_exponent=65537,
                                               key_size=spec.bits)
            # PKCS#1 ("BEGIN RSA PRIVATE KEY"), the format opendkim-genkey uses
            pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption())
        path.write_bytes(pem)
        print(f"created key {path.relative_to(HERE.parent)}")
    # sanity: the committed file must match its spec
    if spec.kind == "ed25519":
        assert isinstance(key, ed25519.Ed25519PrivateKey), spec.name
    else:
        assert isinstance(key, rsa.RSAPrivateKey), spec.name
        assert key.key_size == spec.bits, (spec.name, key.key_size)
    return key


def dkimpy_private_key(spec: KeySpec, key) -> bytes:
    """The private key in the form dkim.sign() expects."""
    if spec.kind == "ed25519":
        # dkimpy wants base64 of the raw 32-byte seed
        seed = key.private_bytes(serialization.Encoding.Raw,
                                 serialization.PrivateFormat.Raw,
                                 serialization.NoEncryption())
        return base64.b64encode(seed)
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def public_p_value(spec: KeySpec, key) -> str:
    """Base64 p= value: SubjectPublicKeyInfo for RSA, raw 32 bytes for Ed25519."""
    pub = key.public_key()
    if spec.kind == "ed25519":
        raw = pub.public_bytes(serialization.Encoding.Raw,
                               serialization.PublicFormat.Raw)
    else:
        raw = pub.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(raw).decode("ascii")


def key_record(spec: KeySpec, key) -> str:
    """The TXT value (concatenated) that would be published for a key."""
    k = "ed25519" if spec.kind == "ed25519" else "rsa"
    return f"v=DKIM1; k={k}; p={public_p_value(spec, key)}"


# --------------------------------------------------------------------------
# Zone file
# --------------------------------------------------------------------------

def _txt_strings(spec: KeySpec, key) -> list[str]:
    """Split a record into <=255-byte character-strings (multi-string TXT)."""
    k = "ed25519" if spec.kind == "ed25519" else "rsa"
    head = f"v=DKIM1; k={k}; "
    if spec.dns == "revoked":
        return [head + "p="]
    rest = "p=" + public_p_value(spec, key)
    return [head] + [rest[i:i + 255] for i in range(0, len(rest), 255)]


def zone_text(keys: dict) -> str:
    lines = [
        "; keys.zone - DKIM public keys for the fictional AV Lab sample mailbox",
        ";",
        "; Generated by samples/make_samples.py - do not edit by hand.",
        "; All domains are under .example (RFC 2606); all keys are fictional and",
        "; their private halves are committed in samples/keys/ on purpose.",
        ";",
        "; Owner names are absolute and there is no SOA/NS: this is a list of",
        "; records, not a real zone.  Load it with dnspython like this:",
        ";",
        ";   dns.zone.from_text(text, origin=\"example.\", relativize=False,",
        ";                      check_origin=False)",
        ";",
        "; Long values are split into several quoted character-strings (each",
        "; <= 255 bytes); a verifier must concatenate them without separators",
        "; (RFC 6376 section 3.6.2.2).",
        ";",
        "; Deliberately NOT published: gone2009._domainkey.avlab.example",
        "; (missing_key.eml must come out as key-not-found).",
        "",
    ]
    order = ["avlab-2009a", "avlab-ed2019", "avlab-legacy", "weak512",
             "revoked", "mailer", "lists-arc2019"]
    for name in order:
        spec = KEYS[name]
        owner = f"{spec.selector}._domainkey.{spec.domain}."
        strings = " ".join(f'"{s}"' for s in _txt_strings(spec, keys[name]))
        lines.append(f"; {spec.comment}")
        lines.append(f"{owner} 3600 IN TXT {strings}")
        lines.append("")
    return "\n".join(lines)


def load_zone(path: Path = ZONE_FILE) -> dns.zone.Zone:
    return dns.zone.from_text(path.read_text(), origin="example.",
                              relativize=False, check_origin=False)


def zone_dnsfunc(zone: dns.zone.Zone, extra: dict | None = None):
    """A dkimpy-compatible dnsfunc answering TXT queries from the zone."""
    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode("ascii")
        if extra and name in extra:
            return extra[name].encode("ascii")
        rdataset = zone.get_rdataset(dns.name.from_text(name), dns.rdatatype.TXT)
        if rdataset is None:
            return None
        rdata = next(iter(rdataset))
        return b"".join(rdata.strings)
    return dnsfunc


# --------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------

@dataclass
class Hop:
    """One Received: header.

    ``delay`` is seconds after the message was composed (the Date header).
    ``above`` is True for hops after the signer (prepended above the
    DKIM-Signature), False for the submission hop the signer already saw.
    """
    from_clause: str
    by_host: str
    with_proto: str
    tz: dt.timezone
    delay: int
    above: bool
    rcpt: str | None = None
    auth: str | None = None
    tls: str | None = None
    software: str = "Postfix"


@dataclass
class Sample:
    name: str
    key: str | None              # KEYS name, None = unsigned
    algo: bytes
    composed: dt.datetime        # aware, in the sender's time zone
    sign_delay: int              # seconds after `composed` the signer ran
    from_: str
    to: str
    subject: str
    message_id: str
    body: str
    hops: list[Hop]
    length: bool = False
    expire_after: int | None = None   # x= = t= + this many seconds
    mutate: object = None             # callable(bytes) -> bytes, after signing
    lf_only: bool = False
    extra: dict = field(default_factory=dict)


def qid(sample: str, host: str) -> str:
    """Deterministic Postfix-style queue id."""
    return hashlib.sha256(f"{sample}/{host}".encode()).hexdigest()[:10].upper()


def fmt_date(when: dt.datetime) -> str:
    return email.utils.format_datetime(when)


def received_header(sample: Sample, hop: Hop) -> str:
    when = (sample.composed + dt.timedelta(seconds=hop.delay)).astimezone(hop.tz)
    stamp = f"{fmt_date(when)} ({hop.tz.tzname(None)})"
    lines = [f"Received: from {hop.from_clause}"]
    if hop.tls:
        lines.append(f"\t(using {hop.tls})")
    if hop.auth:
        lines.append(f"\t(Authenticated sender: {hop.auth})")
    lines.append(f"\tby {hop.by_host} ({hop.software}) with {hop.with_proto} "
                 f"id {qid(sample.name, hop.by_host)}")
    if hop.rcpt:
        lines.append(f"\tfor <{hop.rcpt}>; {stamp}")
    else:
        lines[-1] += ";"
        lines.append(f"\t{stamp}")
    return CRLF.join(lines) + CRLF


def wrap_body(text: str) -> str:
    """Dedent-free body text -> CRLF lines, ending in exactly one CRLF."""
    body = text.strip("\n")
    return CRLF.join(body.split("\n")) + CRLF


class _DKIMWithExpiry(dkim.DKIM):
    """dkimpy has no option for x=; insert it next to t= before hashing."""
    expire_after: int | None = None

    def gen_header(self, fields, include_headers, canon_policy, header_name,
                   pk, standardize=False):
        if self.expire_after is not None:
            fields = list(fields)
            t = int(dict(fields)[b"t"])
            i = [k for k, _ in fields].index(b"t")
            fields.insert(i + 1, (b"x", str(t + self.expire_after).encode()))
        return super().gen_header(fields, include_headers, canon_policy,
                                  header_name, pk, standardize)


def core_headers(sample: Sample) -> list[str]:
    """The header fields the author's client wrote, in the order it wrote them."""
    return [
        f"Date: {fmt_date(sample.composed)}",
        f"From: {sample.from_}",
        f"To: {sample.to}",
        f"Subject: {sample.subject}",
        f"Message-ID: {sample.message_id}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
    ]


def build(sample: Sample, keys: dict) -> bytes:
    core = core_headers(sample)
    # each hop prepends its Received line: newest on top
    hops = sorted(sample.hops, key=lambda h: h.delay, reverse=True)
    below = "".join(received_header(sample, h) for h in hops if not h.above)
    above = "".join(received_header(sample, h) for h in hops if h.above)
    if sample.key is not None:  # hops below the signature predate t=
        assert all(h.delay <= sample.sign_delay for h in hops if not h.above), sample.name
        assert all(h.delay > sample.sign_delay for h in hops if h.above), sample.name
    assert hops[0].by_host == "mx.newsdesk.example", sample.name
    as_signed = (below + CRLF.join(core) + CRLF + CRLF + wrap_body(sample.body)).encode("ascii")

    signature = b""
    if sample.key is not None:
        spec = KEYS[sample.key]
        t = int(sample.composed.timestamp()) + sample.sign_delay
        with mock.patch("time.time", return_value=float(t)):
            d = _DKIMWithExpiry(as_signed, signature_algorithm=sample.algo,
                                linesep=b"\r\n")
            d.expire_after = sample.expire_after
            signature = d.sign(spec.selector.encode(), spec.domain.encode(),
                               dkimpy_private_key(spec, keys[sample.key]),
                               canonicalize=CANON,
                               include_headers=SIGNED_HEADERS,
                               length=sample.length)
        assert signature.startswith(b"DKIM-Signature: ") and signature.endswith(b"\r\n")

    wire = above.encode("ascii") + signature + as_signed
    if sample.mutate is not None:
        mutated = sample.mutate(wire)
        assert mutated != wire, sample.name
        wire = mutated
    return wire


# --------------------------------------------------------------------------
# Routes (Received chains) - all hosts fictional, IPs from RFC 5737
# --------------------------------------------------------------------------

AVLAB_MAIL = "mail.avlab.example (mail.avlab.example [198.51.100.25])"
NEWS_FILTER = "filter.newsdesk.example (filter.newsdesk.example [203.0.113.7])"


def submission(ws_ip: str, ws_host: str, user: str, delay: int) -> Hop:
    return Hop(f"{ws_host} ({ws_host} [{ws_ip}])", "mail.avlab.example",
               "ESMTPSA", MSK, delay, above=False, auth=user)


def delivery(from_clause: str, rcpt: str, delay: int, tz=GMT, tls=None) -> Hop:
    """The topmost hop: final delivery at the newsroom."""
    return Hop(from_clause, "mx.newsdesk.example", "ESMTPS" if tls else "ESMTP",
               tz, delay, above=True, rcpt=rcpt, tls=tls)


def avlab_route(ws_ip: str, ws_host: str, user: str, rcpt: str,
                deliver_after: int, via_filter: bool = False) -> list[Hop]:
    """workstation -> mail.avlab.example (signs) -> newsroom (1 or 2 hops)."""
    hops = [submission(ws_ip, ws_host, user, 2)]
    if via_filter:
        hops.append(Hop(AVLAB_MAIL, "filter.newsdesk.example", "ESMTP", GMT,
                        deliver_after - 6, above=True, rcpt=rcpt))
        hops.append(delivery(NEWS_FILTER, rcpt, deliver_after))
    else:
        hops.append(delivery(AVLAB_MAIL, rcpt, deliver_after))
    return hops


# Shared address book
OLEG = "Oleg Vasin <o.vasin@avlab.example>"
IRINA = "Irina Sokolova <i.sokolova@avlab.example>"
RESEARCH = "Research Team <research@avlab.example>"
ACCOUNTS = "Accounts <accounts@avlab.example>"
DANA = "Dana Reyes <dana.reyes@newsdesk.example>"
TIPS = "tips@newsdesk.example"     # the insider Bcc'd the tip line

OLEG_WS = ("192.0.2.41", "ws-041.lab.avlab.example", "o.vasin")
IRINA_WS = ("192.0.2.57", "ws-057.lab.avlab.example", "i.sokolova")


def tb_msgid(when: dt.datetime, n: int, domain: str = "avlab.example") -> str:
    """Thunderbird 2 style Message-ID: hex epoch . counter @ domain."""
    return f"<{int(when.timestamp()):08X}.{n}@{domain}>"


def when(y, mo, d, h, mi, s, tz=MSK) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, s, tzinfo=tz)


# --------------------------------------------------------------------------
# Mutations applied after signing
# --------------------------------------------------------------------------

def replace_once(old: bytes, new: bytes):
    def f(wire: bytes) -> bytes:
        assert wire.count(old) == 1, old
        return wire.replace(old, new)
    return f


def append_body(extra: str):
    def f(wire: bytes) -> bytes:
        return wire + (CRLF + wrap_body(extra)).encode("ascii")
    return f


def prepend_header(line: str):
    def f(wire: bytes) -> bytes:
        return (line + CRLF).encode("ascii") + wire
    return f


# --------------------------------------------------------------------------
# The mailbox
# --------------------------------------------------------------------------

def samples() -> list[Sample]:
    out = []

    t = when(2009, 2, 10, 14, 31, 5)
    out.append(Sample(
        "verified_rsa_sha256.eml", "avlab-2009a", b"rsa-sha256", t, 3,
        OLEG, RESEARCH, "Decoy set 2: results after one week", tb_msgid(t, 4020),
        """
Team,

One week after we uploaded decoy set 2 to MultiScan, four other
engines flag at least half of the decoy files. None of those files
does anything harmful; they are padded copies of clean system
utilities that only our engine was taught to flag.

That is the point of the exercise: it shows who copies our verdicts
instead of analysing samples. Please keep the list of vendors inside
this group until the board meeting on the 20th.

Oleg
""",
        avlab_route(*OLEG_WS, TIPS, 41)))

    t = when(2019, 4, 16, 12, 45, 12)
    out.append(Sample(
        "verified_ed25519.eml", "avlab-ed2019", b"ed25519-sha256", t, 2,
        "AV Lab Press Office <press@avlab.example>", DANA,
        "Re: Questions about the 2009 decoy tests",
        "<20190416094512.GA14022@press.avlab.example>",
        """
Dear Ms Reyes,

Thank you for your questions. AV Lab has never distributed harmful
files to anyone. In 2009 our researchers ran a small experiment on
detection copying, and its results were shared with an industry
working group at the time.

We will not comment on individual emails whose origin we cannot
confirm. We would be happy to arrange a call with our head of
research next week.

Kind regards,
AV Lab Press Office
""",
        [Hop("press.avlab.example (press.avlab.example [198.51.100.31])",
             "mail.avlab.example", "ESMTPS", MSK, 1, above=False,
             tls="TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)"),
         Hop(AVLAB_MAIL, "filter.newsdesk.example", "ESMTPS", BST, 9, above=True,
             rcpt="dana.reyes@newsdesk.example",
             tls="TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"),
         delivery(NEWS_FILTER, "dana.reyes@newsdesk.example", 12, tz=BST,
                  tls="TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)")]))

    t = when(2009, 1, 22, 18, 2, 44)
    out.append(Sample(
        "legacy_rsa_sha1.eml", "avlab-legacy", b"rsa-sha1", t, 3,
        IRINA, OLEG, "Decoy set 1 ready for upload", tb_msgid(t, 1150),
        """
Oleg,

Decoy set 1 is ready: 20 clean files (notepad, calc and two
installers), each padded with random bytes and added to the
MultiScan build of our database as Trojan.Decoy.A.

I will upload them from my home connection on Monday so that the
uploads do not trace back to our network. Detection snapshots of
all engines will be taken every 24 hours.

Irina
""",
        avlab_route(*IRINA_WS, TIPS, 95, via_filter=True)))

    t = when(2009, 3, 3, 10, 14, 37)
    out.append(Sample(
        "body_tampered.eml", "avlab-2009a", b"rsa-sha256", t, 2,
        OLEG, ACCOUNTS, "Payment approval: Northgate Research", tb_msgid(t, 7731),
        """
Hello,

Please pay invoice NR-0309 from Northgate Research for the analysis
of decoy detection rates. The approved amount is $40,000, to be
charged to the research budget (code R-17).

Northgate will send the final report directly to me. Do not forward
it outside the research group.

Thanks,
Oleg
""",
        avlab_route(*OLEG_WS, TIPS, 28),
        mutate=replace_once(b"$40,000", b"$400,000")))

    t = when(2009, 3, 5, 11, 52, 9)
    out.append(Sample(
        "header_tampered.eml", "avlab-2009a", b"rsa-sha256", t, 2,
        IRINA, OLEG, "Lunch on Friday?", tb_msgid(t, 3306),
        """
Oleg,

Are we still on for lunch on Friday? The Georgian place near the
office has reopened. I can book a table for 13:00 for the four of
us if that suits you.

Irina
""",
        avlab_route(*IRINA_WS, TIPS, 33),
        mutate=replace_once(b"Subject: Lunch on Friday?\r\n",
                            b"Subject: Delete the decoy samples before the audit\r\n")))

    t = when(2009, 11, 19, 16, 20, 51)
    out.append(Sample(
        "missing_key.eml", "avlab-gone2009", b"rsa-sha256", t, 3,
        IRINA, RESEARCH, "Decoy program wrap-up", tb_msgid(t, 9012),
        """
All,

As agreed, the decoy program ends this month. The last decoy entries
will be removed from the MultiScan build in the update of
30 November, and the test files will be deleted from the lab share.

A short summary for the working group is on the wiki. Thanks to
everyone who took part.

Irina
""",
        avlab_route(*IRINA_WS, TIPS, 52)))

    t = when(2009, 1, 8, 9, 40, 3)
    out.append(Sample(
        "revoked_key.eml", "revoked", b"rsa-sha256", t, 2,
        OLEG, RESEARCH, "Kick-off: detection copying experiment", tb_msgid(t, 2208),
        """
All,

Starting this month we will run a small experiment to find out which
vendors copy our detections without doing their own analysis. Irina
will prepare the first set of decoy files; I will handle the contact
with MultiScan.

Please do not discuss this outside the team, including with
colleagues in sales.

Oleg
""",
        avlab_route(*OLEG_WS, TIPS, 47)))

    t = when(2009, 2, 18, 6, 0, 14)
    out.append(Sample(
        "weak_512bit_key.eml", "weak512", b"rsa-sha256", t, 1,
        "Lab Stats Robot <labstats@avlab.example>", RESEARCH,
        "Daily detection report: Trojan.Decoy.A",
        "<20090218030014.5821@stats.avlab.example>",
        """
Daily detection report for Trojan.Decoy.A (decoy set 1)
Generated 2009-02-18 06:00 MSK

Engines flagging at least one decoy file:   7 of 32
Engines flagging all 20 decoy files:        3 of 32
New since yesterday:                        1

This is an automated message from stats.avlab.example.
""",
        # the stats box signs and delivers itself: a single Received header
        [delivery("stats.avlab.example (stats.avlab.example [198.51.100.40])",
                  TIPS, 19)]))

    t = when(2009, 3, 10, 15, 5, 30)
    out.append(Sample(
        "body_length_appended.eml", "avlab-2009a", b"rsa-sha256", t, 2,
        "AV Lab Events <events@avlab.example>", DANA,
        "Invitation: AV Lab security briefing, 26 March", tb_msgid(t, 5119),
        """
Dear Dana,

AV Lab invites you to our spring security briefing for journalists
on 26 March at 11:00 in our Moscow office. Our researchers will
present the main threats of the first quarter.

Attendance is free of charge. Please reply to this email to confirm
your seat.

Best regards,
AV Lab Events
""",
        [submission("192.0.2.63", "ws-063.pr.avlab.example", "events", 2),
         delivery(AVLAB_MAIL, "dana.reyes@newsdesk.example", 37)],
        length=True,
        mutate=append_body("""
P.S. Change of plan: seats are now limited. To keep yours, wire the
EUR 500 registration fee today to account LV00 EXMP 0000 1234 5678 9
(beneficiary "AVL Events Ltd"). Unpaid seats will be released.
""")))

    t = when(2009, 2, 25, 8, 0, 0)
    out.append(Sample(
        "unaligned_signer.eml", "mailer", b"rsa-sha256", t, 4,
        "AV Lab Threat Digest <digest@avlab.example>", DANA,
        "AV Lab Threat Digest - February 2009",
        "<nl.avlab.200902.7f3a91@bulkmailer.example>",
        """
AV Lab Threat Digest - February 2009

* Autorun worms keep spreading through USB drives in offices.
* Fake "codec" installers are the most common trojan droppers.
* Phishing against online banking rose again after the holidays.

Read the full digest on our website.

You receive this digest because you subscribed at avlab.example.
To unsubscribe, visit http://bulkmailer.example/u/avlab/7f3a91
""",
        [Hop("avlab-newsletter (unknown [198.51.100.44])",
             "smtp-in.bulkmailer.example", "ESMTPA", GMT, 1, above=False,
             software="BulkMTA 3.2"),
         Hop("out3.bulkmailer.example (out3.bulkmailer.example [198.51.100.203])",
             "filter.newsdesk.example", "ESMTP", GMT, 212, above=True,
             rcpt="dana.reyes@newsdesk.example"),
         delivery(NEWS_FILTER, "dana.reyes@newsdesk.example", 215)]))

    t = when(2009, 3, 12, 17, 48, 26)
    out.append(Sample(
        "second_from_prepended.eml", "avlab-2009a", b"rsa-sha256", t, 3,
        IRINA, RESEARCH, "Re: Continue the decoy program?", tb_msgid(t, 6402),
        """
All,

Speaking only for myself: I think we should continue the decoy
program for another quarter and add a third set of files. The
results so far are too useful to stop now.

Irina
""",
        avlab_route(*IRINA_WS, TIPS, 44),
        mutate=prepend_header('From: "Viktor Arkhipov (CEO)" <ceo@avlab.example>')))

    t = when(2009, 2, 2, 23, 17, 40, tz=GMT)
    out.append(Sample(
        "unsigned.eml", None, b"", t, 0,
        '"A. Friend" <quiet.source@freemail.example>', TIPS,
        "Something you should look at",
        tb_msgid(t, 9000104, "freemail.example"),
        """
Hello,

I work at AV Lab. Since January some people in the research
department have been planting fake detections to see which other
antivirus companies copy them. I think the public should know.

I will make sure you receive some of the internal emails. Please
check them yourself; I cannot talk on the phone.
""",
        [Hop("[192.0.2.200] (unknown [192.0.2.200])", "webmail.freemail.example",
             "HTTP", GMT, 1, above=False, software="FreeWebmail"),
         delivery("smtp.freemail.example (smtp.freemail.example [203.0.113.88])",
                  TIPS, 6)]))

    t = when(2009, 2, 12, 9, 27, 58)
    out.append(Sample(
        "lf_line_endings.eml", "avlab-2009a", b"rsa-sha256", t, 2,
        OLEG, IRINA, "Re: Decoy set 2 naming", tb_msgid(t, 8805),
        """
Irina,

Use the family name Trojan.Decoy.B for set 2 and keep the file sizes
close to set 1. Different names make it easier to tell the two
rounds apart in the MultiScan reports.

Oleg
""",
        avlab_route(*OLEG_WS, TIPS, 26),
        lf_only=True))

    t = when(2009, 3, 17, 13, 9, 45)
    out.append(Sample(
        "expired_after_delivery.eml", "avlab-2009a", b"rsa-sha256", t, 3,
        OLEG, RESEARCH, "Board summary: decoy program, Q1", tb_msgid(t, 3917),
        """
All,

Summary for the board, to be presented on Thursday:

- 2 decoy sets, 40 clean files in total
- 9 other engines flagged decoy files within two weeks
- decoy entries only ever existed in the MultiScan build

Comments by Wednesday noon, please.

Oleg
""",
        # received ~20 minutes after signing; x= is t= + 7 days
        avlab_route(*OLEG_WS, TIPS, 1203, via_filter=True),
        expire_after=7 * 24 * 3600))

    return out


# --------------------------------------------------------------------------
# Header-chain samples: ARC, internal mail, a forged route
# --------------------------------------------------------------------------

LIST_MAIL = "mail.lists.example (mail.lists.example [203.0.113.60])"
LIST_ARC_SIGNED = [b"from", b"to", b"subject", b"date", b"message-id",
                   b"mime-version", b"content-type", b"list-id"]


def arc_list_modified(keys: dict) -> bytes:
    """Oleg writes to the research-l list at lists.example. The list checks his DKIM
    signature (pass), records that in Authentication-Results, tags the Subject with
    "[research-l]" (which breaks the signature), adds List-Id, seals an ARC set i=1
    and sends the message on to the newsroom, whose server records dkim=fail and
    arc=pass. DKIM fails; the ARC chain explains why."""
    t = when(2019, 9, 24, 11, 3, 17)
    sample = Sample(
        "arc_list_modified.eml", "avlab-2009a", b"rsa-sha256", t, 2,
        OLEG, "research-l@lists.example", "Detection-copying paper: draft for comments",
        "<20190924080317.GA7731@avlab.example>",
        """
All,

The draft of our paper on detection copying is on the list wiki. It
describes the 2009 decoy experiment in general terms only; no vendor
is named.

Comments by Friday, please.

Oleg
""",
        [submission(*OLEG_WS, 1),
         Hop(AVLAB_MAIL, "mail.lists.example", "ESMTPS", GMT, 6, above=True,
             rcpt="research-l@lists.example",
             tls="TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)")])
    spec = KEYS[sample.key]
    hops = sorted(sample.hops, key=lambda h: h.delay, reverse=True)
    core = core_headers(sample)
    below = "".join(received_header(sample, h) for h in hops if not h.above)
    as_signed = (below + CRLF.join(core) + CRLF + CRLF + wrap_body(sample.body)).encode("ascii")
    t_sign = int(sample.composed.timestamp()) + sample.sign_delay
    with mock.patch("time.time", return_value=float(t_sign)):
        signature = dkim.DKIM(as_signed, linesep=b"\r\n").sign(
            spec.selector.encode(), spec.domain.encode(),
            dkimpy_private_key(spec, keys[sample.key]),
            canonicalize=CANON, include_headers=SIGNED_HEADERS)
    b_prefix = dkim.util.parse_tag_value(signature.split(b":", 1)[1])[b"b"]
    b_prefix = b"".join(b_prefix.split())[:8].decode()
    above = "".join(received_header(sample, h) for h in hops if h.above)
    wire = above.encode("ascii") + signature + as_signed
    # The list tags the Subject in place and adds its own fields.
    wire = replace_once(f"Subject: {sample.subject}\r\n".encode(),
                        f"Subject: [research-l] {sample.subject}\r\n".encode())(wire)
    list_ar = ("Authentication-Results: lists.example;\r\n"
               f"\tdkim=pass (2048-bit key) header.d=avlab.example header.i=@avlab.example header.b={b_prefix};\r\n"
               "\tspf=pass smtp.mailfrom=o.vasin@avlab.example\r\n")
    wire = (list_ar + "List-Id: AV Lab research list <research-l.lists.example>\r\n"
            "List-Post: <mailto:research-l@lists.example>\r\n").encode("ascii") + wire
    arc_spec = KEYS["lists-arc2019"]
    t_seal = int(sample.composed.timestamp()) + 8
    arc_set = dkim.ARC(wire, linesep=b"\r\n").sign(
        arc_spec.selector.encode(), arc_spec.domain.encode(),
        dkimpy_private_key(arc_spec, keys["lists-arc2019"]), b"lists.example",
        include_headers=LIST_ARC_SIGNED, timestamp=t_seal)
    assert len(arc_set) == 3, arc_set
    wire = b"".join(arc_set) + wire
    deliver = delivery(LIST_MAIL, "dana.reyes@newsdesk.example", 11, tz=BST,
                       tls="TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)")
    final_ar = ("Authentication-Results: mx.newsdesk.example;\r\n"
                "\tdkim=fail (signature did not verify) header.d=avlab.example header.i=@avlab.example;\r\n"
                "\tarc=pass (i=1) header.oldest-pass=1 smtp.remote-ip=203.0.113.60\r\n")
    return ("Return-Path: <research-l-bounces@lists.example>\r\n" + final_ar
            + received_header(sample, deliver)).encode("ascii") + wire


def unsigned_internal(keys: dict) -> bytes:
    """Internal mail inside AV Lab's Exchange 2007 organisation, exported from a
    mailbox: no DKIM (Exchange did not sign internal mail), a two-hop route over
    private addresses (Outlook -> mailbox server -> hub -> Irina's mailbox server)."""
    t = when(2009, 3, 16, 10, 12, 6)
    def stamp(delay: int) -> str:
        return fmt_date(t + dt.timedelta(seconds=delay))
    lines = [
        "Received: from EXCH-HUB01.corp.avlab.example (10.20.1.11) by",
        " EXCH-MBX02.corp.avlab.example (10.20.1.22) with Microsoft SMTP Server (TLS)",
        f" id 8.1.393.1; {stamp(3)}",
        "Received: from EXCH-MBX01.corp.avlab.example ([10.20.1.21]) by",
        f" EXCH-HUB01.corp.avlab.example ([10.20.1.11]) with mapi; {stamp(1)}",
        f"From: {OLEG}",
        f"To: {IRINA}",
        "Date: " + fmt_date(t),
        "Subject: Decoy set 3: hold until after the audit",
        "Thread-Topic: Decoy set 3: hold until after the audit",
        "Thread-Index: AcmmD1TB3vCkXZ4uQ0mN3iAV7kAkHQ==",
        "Message-ID: <4A1F0C2E7B3D8E45A6C1B2D3E4F5A6B7C8D9@EXCH-MBX01.corp.avlab.example>",
        "Accept-Language: en-US, ru-RU",
        "Content-Language: en-US",
        "X-MS-Has-Attach:",
        "X-MS-TNEF-Correlator:",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
    ]
    body = """
Irina,

Please do not prepare decoy set 3 until the audit is over. The
auditors will look at the MultiScan build history, and I would rather
explain two sets than three.

Oleg
"""
    return (CRLF.join(lines) + CRLF + CRLF + wrap_body(body)).encode("ascii")


def forged_route(keys: dict) -> bytes:
    """A "message from the CEO" whose Received fields were written by hand: the
    newsroom's server stamps it 2 h 25 min before AV Lab's server handed it on (the
    clock runs backwards), the hop between the two companies comes from a private
    address, and the Date is a day after the newsroom received it. Unsigned."""
    composed = when(2009, 4, 2, 14, 5, 11)
    hop1 = when(2009, 4, 1, 14, 5, 40)                      # AV Lab's server, MSK
    hop2 = dt.datetime(2009, 4, 1, 9, 40, 2, tzinfo=BST)   # newsroom, 2 h 25 min earlier
    lines = [
        "Received: from mail.avlab.example (mail.avlab.example [10.0.0.5])",
        "\tby mx.newsdesk.example (Postfix) with ESMTP id 7C1D2E3F4A",
        f"\tfor <{TIPS}>; {fmt_date(hop2)} (BST)",
        "Received: from ws-001.lab.avlab.example (ws-001.lab.avlab.example [192.0.2.11])",
        "\t(Authenticated sender: v.arkhipov)",
        "\tby mail.avlab.example (Postfix) with ESMTPSA id 2B3C4D5E6F;",
        f"\t{fmt_date(hop1)} (MSK)",
        f"Date: {fmt_date(composed)}",
        'From: "Viktor Arkhipov (CEO)" <ceo@avlab.example>',
        f"To: {TIPS}",
        "Subject: I ordered the decoy program",
        f"Message-ID: {tb_msgid(composed, 1, 'avlab.example')}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
    ]
    body = """
To whom it may concern,

I personally ordered the decoy program in 2008 and I take full
responsibility for it. My staff only followed my instructions.

V. Arkhipov
"""
    return (CRLF.join(lines) + CRLF + CRLF + wrap_body(body)).encode("ascii")


#: Samples built by their own function rather than from a :class:`Sample`.
CHAIN_SAMPLES = {
    "arc_list_modified.eml": arc_list_modified,
    "unsigned_internal.eml": unsigned_internal,
    "forged_route.eml": forged_route,
}


# --------------------------------------------------------------------------
# Self-check with dkimpy
# --------------------------------------------------------------------------

class _ListHandler(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def dkimpy_verify(wire: bytes, dnsfunc, minkey=1024, now=None):
    """Return (result, detail) where result is True/False/'error'."""
    log = logging.getLogger(f"samples.check.{id(wire)}")
    log.propagate = False
    handler = _ListHandler()
    log.handlers = [handler]
    log.setLevel(logging.DEBUG)
    d = dkim.DKIM(wire, logger=log, minkey=minkey)
    patch = mock.patch("time.time", return_value=float(now)) if now else None
    try:
        if patch:
            patch.start()
        res = d.verify(dnsfunc=dnsfunc)
        errors = [m for m in handler.messages
                  if not m.startswith(("sig:", "bh:")) and "valid" not in m]
        return res, "; ".join(errors)
    except dkim.DKIMException as e:
        return "error", f"{type(e).__name__}: {e}"
    finally:
        if patch:
            patch.stop()


def topmost_received_time(wire: bytes) -> int:
    text = wire.decode("ascii").replace("\r\n", "\n")
    block = text.split("Received: ", 1)[1].split("\n", 3)
    line = " ".join(block[:3])
    stamp = line.rsplit(";", 1)[1].strip()
    stamp = stamp.split(" (")[0]
    return int(email.utils.parsedate_to_datetime(stamp).timestamp())


def self_check(keys: dict) -> bool:
    zone = load_zone()
    dnsfunc = zone_dnsfunc(zone)
    ok_all = True
    rows = []

    def check(name, label, got, want, detail=""):
        nonlocal ok_all
        ok = got == want
        ok_all &= ok
        rows.append((("ok  " if ok else "FAIL"), name, label, got, detail))

    def real_key_dns(key_name):
        spec = KEYS[key_name]
        return zone_dnsfunc(zone, {
            f"{spec.selector}._domainkey.{spec.domain}.": key_record(spec, keys[key_name])})

    def load(name):
        raw = (HERE / name).read_bytes()
        if name == "lf_line_endings.eml":
            assert b"\r" not in raw, "LF sample contains CR"
            return raw.replace(b"\n", b"\r\n")
        assert b"\n" not in raw.replace(b"\r\n", b""), f"{name}: bare LF"
        return raw

    for name in ["verified_rsa_sha256.eml", "verified_ed25519.eml",
                 "legacy_rsa_sha1.eml", "body_length_appended.eml",
                 "unaligned_signer.eml", "lf_line_endings.eml"]:
        res, det = dkimpy_verify(load(name), dnsfunc)
        check(name, "dkim verify", res, True, det)

    raw_lf = (HERE / "lf_line_endings.eml").read_bytes()
    res, det = dkimpy_verify(raw_lf, dnsfunc)
    check("lf_line_endings.eml", "dkim verify (raw LF file)", res, True, det)

    res, det = dkimpy_verify(load("body_tampered.eml"), dnsfunc)
    check("body_tampered.eml", "dkim verify", res, "error", det)
    check("body_tampered.eml", "reason is body hash mismatch",
          "body hash mismatch" in det, True)

    res, det = dkimpy_verify(load("header_tampered.eml"), dnsfunc)
    check("header_tampered.eml", "dkim verify (bh ok, b= bad)", res, False, det)

    res, det = dkimpy_verify(load("missing_key.eml"), dnsfunc)
    check("missing_key.eml", "dkim verify", res, False, det)
    check("missing_key.eml", "reason is missing public key",
          "missing public key" in det, True)
    res, det = dkimpy_verify(load("missing_key.eml"), real_key_dns("avlab-gone2009"))
    check("missing_key.eml", "verify if key were published", res, True, det)

    res, det = dkimpy_verify(load("revoked_key.eml"), dnsfunc)
    check("revoked_key.eml", "dkim verify (p= empty)", res, False, det)
    res, det = dkimpy_verify(load("revoked_key.eml"), real_key_dns("revoked"))
    check("revoked_key.eml", "verify with the pre-revocation key", res, True, det)

    res, det = dkimpy_verify(load("weak_512bit_key.eml"), dnsfunc)
    check("weak_512bit_key.eml", "dkim verify (minkey=1024)", res, "error", det)
    res, det = dkimpy_verify(load("weak_512bit_key.eml"), dnsfunc, minkey=512)
    check("weak_512bit_key.eml", "dkim verify (minkey=512)", res, True, det)

    wire = load("second_from_prepended.eml")
    res, det = dkimpy_verify(wire, dnsfunc)
    check("second_from_prepended.eml", "dkim verify (dkimpy extra-From rule)",
          res, False, det)
    first, rest = wire.split(b"\r\n", 1)
    assert first.startswith(b"From: "), first
    res, det = dkimpy_verify(rest, dnsfunc)
    check("second_from_prepended.eml", "verify without the prepended From", res, True, det)

    wire = load("unsigned.eml")
    check("unsigned.eml", "has DKIM-Signature", dkim.DKIM(wire).present(), False)

    wire = load("expired_after_delivery.eml")
    res, det = dkimpy_verify(wire, dnsfunc)
    check("expired_after_delivery.eml", "dkim verify today", res, "error", det)
    received = topmost_received_time(wire)
    res, det = dkimpy_verify(wire, dnsfunc, now=received)
    check("expired_after_delivery.eml", "dkim verify at receipt time", res, True, det)

    # header-chain samples
    wire = load("arc_list_modified.eml")
    res, det = dkimpy_verify(wire, dnsfunc)
    check("arc_list_modified.eml", "dkim verify (Subject tagged by the list)", res, False, det)
    cv, _, reason = dkim.ARC(wire).verify(dnsfunc=dnsfunc)
    check("arc_list_modified.eml", "arc verify", cv, dkim.CV_Pass, reason.decode() if isinstance(reason, bytes) else reason)
    untagged = wire.replace(b"Subject: [research-l] ", b"Subject: ", 1)
    res, det = dkimpy_verify(untagged, dnsfunc)
    check("arc_list_modified.eml", "dkim verify without the list's tag", res, True, det)
    for name in ("unsigned_internal.eml", "forged_route.eml"):
        check(name, "has DKIM-Signature", dkim.DKIM(load(name)).present(), False)

    # structural checks on every signed sample
    for s in samples():
        wire = load(s.name)
        sig = [v for k, v in dkim.rfc822_parse(wire)[0] if k.lower() == b"dkim-signature"]
        if s.key is None:
            continue
        tags = dkim.util.parse_tag_value(sig[0])
        h = [x.strip().lower() for x in tags[b"h"].split(b":")]
        check(s.name, "h= lists from once", h.count(b"from"), 1)

    width = max(len(r[1]) for r in rows)
    for status, name, label, got, detail in rows:
        line = f"{status} {name:<{width}}  {label}: {got}"
        if detail:
            line += f"  [{detail}]"
        print(line)
    return ok_all


# --------------------------------------------------------------------------
# Key archive: what archive.prove.email's /api/key would return for avlab.example
# --------------------------------------------------------------------------

ARCHIVE_FILE = HERE / "archive.json"
# (key name, firstSeenAt, lastSeenAt): the windows a fictional archive saw the keys in.
ARCHIVED = [
    ("avlab-2009a", "2009-01-05T09:12:44Z", "2009-12-30T21:40:03Z"),
    ("avlab-gone2009", "2009-06-02T14:05:51Z", "2009-12-21T08:17:26Z"),
]


def archive_json(keys: dict) -> str:
    """The archive lets missing_key.eml verify with the key DNS no longer has."""
    import json
    records = [
        {"domain": KEYS[name].domain, "selector": KEYS[name].selector,
         "value": key_record(KEYS[name], keys[name]),
         "firstSeenAt": first, "lastSeenAt": last}
        for name, first, last in ARCHIVED
    ]
    return json.dumps(records, indent=2) + "\n"


# --------------------------------------------------------------------------

def write_if_changed(path: Path, data: bytes) -> None:
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)
        print(f"wrote {path.relative_to(HERE.parent)}")


def main(argv: list[str]) -> int:
    keys = {name: load_or_create_key(spec) for name, spec in KEYS.items()}
    write_if_changed(ZONE_FILE, zone_text(keys).encode("ascii"))
    load_zone()  # must parse
    write_if_changed(ARCHIVE_FILE, archive_json(keys).encode("ascii"))

    for s in samples():
        wire = build(s, keys)
        if s.lf_only:
            wire = wire.replace(b"\r\n", b"\n")
        write_if_changed(HERE / s.name, wire)
    for name, make in CHAIN_SAMPLES.items():
        write_if_changed(HERE / name, make(keys))

    if "--no-check" in argv:
        return 0
    from importlib.metadata import version
    print(f"self-check (dkimpy {version('dkimpy')}):")
    ok = self_check(keys)
    print("all checks passed" if ok else "SELF-CHECK FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
