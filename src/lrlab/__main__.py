"""``python -m lrlab``: the command line."""

import sys

from lrlab.cli import main

sys.exit(main())
