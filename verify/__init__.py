"""provenance: is this leaked email what it claims to be?

Verify every DKIM signature on the exact bytes of a message, judge it as of the time
it was received, and say in one word (with caveats) what that proves::

    import verify
    from verify.keys import KeyStore
    from verify.keys.zonefile import ZoneFileSource

    store = KeyStore(files=[ZoneFileSource("samples/keys.zone")])  # offline: no dns=
    report = verify.check_file("samples/verified_rsa_sha256.eml", keys=store)
    print(report.verdict.value, report.summary)
    for c in report.caveats:
        print(c.code, c.message)
    data = report.json()  # the same dict ``provenance check --json`` prints

A :class:`Report` is truthy only when the verdict is ``verified``. Input that is not
an email raises :class:`InputError`; everything else is reported, not raised.
"""

from __future__ import annotations

__version__ = "0.1.0"

from verify.engine import check_bytes, check_evidence, check_file  # noqa: E402
from verify.errors import InputError, ProvenanceError, UsageError  # noqa: E402
from verify.keys import KeyStore  # noqa: E402
from verify.model import Caveat, KeyLookup, Reason, Report, Result, SignatureResult, Verdict  # noqa: E402

__all__ = [
    "Caveat",
    "InputError",
    "KeyLookup",
    "KeyStore",
    "ProvenanceError",
    "Reason",
    "Report",
    "Result",
    "SignatureResult",
    "UsageError",
    "Verdict",
    "__version__",
    "check_bytes",
    "check_evidence",
    "check_file",
]
