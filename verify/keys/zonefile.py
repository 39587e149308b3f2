"""Keys from DNS master-file text: what ``dig TXT`` prints, or a zone file holds.

dnspython reads the records (comments, ``$ORIGIN``/``$TTL``, multi-string TXT,
parentheses), so there is no hand-written parser to get wrong.
"""

from __future__ import annotations

import os

import dns.exception
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.txtbase
import dns.rrset
import dns.tokenizer
import dns.zonefile

from verify.errors import UsageError
from verify.keys import normalize_name, utcnow_iso
from verify.model import KeyLookup


def txt_strings(rdata: dns.rdtypes.txtbase.TXTBase) -> str:
    """Join a TXT record's character-strings with nothing between them (RFC 6376 3.6.2.2)."""
    return b"".join(rdata.strings).decode("utf-8", errors="surrogateescape")


def _read_rrsets(text: str) -> list[dns.rrset.RRset]:
    """Like ``dns.zonefile.read_rrsets``, but honouring ``$ORIGIN`` and ``$TTL`` as zone
    files and ``dig`` output use them; ``$INCLUDE`` stays refused (a key file must not
    pull in other files)."""
    manager = dns.zonefile.RRSetsReaderManager(dns.name.root, False, dns.rdataclass.IN)
    with manager.writer(True) as txn:  # type: ignore[no-untyped-call]
        tok = dns.tokenizer.Tokenizer(text, "<input>")
        reader = dns.zonefile.Reader(tok, dns.rdataclass.IN, txn, allow_directives={"$ORIGIN", "$TTL"})
        reader.read()
    return list(manager.rrsets)


class ZoneFileSource:
    """Every TXT (and CNAME) record in one master file, keyed by owner name."""

    source = "file"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        try:
            with open(self.path, encoding="utf-8", errors="surrogateescape") as fh:
                text = fh.read()
        except OSError as exc:
            raise UsageError(f"{self.path}: cannot read key file ({exc.strerror or exc})") from None
        try:
            rrsets = _read_rrsets(text)
        except dns.exception.DNSException as exc:
            raise UsageError(f"{self.path}: not a DNS master file ({exc})") from None
        self.loaded_at = utcnow_iso()
        self._txt: dict[str, list[str]] = {}
        self._cname: dict[str, str] = {}
        for rrset in rrsets:
            owner = normalize_name(rrset.name.to_text())
            if rrset.rdtype == dns.rdatatype.TXT:
                self._txt.setdefault(owner, []).extend(txt_strings(rd) for rd in rrset)
            elif rrset.rdtype == dns.rdatatype.CNAME:
                self._cname[owner] = normalize_name(rrset[0].target.to_text())

    def __len__(self) -> int:
        return len(self._txt)

    def lookup(self, name: str) -> KeyLookup | None:
        owner = normalize_name(name)
        seen = {owner}
        detail = None
        while owner in self._cname:
            owner = self._cname[owner]
            detail = f"CNAME to {owner}"
            if owner in seen:
                return self._answer(name, "error", (), "CNAME loop in key file")
            seen.add(owner)
        if owner not in self._txt:
            return None
        return self._answer(name, "found", tuple(self._txt[owner]), detail)

    def _answer(self, name: str, status: str, txt: tuple[str, ...], detail: str | None) -> KeyLookup:
        return KeyLookup(
            name=normalize_name(name),
            source=self.source,
            origin=self.path,
            retrieved_at=self.loaded_at,
            status=status,
            txt=txt,
            detail=detail,
        )
