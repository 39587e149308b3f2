"""Every resource limit in one place, so hostile input costs bounded time and memory.

Each limit, when hit, is reported, never silently applied: a message over a limit is
an :class:`~verify.errors.InputError` (one line, exit 2); a signature or key over a
limit ends with reason ``limit-reached`` and the message gets a ``limit-reached``
caveat naming the limit. ``tests/hostile/`` holds a case for each limit, and checks
that every case stays under 10 s and 1 GB.
"""

from __future__ import annotations

#: Stable code of the caveat (and signature reason) reported when a limit is hit.
LIMIT_REACHED = "limit-reached"

#: Largest file we read as one message: a 50 MB attachment (about 67 MB encoded) fits. The
#: checks hold several copies (the LF->CRLF repair, a canonical body per canonicalisation for
#: DKIM and for ARC): a 100 MiB worst case peaks at about 0.8 GB and 7 s (tests/hostile), a
#: 160 MB one at 1.3 GB, so the limit keeps every message under 1 GB.
MAX_MESSAGE_BYTES = 100 * 1024 * 1024
#: Most header fields in one message before we refuse it as hostile.
MAX_HEADER_FIELDS = 20_000
#: Most DKIM-Signature fields we check in one message; the rest are reported unchecked.
MAX_SIGNATURES = 50
#: Most names in one h= list (RFC 6376 sets no limit; real signers use < 100).
MAX_SIGNED_HEADERS = 2_000
#: Largest RSA modulus we accept (OpenSSL's own ceiling for verification).
MAX_RSA_BITS = 16_384
#: Largest RSA public exponent (OpenSSL's ceiling above 3,072 bits; real keys use 65537). dkimpy's
#: pure-Python RSA, which ARC goes through, took 16 s per check with a 16,000-bit exponent.
MAX_RSA_EXPONENT_BITS = 64
#: Largest key TXT record we parse.
MAX_KEY_RECORD_BYTES = 64 * 1024
#: Smallest RSA key that counts as strong (RFC 8301 section 3.2).
MIN_STRONG_RSA_BITS = 1024
#: Caveats listed one by one for a repeated field (e.g. unsigned Subject copies); the rest are counted.
MAX_CAVEATS_PER_FIELD = 10
#: Longest Received / (ARC-)Authentication-Results value read; real ones are under 2 KB,
#: and authres's parser is quadratic in the length. Longer ones are reported unread.
MAX_TRACE_FIELD_BYTES = 16 * 1024
#: Most (ARC-)Authentication-Results fields read from one message; the rest are counted.
MAX_AUTH_RESULTS = 200
#: Deepest comment nesting read in a trace field; deeper is reported unreadable.
MAX_COMMENT_DEPTH = 32
#: RFC 8617 4.2.1: at most 50 ARC sets; more is a failed chain, and checking more would
#: cost time quadratic in their number (dkimpy rescans every field for each set).
MAX_ARC_SETS = 50
#: Most Received fields read as hops (the topmost ones). RFC 5321 6.3 has servers treat
#: 100 Received fields as a mail loop, so real mail never carries more.
MAX_HOPS = 100
#: Largest message whose MIME structure (attachments, defects) ``check`` analyses.
MAX_MIME_ANALYSIS_BYTES = 32 * 1024 * 1024
#: Most attachments listed for one message.
MAX_ATTACHMENTS = 500
