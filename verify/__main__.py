"""``python -m verify`` is the ``provenance`` command."""

import sys

from verify.cli import main

sys.exit(main())
