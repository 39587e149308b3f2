#!/usr/bin/env python3
"""Check that two ``scan --jsonl`` files carry the same reports, line for line.

    python bench/same_jsonl.py before.jsonl after.jsonl

Only the times at which key records were retrieved may differ (the ``retrieved_at``
field, and the same time inside the ``key_records`` master-file text, as "retrieved T"
and as an escaped ``retrieved_at`` in its provenance-key line); every other byte of
every line must be the same. Exit 0 when identical, 1 otherwise
(the first differing lines are printed).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

#: Values that depend on the time of the run, not on the message: a time of retrieval,
#: after "retrieved_at" (plain or escaped JSON) or "retrieved " in the master-file text.
_RUN_TIME = re.compile(rb'(retrieved_at(?:\\\\|\\)?"\s*:\s*(?:\\\\|\\)?"|retrieved )\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ')


def _normal(line: bytes) -> bytes:
    return _RUN_TIME.sub(rb"\1*", line)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    a, b = (Path(p).read_bytes().splitlines() for p in argv)
    bad = 0
    if len(a) != len(b):
        print(f"line counts differ: {len(a)} != {len(b)}")
        bad += 1
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if _normal(x) != _normal(y):
            bad += 1
            if bad <= 3:
                print(f"line {i + 1} differs:\n- {x[:2000]!r}\n+ {y[:2000]!r}")
    print(f"{len(a)} vs {len(b)} lines, {bad} difference(s)")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
