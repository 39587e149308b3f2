"""A real, local authoritative DNS server (Knot DNS) for tests.

Usage::

    from tests.dnsserver import KnotServer, Zone

    with KnotServer({
        "avlab.example.": [
            'sel._domainkey.avlab.example. 3600 IN TXT "v=DKIM1; k=rsa; " "p=..."',
        ],
        "signed.example.": Zone(records=[...], dnssec=True),
        "bogus.example.": Zone(records=[...], dnssec=True, bogus=True),
    }) as srv:
        resolver = srv.resolver()          # dns.resolver.Resolver -> 127.0.0.1:srv.port
        anchor = srv.trust_anchor("signed.example.")   # DNSKEY RRset as text

Zones
-----
``zones`` maps a zone name to one of

* a list of master-file record lines (absolute owner names recommended;
  relative names are taken relative to the zone),
* a ``str`` / ``os.PathLike`` path to a master file of such records,
* a :class:`Zone` (records + DNSSEC options).

Zones may nest when the parent delegates: give the parent an ``NS`` record at the
child's apex (plus glue), and leave out DS for an unsigned (DNSSEC-insecure) child.

No SOA / NS is needed: the helper adds ``<zone> SOA``, ``<zone> NS ns.<zone>``
and ``ns.<zone> A 127.0.0.1`` unless the records already have an apex SOA /
NS.  ``records_file=`` takes one master file whose records are distributed to
the *named* zones by longest suffix match (a record outside every named zone is
an error).  Records are parsed with dnspython first (so syntax errors and
out-of-zone names raise ``ValueError`` in Python instead of being silently
dropped by the server) and written back out for Knot.

DNSSEC modes (per zone)
-----------------------
* insecure (default, ``dnssec=False``): plain unsigned zone.
* signed (``dnssec=True``): Knot's automatic signing (``dnssec-signing: on``)
  with a single CSK (``single-type-signing: on``, flags 257) of ``algorithm``
  (default ``ecdsap256sha256``; also ``ed25519``, ``ecdsap384sha384``,
  ``rsasha256``...) and NSEC.  Keys are generated fresh in the temp dir's
  KASP DB at start.
* bogus (``dnssec=True, bogus=True`` or ``bogus="rrsig"|"data"``): the zone is
  signed offline with ``ldns-signzone`` (one KSK-flagged key that signs
  everything, NSEC), then every TXT RRset is tampered with, and the result is
  served by Knot as a pre-signed zone with ``dnssec-signing: off``.  SOA, NS,
  DNSKEY and NSEC stay validly signed; only TXT answers are bogus.

  - ``"rrsig"`` (default for ``bogus=True``): one byte of the signature of each
    RRSIG covering TXT is flipped; the TXT data is served exactly as given.
  - ``"data"``: every TXT rdata gets an extra trailing character-string
    ``" "`` after signing (DKIM tag-lists allow trailing whitespace, so the
    record still parses the same, but the RRSIG no longer matches).

:meth:`KnotServer.trust_anchor` returns the zone's DNSKEY RRset (queried from
the running server) as master-file text, or its SHA-256 DS with
``kind="ds"``.  In both signed and bogus zones the single key has the SEP flag
(257) and signs every RRset, so that DNSKEY RRset works directly as a trust
anchor for ``dns.dnssec.validate``.

Knot requirements: ``knotd`` (Debian package ``knot``); the bogus mode also
needs ``ldns-keygen`` / ``ldns-signzone`` (``ldnsutils``).  A missing tool
raises :class:`ToolMissing`.
"""

from __future__ import annotations

import contextlib
import ctypes
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

import dns.dnssec
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.resolver
import dns.rrset
import dns.zone

__all__ = [
    "KnotServer",
    "Zone",
    "KnotError",
    "ToolMissing",
    "free_port",
    "silent_port",
    "find_knotd",
    "parse_rrset",
]

ADDRESS = "127.0.0.1"
DEFAULT_TTL = 3600
SOA_MINIMUM = 300
START_TIMEOUT = 10.0
BOGUS_MODES = ("rrsig", "data")


class KnotError(RuntimeError):
    """knotd failed to start / serve; the message carries the log tail."""


class ToolMissing(KnotError):
    """A required executable (knotd, ldns-signzone, ...) is not installed."""


def _which(name: str, extra_dirs: Sequence[str] = ("/usr/sbin", "/usr/bin", "/usr/local/sbin")) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in extra_dirs:  # /usr/sbin is often not on a non-root PATH
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return None


def find_knotd() -> str | None:
    """Path of knotd (env KNOTD overrides), or None."""
    env = os.environ.get("KNOTD")
    if env:
        return env if os.access(env, os.X_OK) else None
    return _which("knotd")


def _require(name: str, package: str) -> str:
    path = find_knotd() if name == "knotd" else _which(name)
    if not path:
        raise ToolMissing(f"{name} not found (install the Debian package '{package}')")
    return path


# --------------------------------------------------------------------------
# ports


def free_port(address: str = ADDRESS) -> int:
    """A port that is currently free for both UDP and TCP on ``address``.

    (There is an unavoidable race until the server binds it; KnotServer
    retries with a new port if knotd cannot bind.)
    """
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind((address, 0))
            port = t.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind((address, port))
                except OSError:
                    continue
        return port
    raise OSError("could not find a port free for both UDP and TCP")


@contextlib.contextmanager
def silent_port(address: str = ADDRESS) -> Iterator[int]:
    """Yield a port on ``address`` where nothing ever answers.

    A UDP socket is bound there (datagrams are swallowed, no ICMP "port
    unreachable" is sent back, so UDP queries time out) and a TCP socket
    listens on the same port without ever accepting or reading (connect
    succeeds, the reply never comes), so TCP queries time out too.
    """
    for _ in range(50):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            u.bind((address, 0))
            port = u.getsockname()[1]
            t.bind((address, port))
            t.listen(16)
        except OSError:
            u.close()
            t.close()
            continue
        try:
            yield port
        finally:
            u.close()
            t.close()
        return
    raise OSError("could not bind a silent UDP+TCP port")


# --------------------------------------------------------------------------
# zones


RecordsLike = Union[Sequence[str], str, "os.PathLike[str]"]


@dataclass
class Zone:
    """Contents and DNSSEC options of one zone.

    records:   list of master-file lines, or a path to a master file.
    dnssec:    sign the zone.
    bogus:     False, True (== "rrsig") or "data"; implies dnssec.
    algorithm: DNSSEC algorithm in Knot's spelling (ecdsap256sha256, ed25519,
               ecdsap384sha384, rsasha256, ...).
    broken:    the zone's file fails to load, so Knot answers SERVFAIL for every
               name in it (an authoritative server's way to say "cannot answer").
    nsec3:     for a signed zone, deny existence with NSEC3 instead of NSEC:
               "on", or "opt-out" (unsigned delegations are covered, not listed).
    """

    records: RecordsLike = ()
    dnssec: bool = False
    bogus: bool | str = False
    algorithm: str = "ecdsap256sha256"
    broken: bool = False
    nsec3: str | None = None

    @property
    def mode(self) -> str:
        if self.broken:
            return "broken"
        if self.bogus:
            return "bogus"
        return "signed" if self.dnssec else "insecure"

    @property
    def bogus_mode(self) -> str | None:
        if not self.bogus:
            return None
        mode = "rrsig" if self.bogus is True else str(self.bogus)
        if mode not in BOGUS_MODES:
            raise ValueError(f"bogus must be True or one of {BOGUS_MODES}, not {self.bogus!r}")
        return mode


def _policy_id(alg: str, nsec3: str) -> str:
    return f"p-{alg}" + (f"-nsec3-{nsec3}" if nsec3 else "")


def insecure(records: RecordsLike = ()) -> Zone:
    return Zone(records=records)


def signed(records: RecordsLike = (), algorithm: str = "ecdsap256sha256") -> Zone:
    return Zone(records=records, dnssec=True, algorithm=algorithm)


def bogus(records: RecordsLike = (), tamper: str = "rrsig", algorithm: str = "ecdsap256sha256") -> Zone:
    return Zone(records=records, dnssec=True, bogus=tamper, algorithm=algorithm)


def _records_text(records: RecordsLike) -> str:
    """Lines -> text; PathLike -> file contents; str -> file contents if it
    names an existing file, otherwise it is master-file text itself."""
    if isinstance(records, os.PathLike):
        return Path(records).read_text()
    if isinstance(records, str):
        if "\n" not in records and os.path.isfile(records):
            return Path(records).read_text()
        if not any(c.isspace() for c in records.strip()):
            raise FileNotFoundError(f"no such records file: {records!r}")
        return records
    return "\n".join(records) + "\n"


def _parse(text: str, origin: str, where: str) -> dns.zone.Zone:
    """Parse master-file text; names are NOT filtered (origin for parsing is '.')."""
    body = f"$ORIGIN {origin}\n$TTL {DEFAULT_TTL}\n{text}\n"
    try:
        return dns.zone.from_text(body, origin=".", relativize=False, check_origin=False)
    except dns.exception.DNSException as e:
        raise ValueError(f"cannot parse records for {where}: {e}") from e


def _zone_for(name: dns.name.Name, zones: Iterable[dns.name.Name]) -> dns.name.Name | None:
    best = None
    for z in zones:
        if name.is_subdomain(z) and (best is None or len(z) > len(best)):
            best = z
    return best


@dataclass
class _ZoneBuild:
    name: dns.name.Name
    spec: Zone
    rdatasets: list = field(default_factory=list)  # (name, rdataset)

    @property
    def text(self) -> str:
        return self.name.to_text()

    def master_text(self) -> str:
        """Complete zone file text with SOA/NS added where missing."""
        z = self.name.to_text()
        have = {(n, rds.rdtype) for n, rds in self.rdatasets}
        owners = {n for n, _ in self.rdatasets}
        lines = [f"$ORIGIN {z}", f"$TTL {DEFAULT_TTL}"]
        if (self.name, dns.rdatatype.SOA) not in have:
            lines.append(f"{z} {DEFAULT_TTL} IN SOA ns.{z} hostmaster.{z} 1 3600 900 604800 {SOA_MINIMUM}")
        if (self.name, dns.rdatatype.NS) not in have:
            lines.append(f"{z} {DEFAULT_TTL} IN NS ns.{z}")
            if dns.name.from_text(f"ns.{z}") not in owners:
                lines.append(f"ns.{z} {DEFAULT_TTL} IN A {ADDRESS}")
        for n, rds in self.rdatasets:
            lines.append(rds.to_text(n, relativize=False))
        return "\n".join(lines) + "\n"


def _normalise(zones: Mapping[str, Zone | RecordsLike] | None, records_file: RecordsLike | None) -> dict[dns.name.Name, _ZoneBuild]:
    builds: dict[dns.name.Name, _ZoneBuild] = {}
    for zname, value in (zones or {}).items():
        spec = value if isinstance(value, Zone) else Zone(records=value)
        _ = spec.bogus_mode  # validate early
        name = dns.name.from_text(zname)
        if name in builds:
            raise ValueError(f"zone {name} given twice")
        b = _ZoneBuild(name, spec)
        parsed = _parse(_records_text(spec.records), name.to_text(), f"zone {name}")
        for n, rds in parsed.iterate_rdatasets():
            if not n.is_subdomain(name):
                raise ValueError(f"record {n} {dns.rdatatype.to_text(rds.rdtype)} is outside zone {name}")
            b.rdatasets.append((n, rds))
        builds[name] = b
    if records_file is not None:
        if not builds:
            raise ValueError("records_file needs the zone names (zones={name: Zone(...) or []})")
        parsed = _parse(_records_text(records_file), ".", str(records_file))
        for n, rds in parsed.iterate_rdatasets():
            z = _zone_for(n, builds)
            if z is None:
                raise ValueError(
                    f"record {n} {dns.rdatatype.to_text(rds.rdtype)} in {records_file} is in none of the zones {[str(x) for x in builds]}"
                )
            builds[z].rdatasets.append((n, rds))
    if not builds:
        raise ValueError("no zones given")
    # A zone inside another needs a delegation: the parent must hold NS records at the
    # child's apex (and no DS, unless the test adds one), so that DS queries are answered
    # from the parent with a signed proof of absence, as on the Internet.
    names = list(builds)
    for a in names:
        for b_ in names:
            if a != b_ and a.is_subdomain(b_):
                if (a, dns.rdatatype.NS) not in {(n, rds.rdtype) for n, rds in builds[b_].rdatasets}:
                    raise ValueError(f"nested zone {a} inside {b_} needs an NS delegation record for {a} in {b_}")
    return builds


def parse_rrset(text: str) -> dns.rrset.RRset:
    """Parse master-file lines of ONE RRset (e.g. a trust anchor) into an RRset."""
    z = _parse(text, ".", "rrset text")
    sets = list(z.iterate_rdatasets())
    if len(sets) != 1:
        raise ValueError(f"expected exactly one RRset, got {len(sets)}")
    n, rds = sets[0]
    rr = dns.rrset.RRset(n, rds.rdclass, rds.rdtype)
    rr.update(rds)
    return rr


# --------------------------------------------------------------------------
# offline signing for the bogus mode


def _sign_bogus(build: _ZoneBuild, workdir: Path) -> str:
    keygen = _require("ldns-keygen", "ldnsutils")
    signzone = _require("ldns-signzone", "ldnsutils")
    zname = build.name.to_text()
    kdir = workdir / "ldns" / zname.rstrip(".")
    kdir.mkdir(parents=True, exist_ok=True)
    alg = build.spec.algorithm.upper()
    cmd = [keygen, "-a", alg, "-k"]
    if alg.startswith("RSA"):
        cmd += ["-b", "2048"]
    base = _run(cmd + [zname], kdir).strip()
    unsigned = kdir / "zone"
    unsigned.write_text(build.master_text())
    now = int(time.time())
    out = kdir / "zone.signed"
    _run(
        [signzone, "-o", zname, "-i", str(now - 3600), "-e", str(now + 30 * 86400), "-f", str(out), str(unsigned), base],
        kdir,
    )
    z = dns.zone.from_text(out.read_text(), origin=zname, relativize=False, check_origin=False)
    mode = build.spec.bogus_mode
    tampered = 0
    for node in z.values():
        txt = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.TXT)
        if txt is None:
            continue
        if mode == "data":
            new = [r.replace(strings=tuple(r.strings) + (b" ",)) for r in txt]
            node.replace_rdataset(_rdataset(txt.ttl, new))
        else:
            sigs = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, dns.rdatatype.TXT)
            new = []
            for s in sigs:
                sig = bytearray(s.signature)
                sig[len(sig) // 2] ^= 0x55
                new.append(s.replace(signature=bytes(sig)))
            node.replace_rdataset(_rdataset(sigs.ttl, new))
        tampered += 1
    if not tampered:
        raise ValueError(f"bogus zone {zname} has no TXT record to tamper with")
    return z.to_text(relativize=False)


def _rdataset(ttl: int, rdatas: list) -> dns.rdataset.Rdataset:
    return dns.rdataset.from_rdata_list(ttl, rdatas)


def _run(cmd: list[str], cwd: Path) -> str:
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise KnotError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}{p.stderr}")
    return p.stdout


# --------------------------------------------------------------------------
# the server


def _pdeathsig() -> None:  # pragma: no cover - runs in the child
    """Kill knotd if the test process dies (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except Exception:
        pass


class KnotServer:
    """A knotd subprocess serving the given zones on 127.0.0.1:<free port>.

    Context manager; or call :meth:`start` / :meth:`stop` yourself.
    Attributes after start: ``address``, ``port``, ``workdir`` (temp dir with
    ``knot.conf``, ``zones/``, ``storage/``, ``knotd.log``), ``startup_seconds``.
    """

    address = ADDRESS

    def __init__(
        self,
        zones: Mapping[str, Zone | RecordsLike] | None = None,
        *,
        records_file: RecordsLike | None = None,
        start_timeout: float = START_TIMEOUT,
        keep_workdir: bool | None = None,
    ) -> None:
        self._builds = _normalise(zones, records_file)
        self.start_timeout = start_timeout
        self.keep_workdir = bool(os.environ.get("KNOT_KEEP_WORKDIR")) if keep_workdir is None else keep_workdir
        self.port: int | None = None
        self.workdir: Path | None = None
        self.proc: subprocess.Popen | None = None
        self.startup_seconds: float | None = None
        self._anchors: dict[dns.name.Name, dns.rrset.RRset] = {}
        self._log_offset = 0

    # -- public API -------------------------------------------------------

    @property
    def zones(self) -> list[str]:
        return [n.to_text() for n in self._builds]

    def mode(self, zone: str) -> str:
        return self._builds[dns.name.from_text(zone)].spec.mode

    def __enter__(self) -> KnotServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> KnotServer:
        if self.proc is not None:
            raise KnotError("already started")
        knotd = _require("knotd", "knot")
        t0 = time.monotonic()
        self.workdir = Path(tempfile.mkdtemp(prefix="knot-"))
        try:
            self._write_zones()
            for _attempt in range(5):
                self.port = free_port()
                self._write_conf()
                self._log_offset = self._log_size()
                log = open(self.workdir / "knotd.log", "ab")
                try:
                    self.proc = subprocess.Popen(
                        [knotd, "-c", str(self.workdir / "knot.conf")],
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        cwd=self.workdir,
                        preexec_fn=_pdeathsig,
                    )
                finally:
                    log.close()
                try:
                    self._wait_ready(t0 + self.start_timeout)
                    break
                except _PortTaken:
                    self._kill()
                    continue
            else:
                raise KnotError("could not bind a free port after 5 attempts" + self._tail())
        except BaseException:
            self.stop()  # the log tail is in the exception; KNOT_KEEP_WORKDIR=1 keeps the dir
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def stop(self) -> None:
        self._kill()
        if self.workdir is not None and not self.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _log_size(self) -> int:
        return len(self.log_text)

    @property
    def log_text(self) -> str:
        try:
            return (self.workdir / "knotd.log").read_text(errors="replace")  # type: ignore[operator]
        except (OSError, TypeError):
            return ""

    def resolver(self, timeout: float = 2.0, dnssec: bool = False) -> dns.resolver.Resolver:
        """A stub resolver that sends every query to this server (no caching)."""
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = [self.address]
        r.port = self.port
        r.timeout = r.lifetime = timeout
        if dnssec:
            r.use_edns(0, dns.flags.DO, 1232)
        return r

    def query(self, name: str, rdtype: str = "A", dnssec: bool = False, timeout: float = 2.0) -> dns.message.Message:
        """Raw query (UDP, TCP fallback on truncation); returns the full response."""
        q = dns.message.make_query(name, rdtype, want_dnssec=dnssec, payload=1232)
        resp, _ = dns.query.udp_with_fallback(q, self.address, timeout=timeout, port=self.port)
        return resp

    def dnskey_rrset(self, zone: str) -> dns.rrset.RRset:
        """The zone's DNSKEY RRset as served (cached)."""
        name = dns.name.from_text(zone)
        if name not in self._builds or self._builds[name].spec.mode == "insecure":
            raise ValueError(f"{zone} is not a signed zone of this server")
        if name not in self._anchors:
            resp = self.query(name.to_text(), "DNSKEY", dnssec=True)
            rrset = resp.get_rrset(resp.answer, name, dns.rdataclass.IN, dns.rdatatype.DNSKEY)
            if not rrset:
                raise KnotError(f"no DNSKEY served for {zone}:\n{resp}" + self._tail())
            self._anchors[name] = rrset
        return self._anchors[name]

    def trust_anchor(self, zone: str, kind: str = "dnskey") -> str:
        """Trust anchor text for ``zone``.

        kind="dnskey": the served DNSKEY RRset, one master-file line per key,
        e.g. ``signed.example. 3600 IN DNSKEY 257 3 13 <base64>``.
        kind="ds": the SHA-256 DS record(s) of the SEP key(s).
        Parse either back with :func:`parse_rrset`.
        """
        rrset = self.dnskey_rrset(zone)
        if kind == "dnskey":
            return rrset.to_text() + "\n"
        if kind == "ds":
            ds = [dns.dnssec.make_ds(rrset.name, k, "SHA256") for k in rrset if k.flags & 0x0001]
            out = dns.rrset.from_rdata_list(rrset.name, rrset.ttl, ds)
            return out.to_text() + "\n"
        raise ValueError("kind must be 'dnskey' or 'ds'")

    # -- internals --------------------------------------------------------

    def _write_zones(self) -> None:
        assert self.workdir is not None
        zdir = self.workdir / "zones"
        for d in ("zones", "storage", "run"):
            (self.workdir / d).mkdir()
        for name, b in self._builds.items():
            if b.spec.mode == "broken":
                text = "this line is not a record ((((\n"  # Knot fails to load it: SERVFAIL
            else:
                text = _sign_bogus(b, self.workdir) if b.spec.mode == "bogus" else b.master_text()
            (zdir / f"{name.to_text()}zone").write_text(text)

    def _write_conf(self) -> None:
        assert self.workdir is not None and self.port is not None
        w = self.workdir
        user = pwd.getpwuid(os.geteuid()).pw_name
        group = grp.getgrgid(os.getegid()).gr_name
        algs = sorted({(b.spec.algorithm.lower(), b.spec.nsec3 or "") for b in self._builds.values() if b.spec.mode == "signed"})
        conf = [
            "server:",
            f'    rundir: "{w / "run"}"',
            f"    user: {user}:{group}",
            f"    listen: {ADDRESS}@{self.port}",
            "    udp-workers: 1",
            "    tcp-workers: 1",
            "    background-workers: 1",
            "log:",
            "  - target: stderr",
            "    any: info",
            "database:",
            f'    storage: "{w / "storage"}"',
            "    journal-db-max-size: 64M",
            "    kasp-db-max-size: 16M",
            "    timer-db-max-size: 16M",
            "    catalog-db-max-size: 16M",
        ]
        if algs:
            conf.append("policy:")
            for alg, nsec3 in algs:
                conf += [
                    f"  - id: {_policy_id(alg, nsec3)}",
                    f"    algorithm: {alg}",
                    "    single-type-signing: on",
                    f"    nsec3: {'on' if nsec3 else 'off'}",
                ]
                if nsec3:
                    conf += ["    nsec3-iterations: 0", "    nsec3-salt-length: 0", f"    nsec3-opt-out: {'on' if nsec3 == 'opt-out' else 'off'}"]
        conf += [
            "template:",
            "  - id: default",
            f'    storage: "{w / "zones"}"',
            '    file: "%s.zone"',
            "    zonefile-sync: -1",
            "    zonefile-load: whole",
            "    journal-content: none",
            "zone:",
        ]
        for name, b in self._builds.items():
            conf.append(f"  - domain: {name.to_text()}")
            if b.spec.mode == "signed":
                conf += ["    dnssec-signing: on", f"    dnssec-policy: {_policy_id(b.spec.algorithm.lower(), b.spec.nsec3 or '')}"]
            else:
                conf.append("    dnssec-signing: off")
        (w / "knot.conf").write_text("\n".join(conf) + "\n")

    def _wait_ready(self, deadline: float) -> None:
        assert self.proc is not None
        pending = [n for n, b in self._builds.items() if b.spec.mode != "broken"]
        broken = [f"[{n.to_text()}]" for n, b in self._builds.items() if b.spec.mode == "broken"]
        t_wait = time.monotonic()
        while True:
            log = self.log_text[self._log_offset :]  # this attempt only
            if "cannot bind address" in log:
                raise _PortTaken()
            errors = [
                ln for ln in log.splitlines() if (" error: [" in ln or " critical: " in ln) and not any(z in ln for z in broken)
            ]
            if errors:
                raise KnotError("knotd reported errors:\n" + "\n".join(errors) + self._tail())
            if self.proc.poll() is not None:
                raise KnotError(f"knotd exited with code {self.proc.returncode}" + self._tail())
            # short query timeout first (loopback answers in < 1 ms; before
            # knotd has bound, UDP queries just vanish), longer under load
            qtimeout = 0.05 if time.monotonic() - t_wait < 1.0 else 0.25
            while pending and self._answers_soa(pending[0], qtimeout):
                pending.pop(0)
            if not pending:
                return
            if time.monotonic() > deadline:
                raise KnotError(
                    f"knotd not ready within {self.start_timeout:.0f}s (zones not loaded: {[str(p) for p in pending]})" + self._tail()
                )
            time.sleep(0.02)

    def _answers_soa(self, zone: dns.name.Name, timeout: float) -> bool:
        q = dns.message.make_query(zone, dns.rdatatype.SOA)
        try:
            r = dns.query.udp(q, self.address, timeout=timeout, port=self.port)
        except (dns.exception.Timeout, OSError):
            return False
        return r.rcode() == dns.rcode.NOERROR and bool(r.answer)

    def _kill(self) -> None:
        p, self.proc = self.proc, None
        if p is None:
            return
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def _tail(self, lines: int = 40) -> str:
        where = f" (workdir {self.workdir})" if self.workdir and self.keep_workdir else ""
        tail = "\n".join(self.log_text.splitlines()[-lines:])
        return f"\n--- knotd.log tail{where} ---\n{tail}"

    def __repr__(self) -> str:
        return f"<KnotServer {self.address}:{self.port} zones={self.zones} running={self.running}>"


class _PortTaken(Exception):
    pass
