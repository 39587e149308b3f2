"""Every resource limit in one place, so hostile input costs bounded time and memory.

Each limit, when hit, is reported (an input error or a caveat), never silently applied.
"""

from __future__ import annotations

#: Largest file we read as one message (a 50 MB attachment must still fit).
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
#: Most header fields in one message before we refuse it as hostile.
MAX_HEADER_FIELDS = 20_000
#: Most DKIM-Signature fields we check in one message; the rest are reported unchecked.
MAX_SIGNATURES = 50
#: Most names in one h= list (RFC 6376 sets no limit; real signers use < 100).
MAX_SIGNED_HEADERS = 2_000
#: Largest RSA modulus we accept (OpenSSL's own ceiling for verification).
MAX_RSA_BITS = 16_384
#: Largest key TXT record we parse.
MAX_KEY_RECORD_BYTES = 64 * 1024
#: Smallest RSA key that counts as strong (RFC 8301 section 3.2).
MIN_STRONG_RSA_BITS = 1024
