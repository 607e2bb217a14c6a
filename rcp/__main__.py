"""`python -m rcp`."""

import sys

from rcp.cli import main

sys.exit(main())
