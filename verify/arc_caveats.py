"""What an ARC chain explains about a failed signature; :mod:`verify.verdict` adds it.

A mailing list that changes the Subject or appends a footer breaks the author's DKIM
signature. If the list recorded ``dkim=pass`` before changing anything and sealed that
record in a valid ARC chain (RFC 8617), the failure has a plain explanation: the message
was modified in transit after it was signed. The DKIM verdict does not change (we can
only check what is in front of us, and the ARC sealer's word is a claim backed by its
own signature, not the author's); the explanation does.
"""

from __future__ import annotations

from collections.abc import Sequence

from verify.checks.authresults import matching
from verify.model import ArcResult, Caveat, RecordedResult, Result, SignatureResult

CODE = "modified-in-transit"


def explain(sigs: Sequence[SignatureResult], arc: ArcResult | None, recorded: Sequence[RecordedResult]) -> tuple[list[Caveat], str | None]:
    """A ``modified-in-transit`` caveat for each failing signature the earliest ARC set
    recorded as passing, when the chain validates; and a sentence for the verdict line."""
    if arc is None or arc.cv != "pass" or not arc.instances:
        return [], None
    first = arc.instances[0]
    # The earliest set whose message signature still matches: the message has not changed
    # since that sealer signed it, so the change happened at or before it.
    current = next((i for i in arc.instances if i.ams_valid), None)
    modifier = (current.ams_domain if current else None) or first.ams_domain or "an intermediary"
    aars = [r for r in recorded if r.sealed and r.instance == first.i and r.method == "dkim" and r.result == "pass"]
    out: list[Caveat] = []
    for s in sigs:
        if s.result is not Result.FAIL:
            continue
        rec = next((r for r in aars if s in (matching(r, [s]) or [])), None)
        if rec is None:
            continue
        out.append(
            Caveat(
                CODE,
                f"Signature #{s.index + 1} ({s.domain}) fails now, but a valid ARC chain shows that {rec.authserv_id} recorded "
                f"dkim=pass for it when the message reached them (ARC set i={first.i}): it was modified in transit by "
                f"{modifier} after it was signed. Mailing lists do this when they tag the Subject or add a footer. The DKIM "
                f"result stands; what the author's server signed can no longer be checked, only {modifier}'s word for it.",
                s.index,
            )
        )
    if not out:
        return [], None
    return out, f"A valid ARC chain shows it passed when first relayed: it was modified in transit by {modifier} after it was signed."
