"""compensation_period: accuracy vs energy with GDC+AdaBS every 10 min / 1 h / 6 h, or never, over a day.

The hardware-aware checkpoint on hermes_64; probes every 30 minutes see the compensation state of the
last pass, so accuracy between passes shows its saw-tooth, and the energy column shows what each period
costs.

    python scenarios/compensation_period.py [--quick | --full] [--out DIR]
"""

from __future__ import annotations

import sys

from chiptwin.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "compensation_period", *sys.argv[1:]]))
