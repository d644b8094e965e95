"""`python -m listener` runs the CLI."""

import sys

from listener.cli import main

sys.exit(main())
