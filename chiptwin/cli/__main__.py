"""``python -m chiptwin.cli``."""

import sys

from chiptwin.cli import main

sys.exit(main())
