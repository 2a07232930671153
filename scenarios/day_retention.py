"""day_retention: Joshi et al. 2020's experiment on the twin.

The FP32 and the hardware-aware ResNet-32 (Fashion-MNIST) programmed on the paper's own configuration
(``joshi2020``, a shipped chip: two PCM devices per weight, MVMs on the devices' conductances without
converters), under no compensation, GDC, and GDC+AdaBS (each right before the probe), accuracy probes
log-spaced from 1 s to 1 day (10 in the default size; ``--year``: to 1 year), with the latency and
energy of inference and of compensation.

    python scenarios/day_retention.py            # the main job's size: 1 seed, 1,000 images
    python scenarios/day_retention.py --full     # 5 seeds, 10,000 images, 2,600 AdaBS images
    python scenarios/day_retention.py --quick    # ~30 s (the slow tests run this)

Other options are those of ``chiptwin run`` (``--out``, ``--resume``, ``--no-report``, ...).
"""

from __future__ import annotations

import sys

from chiptwin.cli import main

if __name__ == "__main__":
    argv = sys.argv[1:]
    name = "day_retention_year" if "--year" in argv else "day_retention"
    sys.exit(main(["run", name, *(a for a in argv if a != "--year")]))
