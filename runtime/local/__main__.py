"""`python -m runtime.local`: the whole pipeline on one machine (see runtime/local/cli.py)."""

import sys

from runtime.local.cli import main

sys.exit(main())
