"""tile_mapping: an architect's sweep of crossbar size x ADC bits x mapping strategy.

Crossbars 128/256/512 (128x128 on a 256-tile chip), ADCs of 6/8/10 bits, dense and balanced placement:
tiles used, latency, throughput, energy per image and accuracy at 1 day (GDC+AdaBS) of the
hardware-aware checkpoint. One trace directory per configuration under ``--out``; a table at the end.

    python scenarios/tile_mapping.py [--quick | --full] [--out DIR]
"""

from __future__ import annotations

import sys

from chiptwin.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "tile_mapping", *sys.argv[1:]]))
