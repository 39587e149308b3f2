"""Recover an RSA public key from two or more messages it signed (``provenance keys recover``).

An RSA signature satisfies ``s^e = m (mod n)``, where ``m`` is the EMSA-PKCS1-v1_5
encoding of the hash the signature covers. So ``n`` divides ``s^e - m`` for every
signature under the key, and the gcd over two or more of them is ``n`` times (at
most) a small cofactor. For e = 65537 and RSA-2048 each ``s^e`` has about 134 million
bits: GMP (through gmpy2) computes it in seconds where Python's integers would take
hours. The header hash comes from :func:`verify.checks.dkim.header_hash`, the code
that verifies signatures, and every input signature is verified again with the
result before it is reported.

A reconstructed key shows the messages are consistent with one key; nothing ties that
key to the domain until DNS or an archive shows it (the ``key-reconstructed`` caveat).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import gmpy2
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dkim.crypto import EMSA_PKCS1_v1_5_encode

from verify import intake
from verify.checks import dkim as dkim_check
from verify.keys import utcnow_iso
from verify.keys.record import fingerprint
from verify.model import KeyLookup

#: Cofactors below this bound are divided out of the gcd (a real modulus has no such factor).
SMALL_FACTOR_BOUND = 1 << 20
EXPONENTS = (65537, 3)

Progress = Callable[[str, int, int], None]  # (step description, step number, steps in all)


class RecoveryError(Exception):
    """The signatures do not yield a key; the message says why."""


@dataclass(frozen=True)
class SignedDigest:
    """One RSA signature with the integer it must match: ``s`` and ``m`` = EMSA(hash)."""

    path: str
    index: int
    domain: str
    selector: str
    algorithm: str
    s: int
    m: int
    size: int  # bytes in the signature, the modulus length


@dataclass(frozen=True)
class Recovered:
    domain: str
    selector: str
    e: int
    n: int
    cofactor: int
    inputs: tuple[SignedDigest, ...]
    seconds: float
    public_key: rsa.RSAPublicKey
    left_out: tuple[SignedDigest, ...] = ()  # signatures that do not fit the shared key

    @property
    def bits(self) -> int:
        return self.n.bit_length()

    @property
    def name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    @property
    def record(self) -> str:
        der = self.public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)

    def lookup(self) -> KeyLookup:
        """The key as an answer from source ``reconstructed``, for a recorded-evidence file."""
        files = sorted({i.path for i in self.inputs})
        return KeyLookup(
            name=self.name,
            source="reconstructed",
            origin=f"gcd of {len(self.inputs)} signatures: " + ", ".join(os.path.basename(f) for f in files),
            retrieved_at=utcnow_iso(),
            status="found",
            txt=(self.record,),
            detail=f"RSA-{self.bits} modulus recovered as gcd(s^e - m) over {len(self.inputs)} signatures (e={self.e}); never seen published",
        )


def collect(paths: Iterable[str]) -> dict[tuple[str, str], list[SignedDigest]]:
    """Every well-formed RSA signature in the files, grouped by (d=, s=). Raises InputError on a non-email."""
    groups: dict[tuple[str, str], list[SignedDigest]] = {}
    for path in paths:
        ev = intake.read_file(path)
        for p in dkim_check.prepare(ev):
            if p.error is not None or not (p.algorithm or "").startswith("rsa-") or not p.domain or not p.selector:
                continue
            try:
                sig = base64.b64decode(b"".join(p.tags[b"b"].split()))
            except (binascii.Error, ValueError):
                continue
            h, _ = dkim_check.header_hash(ev, p)
            try:
                m = int.from_bytes(EMSA_PKCS1_v1_5_encode(h, len(sig)), "big")
            except Exception:  # noqa: BLE001 - dkimpy raises its own DigestTooLargeError for a too-short b=
                continue
            sd = SignedDigest(path, p.index, p.domain, p.selector, p.algorithm or "", int.from_bytes(sig, "big"), m, len(sig))
            groups.setdefault((p.domain, p.selector), []).append(sd)
    return groups


def _strip_small(g: gmpy2.mpz) -> tuple[gmpy2.mpz, int]:
    """Divide out every prime factor below :data:`SMALL_FACTOR_BOUND`; return (rest, cofactor)."""
    primorial = gmpy2.primorial(SMALL_FACTOR_BOUND)
    cofactor = gmpy2.mpz(1)
    while True:
        c = gmpy2.gcd(g, primorial)
        if c == 1:
            return g, int(cofactor)
        g //= c
        cofactor *= c


def recover(sigs: Sequence[SignedDigest], exponents: Sequence[int] = EXPONENTS, progress: Progress | None = None) -> Recovered:
    """The modulus shared by ``sigs`` (at least two, same d=/s=), checked against every one of them."""
    if len(sigs) < 2:
        raise RecoveryError("at least two signatures with the same d= and s= are needed")
    sizes = {sd.size for sd in sigs}
    if len(sizes) != 1:
        raise RecoveryError(f"the signatures have different lengths ({sorted(sizes)} bytes): they cannot come from one key")
    size = sizes.pop()
    report = progress or (lambda step, i, n: None)
    steps = len(sigs) + 1  # each s^e, then (normally) one slow gcd
    start = time.monotonic()
    # Release the GIL inside GMP so a progress display keeps moving during a long gcd.
    with gmpy2.context(gmpy2.get_context(), allow_release_gil=True):
        run = _Run(sigs, size, report, steps)
        for e in exponents:
            found = run.try_exponent(e)
            if found is not None:
                return dataclasses.replace(found, seconds=time.monotonic() - start)
    tried = " and ".join(str(e) for e in exponents)
    raise RecoveryError(
        f"no two signatures share a {8 * size}-bit modulus for e={tried}: they were not made with one key "
        "(or the messages were altered in a signed header, which changes m)"
    )


def _plausible(g: gmpy2.mpz, size: int) -> bool:
    return bool(_strip_small(g)[0].bit_length() > 8 * (size - 1))


class _Run:
    """One recovery: the signatures, a progress counter, and ``s^e - m`` computed once each."""

    def __init__(self, sigs: Sequence[SignedDigest], size: int, report: Progress, steps: int) -> None:
        self.sigs, self.size, self.report, self.steps = sigs, size, report, steps
        self.step = 0
        self.powers: dict[int, gmpy2.mpz] = {}

    def _tell(self, what: str) -> None:
        self.step += 1
        self.report(what, self.step, max(self.steps, self.step))

    def _power(self, i: int, e: int) -> gmpy2.mpz:
        if i not in self.powers:
            sd = self.sigs[i]
            self._tell(f"e={e}: s^e - m for signature {i + 1} of {len(self.sigs)} ({os.path.basename(sd.path)})")
            self.powers[i] = gmpy2.mpz(sd.s) ** e - sd.m
        return self.powers[i]

    def try_exponent(self, e: int) -> Recovered | None:
        self.powers = {}
        sigs, size = self.sigs, self.size
        # The first pair that shares a modulus (normally the first two); a signature that
        # fits no other (altered in a signed header, or made with another key) is left out.
        g: gmpy2.mpz | None = None
        used: list[int] = []
        for j in range(1, len(sigs)):
            for i in range(j):
                vi, vj = self._power(i, e), self._power(j, e)
                self._tell(f"e={e}: gcd of signatures {i + 1} and {j + 1} (the slow step)")
                c = gmpy2.gcd(vi, vj)
                if _plausible(c, size):
                    g, used = c, [i, j]
                    break
            if g is not None:
                break
        if g is None:
            return None
        for k in range(len(sigs)):
            if k not in used:
                c = gmpy2.gcd(g, self._power(k, e))  # fast: g is already about the size of the modulus
                if _plausible(c, size):
                    g, used = c, [*used, k]
        self.powers = {}
        n, cofactor = _strip_small(g)
        chosen = [sigs[i] for i in sorted(used)]
        if not 8 * (size - 1) < n.bit_length() <= 8 * size or any(sd.s >= n for sd in chosen):
            return None
        try:
            pub = rsa.RSAPublicNumbers(e, int(n)).public_key()
        except ValueError:
            return None
        if not all(pow(sd.s, e, int(n)) == sd.m for sd in chosen):
            return None
        left_out = tuple(sd for i, sd in enumerate(sigs) if i not in used)
        return Recovered(chosen[0].domain, chosen[0].selector, e, int(n), cofactor, tuple(chosen), 0.0, pub, left_out)
