"""Keys from live DNS through dnspython, with every failure mode kept apart.

NXDOMAIN and "no TXT" mean the key is gone (a permanent answer); SERVFAIL and
timeouts mean we could not ask (temporary): the report must not confuse the two.
"""

from __future__ import annotations

import dns.exception
import dns.message
import dns.name
import dns.rdatatype
import dns.resolver

from verify.errors import UsageError
from verify.keys import normalize_name, utcnow_iso
from verify.keys.zonefile import txt_strings
from verify.model import KeyLookup


def parse_resolver(spec: str) -> tuple[str, int]:
    """``IP``, ``IP:PORT``, ``[IPv6]:PORT`` or a bare IPv6 address."""
    import ipaddress

    host, port = spec, 53
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        if rest:
            port = int(rest.lstrip(":"))
    elif spec.count(":") == 1:
        host, p = spec.split(":")
        port = int(p)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise UsageError(f"--resolver {spec!r}: give an IP address, optionally with :PORT") from None
    if not 0 < port < 65536:
        raise UsageError(f"--resolver {spec!r}: port out of range")
    return host, port


class LiveDnsSource:
    """Ask one resolver (``--resolver``) or the system's, each lookup bounded by ``timeout``."""

    source = "dns"

    def __init__(self, resolver: str | None = None, timeout: float = 5.0) -> None:
        if resolver:
            host, port = parse_resolver(resolver)
            self._resolver = dns.resolver.Resolver(configure=False)
            self._resolver.nameservers = [host]
            self._resolver.port = port
            self.origin = f"{host}:{port}" if port != 53 else host
        else:
            try:
                self._resolver = dns.resolver.Resolver()
            except dns.resolver.NoResolverConfiguration:
                raise UsageError("no system resolver configured; pass --resolver IP or --offline") from None
            self.origin = "system resolver (" + ", ".join(str(n) for n in self._resolver.nameservers) + ")"
        self._resolver.lifetime = timeout
        self._resolver.timeout = timeout
        self._resolver.cache = None

    def lookup(self, name: str) -> KeyLookup:
        qname = normalize_name(name)
        when = utcnow_iso()

        def answer(status: str, txt: tuple[str, ...] = (), detail: str | None = None) -> KeyLookup:
            return KeyLookup(qname, self.source, self.origin, when, status, txt, detail=detail)

        try:
            ans = self._resolver.resolve(qname + ".", "TXT", raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN:
            return answer("nxdomain", detail="the name does not exist in DNS")
        except dns.resolver.LifetimeTimeout:
            return answer("timeout", detail="no answer from the resolver in time")
        except dns.resolver.NoNameservers as exc:
            return answer("servfail", detail=f"resolver failed: {exc}")
        except (dns.exception.DNSException, OSError, ValueError) as exc:
            return answer("error", detail=f"{type(exc).__name__}: {exc}")
        if ans.rrset is None:
            return answer("no-txt", detail="the name exists but has no TXT record")
        txt = tuple(txt_strings(rd) for rd in ans.rrset if rd.rdtype == dns.rdatatype.TXT)
        cname = ans.canonical_name.to_text().rstrip(".").lower()
        detail = f"CNAME to {cname}" if cname != qname else None
        return answer("found", txt, detail)
