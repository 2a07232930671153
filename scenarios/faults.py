"""faults: device faults as physics on the twin.

Accuracy at 1 day (hardware-aware checkpoint, hermes_64, GDC+AdaBS before the probe) as the fraction of
stuck devices grows (0 .. 5 %, half stuck at g_max, half at 0), and a day in which tile 20 dies at noon
and is repaired two hours later: its blocks re-placed on the nearest spare tile and reprogrammed (fresh
devices, their own drift clock), the repair charged as programming energy. One trace per case under
``--out``; a summary table at the end.

    python scenarios/faults.py [--quick | --full] [--out DIR]
"""

from __future__ import annotations

import sys

from chiptwin.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "faults", *sys.argv[1:]]))
