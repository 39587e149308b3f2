"""Generate the hostile-input corpus: messages and key records built to break a verifier.

    python tests/hostile/make_corpus.py OUTDIR      # writes OUTDIR/<case>.eml (+ <case>.zone)

Nothing here is committed as data (the largest case is 50 MB): the tests generate the
corpus into a temporary folder. Every case is deterministic (fixed seeds, fixed
signing time) except the throw-away signing keys, and says what a correct run shows:
a report, or a one-line error with exit code 2; ``expect`` pins the parts that matter
(a reason code on the first signature, a caveat, the exit code).

Key records go into ``<case>.zone``, a DNS master file the CLI reads with ``--keys``,
so every case runs offline through the same path as a user's ``provenance check``.
"""

from __future__ import annotations

import base64
import random
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.helpers import BASE_MESSAGE, RECEIVED, record, sign
from verify import limits

KEY_NAME = "s1._domainkey.sender.example"
MB = 1024 * 1024


@dataclass(frozen=True)
class Case:
    """One hostile input: how to build it, its key records, and what a correct run shows."""

    name: str
    why: str
    build: Callable[[], bytes]
    keys: tuple[str, ...] | None = None  # TXT records at KEY_NAME; None -> the signing key
    expect: dict[str, object] = field(default_factory=dict)

    def write(self, folder: Path) -> tuple[Path, Path]:
        eml = folder / f"{self.name}.eml"
        eml.write_bytes(self.build())
        zone = folder / f"{self.name}.zone"
        zone.write_text(zone_text(KEY_NAME, self.keys if self.keys is not None else (record(),)))
        return eml, zone


def zone_text(name: str, records: tuple[str, ...]) -> str:
    """Master-file lines, each TXT split into the 255-byte character-strings DNS carries."""
    lines = []
    for txt in records:
        raw = txt.encode("utf-8", errors="surrogateescape")
        chunks = [raw[i : i + 255] for i in range(0, len(raw), 255)] or [b""]
        quoted = " ".join('"' + c.decode("latin-1").replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks)
        lines.append(f"{name}. 300 IN TXT {quoted}")
    return "\n".join(lines) + "\n"


def signed(message: bytes = BASE_MESSAGE, **kw: object) -> bytes:
    """RECEIVED + a message signed by the default test key (dkimpy does the signing)."""
    return RECEIVED + sign(message, **kw)  # type: ignore[arg-type]


def _with_subject(value: bytes) -> bytes:
    return BASE_MESSAGE.replace(b"Subject: Quarterly numbers", b"Subject: " + value)


def _insert_headers(message: bytes, extra: bytes) -> bytes:
    head, sep, body = message.partition(b"\r\n\r\n")
    return head + b"\r\n" + extra.rstrip(b"\r\n") + sep + body


def _set_tag(message: bytes, tag: bytes, value: bytes) -> bytes:
    """Replace (or add) one tag of the first DKIM-Signature; the signature stops matching."""
    head, sep, rest = message.partition(b"DKIM-Signature:")
    end = rest.find(b"\r\n", rest.find(b"b="))
    sig = rest[:end]
    parts = [p for p in sig.split(b";")]
    names = [p.strip().split(b"=", 1)[0] for p in parts]
    if tag in names:
        parts[names.index(tag)] = b" " + tag + b"=" + value
    else:
        parts.insert(0, b" " + tag + b"=" + value)
    return head + sep + b";".join(parts) + rest[end:]


def _fake_rsa_record(bits: int, e_bits: int = 17) -> str:
    """A syntactically valid RSA public key of ``bits`` bits (a random odd modulus: no
    16,384-bit key pair needs generating, which would take minutes)."""
    rng = random.Random(bits)
    n = rng.getrandbits(bits) | (1 << (bits - 1)) | 1
    e = 65537 if e_bits == 17 else rng.getrandbits(e_bits) | (1 << (e_bits - 1)) | 1
    pub = rsa.RSAPublicNumbers(e, n).public_key()
    der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def _random_bytes() -> bytes:
    return random.Random(6).randbytes(256 * 1024)


def _random_header_bytes() -> bytes:
    rng = random.Random(7)
    return b"Received: " + bytes(b for b in rng.randbytes(4096) if b not in (10, 13, 0)) + b"\r\n" + signed()


def _header_line_1mb() -> bytes:
    return signed(_with_subject(b"A" * MB))


def _headers_10000() -> bytes:
    filler = b"".join(b"X-Filler-%d: value %d\r\n" % (i, i) for i in range(10_000))
    return signed(_insert_headers(BASE_MESSAGE, filler))


def _subjects_10000() -> bytes:
    # 10,000 copies of a visible singleton: duplicate and unsigned-header caveats at scale.
    return signed(_insert_headers(BASE_MESSAGE, b"Subject: again\r\n" * 10_000))


def _attachment_50mb() -> bytes:
    payload = base64.encodebytes(random.Random(50).randbytes(37 * MB)).replace(b"\n", b"\r\n")  # ~50 MB encoded
    msg = _insert_headers(BASE_MESSAGE, b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"')
    head, _, _ = msg.partition(b"\r\n\r\n")
    body = (
        b"--b1\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n--b1\r\n"
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" + payload + b"--b1--\r\n"
    )
    # Sign with l= over the first part so generating the case does not cost a 50 MB hash in dkimpy.
    first = body[: body.index(b"See attached.\r\n") + 15]  # a prefix ending at a line end: l= covers it exactly
    signed_part = sign(head + b"\r\n\r\n" + first, length=True)
    return RECEIVED + signed_part[: signed_part.index(b"\r\n\r\n") + 4] + body


def _distinct_lengths_50mb() -> bytes:
    """50 signatures over a 50 MB body, each with another l=: 50 body hashes, no shortcut."""
    msg = _attachment_50mb()
    start = msg.index(b"DKIM-Signature:")
    end = start
    while True:  # the field ends at the first line break not followed by folding white space
        end = msg.index(b"\r\n", end) + 2
        if msg[end : end + 1] not in (b" ", b"\t"):
            break
    one = msg[start:end]
    sigs = [_set_tag(one, b"l", str(50 * MB - i * 1000).encode()) for i in range(50)]
    return msg[:start] + b"".join(sigs) + msg[end:]


def _worst_at_size_limit() -> bytes:
    """Just under the message size limit, and as costly as a message gets per byte: bare LF
    line ends (a CRLF copy), blank runs on every line (relaxed canonicalisation rewrites
    each), two DKIM signatures and two ARC sets (a canonical body each for simple and
    relaxed, in both checks)."""
    s1 = sign()
    s2 = sign(canonicalize=(b"simple", b"simple"))
    sigs = s1[: len(s1) - len(BASE_MESSAGE)] + s2[: len(s2) - len(BASE_MESSAGE)]
    arc = _arc_set(2, b"pass") + _arc_set(1, b"none").replace(b"c=relaxed/relaxed", b"c=simple/simple")
    head = (RECEIVED + arc + sigs + BASE_MESSAGE).replace(b"\r\n", b"\n")
    line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx  \t x\n"
    n = (limits.MAX_MESSAGE_BYTES - len(head)) // len(line)
    return head + line * n


def _lf_only_50mb() -> bytes:
    # 25 million bare LF line ends: the LF->CRLF repair must not cost a list per line.
    return BASE_MESSAGE.replace(b"\r\n", b"\n") + b"a\n" * (25 * MB)


def _mime_nested_3000() -> bytes:
    depth = 3000
    head = b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b0"'
    body = b"".join(b'--b%d\r\nContent-Type: multipart/mixed; boundary="b%d"\r\n\r\n' % (i, i + 1) for i in range(depth))
    body += b"--b%d\r\nContent-Type: text/plain\r\n\r\ndeep\r\n" % depth
    body += b"".join(b"--b%d--\r\n" % i for i in range(depth, -1, -1))
    msg = _insert_headers(BASE_MESSAGE, head).partition(b"\r\n\r\n")[0] + b"\r\n\r\n" + body
    return signed(msg)


def _folded_100k() -> bytes:
    return signed(_with_subject(b"start" + b"\r\n continued" * 100_000))


def _thousands_of_tags() -> bytes:
    tags = b";".join(b" z%d=v%d" % (i, i) for i in range(5000))
    return _set_tag(signed(), b"zz", b"1;" + tags)


def _h_names(n: int) -> bytes:
    names = ("from", "to", "subject", "date", "message-id") + tuple(f"x-absent-{i}" for i in range(n - 5))
    return signed(headers=names)


def _worst_combination() -> bytes:
    """50 signatures, each with h= of 2,000 names, over 10,000 header fields."""
    filler = b"".join(b"To: r%d@newsdesk.example\r\n" % i for i in range(10_000))
    msg = _insert_headers(BASE_MESSAGE, filler)
    names = ("from", "subject", "date") + ("to",) * 1997
    one = sign(msg, headers=names)
    sig = one[: len(one) - len(msg)]
    return RECEIVED + sig * 50 + msg


def _many_signatures() -> bytes:
    one = signed()
    sig = one[len(RECEIVED) : len(one) - len(BASE_MESSAGE)]
    return RECEIVED + sig * 60 + BASE_MESSAGE


def _received_garbage() -> bytes:
    junk = [
        b"Received: ;;;;;;;;",
        b"Received: from [999.999.999.999] by ; Tue, 99 Foo 99999 99:99:99 +9999",
        b"Received: by x; 31 Dec 9999 23:59:59 -2359",
        b"Received: by x; 1 Jan 0001 00:00:00 +0000",
        b"Received: by x; Mon, 1 Jan 1000000000000000000000 00:00:00 +0000",
        b"Received: (((((((((((((((((((((((((((((( unbalanced comment",
        b"Received: from " + b"a." * 5000 + b"example by b; Tue, 10 Feb 2009 10:00:30 +0000",
        b"Received: \xff\xfe\xfd garbage \xc3\x28; \xff",
        b"Received: from x ([IPv6:" + b":" * 3000 + b"]) by y with " + b"E" * 3000 + b"; " + b"9" * 400,
    ]
    return b"\r\n".join(junk) + b"\r\n" + sign()


def _auth_results_garbage() -> bytes:
    junk = [
        b"Authentication-Results: ;;;;; dkim=",
        b"Authentication-Results: mx.example; dkim=pass header.d=" + b"a" * 100_000,
        b"Authentication-Results: mx.example; " + b"dkim=pass (x) " * 5000,
        b"Authentication-Results: (((((((((((((((((((((((((((((( ; spf=pass",
        b"ARC-Seal: i=99999999999999999999999999999; a=rsa-sha256; cv=pass; d=x; s=y; b=!!!",
        b"ARC-Message-Signature: i=-1; a=rsa-sha256; h=" + b"from:" * 3000 + b"; bh=; b=",
        b"ARC-Authentication-Results: i=1; \xff\xfe; dkim=pass",
        b"ARC-Seal: " + b"i=1; " * 5000,
    ]
    return b"\r\n".join(junk) + b"\r\n" + signed()


def _arc_sets_1000() -> bytes:
    sets = b"".join(
        b"ARC-Seal: i=%d; a=rsa-sha256; cv=pass; d=sender.example; s=s1; t=1; b=AAAA\r\n"
        b"ARC-Message-Signature: i=%d; a=rsa-sha256; c=relaxed/relaxed; d=sender.example; s=s1; t=1; h=from; bh=AAAA; b=AAAA\r\n"
        b"ARC-Authentication-Results: i=%d; mx.example; dkim=pass\r\n" % (i, i, i)
        for i in range(1000, 0, -1)
    )
    return sets + signed()


def _arc_set(i: int, cv: bytes, sig_bytes: int = 256) -> bytes:
    """One ARC set by the test key's name; b= and bh= are well-formed but do not verify."""
    b = base64.b64encode(b"\x01" * sig_bytes)
    return (
        b"ARC-Seal: i=%d; a=rsa-sha256; cv=%s; d=sender.example; s=s1; t=1234260001; b=%s\r\n" % (i, cv, b)
        + b"ARC-Message-Signature: i=%d; a=rsa-sha256; c=relaxed/relaxed; d=sender.example; s=s1; t=1234260001; h=from:to; bh=%s; b=%s\r\n"
        % (i, base64.b64encode(b"\x00" * 32), b)
        + b"ARC-Authentication-Results: i=%d; mx%d.example; dkim=pass header.d=sender.example\r\n" % (i, i)
    )


def _arc_chain(n: int, sig_bytes: int = 256) -> bytes:
    return b"".join(_arc_set(i, b"none" if i == 1 else b"pass", sig_bytes) for i in range(n, 0, -1))


def _with_key_record_padding() -> str:
    return record() + "; n=" + "x" * (100 * 1024)


def cases() -> Iterator[Case]:
    """Every hostile case, smallest first."""
    yield Case("empty", "an empty file", lambda: b"", expect={"exit": 2})
    yield Case("only_whitespace", "blank lines only", lambda: b"\r\n \r\n\t\r\n", expect={"exit": 2})
    yield Case("random_bytes", "256 KB of random bytes", _random_bytes, expect={"exit": 2})
    yield Case("nul_in_header", "a NUL byte inside the Subject", lambda: signed(_with_subject(b"a\x00b")), expect={"exit": 2})
    yield Case(
        "invalid_utf8_header",
        "undecodable bytes in a signed Subject",
        lambda: signed(_with_subject(b"\xff\xfe\xc3\x28 \xed\xa0\x80 caf\xe9")),
        expect={"verdict": "verified"},
    )
    yield Case("received_random_bytes", "a Received field of random bytes", _random_header_bytes, expect={"verdict": "verified"})
    yield Case("received_garbage", "Received fields that are pure garbage", _received_garbage, expect={"verdict": "verified"})
    yield Case(
        "auth_results_garbage",
        "Authentication-Results and ARC fields that are garbage",
        _auth_results_garbage,
        expect={"verdict": "verified"},
    )
    yield Case("arc_sets_1000", "1,000 ARC sets (RFC 8617 allows 50)", _arc_sets_1000, expect={"verdict": "verified"})
    yield Case("header_line_1mb", "a 1 MB Subject line", _header_line_1mb, expect={"verdict": "verified"})
    yield Case("folded_header_100k_lines", "a Subject folded over 100,000 lines", _folded_100k, expect={"verdict": "verified"})
    yield Case("headers_10000", "10,000 header fields", _headers_10000, expect={"verdict": "verified"})
    yield Case("subject_10000_times", "10,000 Subject fields", _subjects_10000, expect={"verdict": "weak", "caveat": "duplicate-header"})
    yield Case(
        "headers_over_limit",
        "more header fields than the limit",
        lambda: b"X-A: 1\r\n" * 20_001 + BASE_MESSAGE,
        expect={"exit": 2, "stderr": "header fields"},
    )
    yield Case("mime_nested_3000", "MIME multiparts nested 3,000 deep", _mime_nested_3000, expect={"verdict": "verified"})
    yield Case("dkim_thousands_of_tags", "a DKIM-Signature with 5,000 tags", _thousands_of_tags, expect={"reason": "signature-mismatch"})
    yield Case(
        "dkim_b_not_base64",
        "b= that is not base64",
        lambda: _set_tag(signed(), b"b", b"!!!not*base64###"),
        expect={"reason": "malformed-signature"},
    )
    yield Case(
        "dkim_bh_not_base64",
        "bh= that is not base64",
        lambda: _set_tag(signed(), b"bh", b"%%%%"),
        expect={"reason": "malformed-signature"},
    )
    yield Case(
        "dkim_l_larger_than_body",
        "l= far beyond the body",
        lambda: _set_tag(signed(), b"l", b"9" * 76),
        expect={"reason": "malformed-signature"},
    )
    yield Case(
        "dkim_l_77_digits",
        "l= longer than RFC 6376's 76 digits",
        lambda: _set_tag(signed(), b"l", b"9" * 77),
        expect={"reason": "malformed-signature"},
    )
    yield Case("dkim_l_negative", "l=-5", lambda: _set_tag(signed(), b"l", b"-5"), expect={"reason": "malformed-signature"})
    yield Case("dkim_t_not_number", "t=yesterday", lambda: _set_tag(signed(), b"t", b"yesterday"), expect={"reason": "malformed-signature"})
    yield Case("dkim_x_not_number", "x=never", lambda: _set_tag(signed(), b"x", b"never"), expect={"reason": "malformed-signature"})
    yield Case(
        "dkim_t_1e30_signed",
        "a valid signature made (says t=) at Unix time 10^30",
        lambda: signed(at=10**30),
        expect={"verdict": "verified", "caveat": "signed-after-receipt"},
    )
    yield Case(
        "dkim_x_1e30",
        "x=10^30 (x= is signed: the signature no longer matches)",
        lambda: _set_tag(signed(), b"x", b"1" + b"0" * 30),
        expect={"reason": "signature-mismatch"},
    )
    yield Case(
        "dkim_t_x_76_digits",
        "t= and x= of 76 digits",
        lambda: _set_tag(_set_tag(signed(), b"t", b"9" * 76), b"x", b"9" * 76),
        expect={"reason": "signature-mismatch"},
    )
    yield Case("dkim_h_1000_names", "h= naming 1,000 fields", lambda: _h_names(1000), expect={"verdict": "verified"})
    yield Case(
        "dkim_h_over_limit", "h= naming 2,500 fields", lambda: _h_names(2500), expect={"reason": "limit-reached", "caveat": "limit-reached"}
    )
    yield Case("dkim_60_signatures", "60 DKIM-Signatures", _many_signatures, expect={"verdict": "verified", "caveat": "limit-reached"})
    yield Case(
        "worst_50_sigs_2000_names_10000_headers",
        "50 signatures, each h= of 2,000 names, over 10,000 fields",
        _worst_combination,
        expect={"caveat": "duplicate-header"},
    )
    yield Case(
        "key_txt_100kb", "a key TXT record of 100 KB", signed, keys=(_with_key_record_padding(),), expect={"reason": "limit-reached"}
    )
    yield Case(
        "key_rsa_16384_bits", "an RSA key of 16,384 bits", signed, keys=(_fake_rsa_record(16384),), expect={"reason": "signature-mismatch"}
    )
    yield Case(
        "key_rsa_20000_bits",
        "an RSA key over the 16,384-bit limit",
        signed,
        keys=(_fake_rsa_record(20000),),
        expect={"reason": "limit-reached"},
    )
    yield Case(
        "key_not_base64",
        "p= that is not base64",
        signed,
        keys=("v=DKIM1; k=rsa; p=!!!!not-base64****",),
        expect={"reason": "key-malformed"},
    )
    yield Case(
        "key_ed25519_wrong_length",
        "an ed25519 key of 31 bytes",
        lambda: signed(algorithm="ed25519-sha256"),
        keys=("v=DKIM1; k=ed25519; p=" + base64.b64encode(b"\x01" * 31).decode(),),
        expect={"reason": "key-malformed"},
    )
    yield Case(
        "key_rsa_huge_exponent",
        "a 16,384-bit RSA key whose exponent has 16,000 bits",
        signed,
        keys=(_fake_rsa_record(16384, e_bits=16000),),
        expect={"reason": "limit-reached"},
    )
    yield Case(
        "arc_chain_huge_exponent_key",
        "an ARC set whose key has a 16,000-bit exponent (pure-Python RSA in dkimpy's ARC)",
        lambda: _arc_chain(1, 2048) + signed(),
        keys=(_fake_rsa_record(16384, e_bits=16000),),
        expect={"reason": "limit-reached"},
    )
    yield Case("arc_chain_50_sets", "50 ARC sets, none valid", lambda: _arc_chain(50) + signed(), expect={"verdict": "verified"})
    yield Case(
        "key_1000_records",
        "1,000 TXT records at one selector",
        signed,
        keys=tuple(f"v=DKIM1; k=rsa; n={i}; p=AAAA" for i in range(999)) + (record(),),
        expect={"verdict": "verified", "caveat": "multiple-key-records"},
    )
    yield Case(
        "key_garbage_tags",
        "a key record that is not a tag list",
        signed,
        keys=("=;=;=;;;\x7f\x00" + "=" * 3000,),
        expect={"reason": "key-malformed"},
    )
    yield Case(
        "arc_chain_50_sets_10000_headers",
        "50 ARC sets over 10,000 header fields",
        lambda: _arc_chain(50) + _headers_10000(),
        expect={"verdict": "verified"},
    )
    yield Case(
        "arc_chain_50_sets_50mb_body",
        "50 ARC sets over a 50 MB body (each set hashes the body)",
        lambda: _arc_chain(50) + _attachment_50mb(),
        expect={"caveat": "body-length-limit"},
    )
    yield Case(
        "dkim_50_signatures_distinct_l_50mb",
        "50 signatures over a 50 MB body, each with another l=",
        _distinct_lengths_50mb,
        expect={"reason": "signature-mismatch"},
    )
    yield Case("lf_only_50mb", "50 MB of bare-LF lines", _lf_only_50mb, expect={"caveat": "line-endings-converted"})
    yield Case(
        "worst_case_at_size_limit",
        "just under the size limit: bare LFs, blank runs, two DKIM and two ARC canonicalisations",
        _worst_at_size_limit,
        expect={"caveat": "line-endings-converted"},
    )
    yield Case(
        "over_size_limit",
        "one byte over the message size limit",
        lambda: b"X" * (limits.MAX_MESSAGE_BYTES + 1),
        expect={"exit": 2, "stderr": "MiB limit"},
    )
    yield Case("attachment_50mb", "a 50 MB base64 attachment", _attachment_50mb, expect={"caveat": "body-length-limit"})


def build(folder: Path, names: set[str] | None = None) -> dict[str, tuple[Case, Path, Path]]:
    """Write every case (or those named) into ``folder``; return name -> (case, eml, zone)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for case in cases():
        if names is None or case.name in names:
            eml, zone = case.write(folder)
            out[case.name] = (case, eml, zone)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_corpus.py OUTDIR")
    for name, (case, eml, _) in build(Path(sys.argv[1])).items():
        print(f"{eml.stat().st_size:>12,}  {name}: {case.why}")
