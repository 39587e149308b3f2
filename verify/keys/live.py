"""Keys from live DNS through dnspython, with every failure mode kept apart.

NXDOMAIN and "no TXT" mean the key is gone (a permanent answer); SERVFAIL and
timeouts mean we could not ask (temporary): the report must not confuse the two.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rdatatype
import dns.resolver
import dns.rrset

from verify.errors import UsageError
from verify.keys import normalize_name, utcnow_iso
from verify.keys.dnssec import Validator, resolver_query, root_anchors
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
    """Ask one resolver (``--resolver``) or the system's, each lookup bounded by ``timeout``.

    With ``dnssec`` the answer is fetched with its RRSIGs and validated from
    ``anchors`` (the root key unless given) by :mod:`verify.keys.dnssec`; each answer
    then says ``secure``, ``insecure``, ``bogus`` or ``unknown``.
    """

    source = "dns"

    def __init__(
        self,
        resolver: str | None = None,
        timeout: float = 5.0,
        dnssec: bool = False,
        anchors: Mapping[dns.name.Name, dns.rrset.RRset] | None = None,
    ) -> None:
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
        self._validator: Validator | None = None
        if dnssec:
            # DO asks for RRSIGs; CD asks a validating resolver for the data even when
            # it is bogus, so that the report can name it instead of a bare SERVFAIL.
            self._resolver.use_edns(0, dns.flags.DO, 1232)
            self._resolver.flags = dns.flags.RD | dns.flags.CD
            self._validator = Validator(anchors if anchors is not None else root_anchors(), resolver_query(self._resolver))

    def lookup(self, name: str) -> KeyLookup:
        qname = normalize_name(name)
        when = utcnow_iso()

        def answer(status: str, txt: tuple[str, ...] = (), detail: str | None = None, **kw: Any) -> KeyLookup:
            if self._validator is not None and "dnssec" not in kw:
                kw.update(dnssec="unknown", dnssec_detail="not validated: negative or failed answers are not checked")
            return KeyLookup(qname, self.source, self.origin, when, status, txt, detail=detail, **kw)

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
        if self._validator is None or ans.response is None:
            return answer("found", txt, detail)
        status = self._validator.answer_status(dns.name.from_text(qname + "."), ans.response)
        rrsigs = tuple(r.to_text() for r in ans.response.answer if r.rdtype == dns.rdatatype.RRSIG)
        return answer("found", txt, detail, dnssec=status.state, dnssec_detail=status.detail, rrsigs=rrsigs)
