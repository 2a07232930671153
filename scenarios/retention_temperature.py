"""retention_temperature: accuracy over a day at 25, 55 and 85 °C, and how often to compensate at each.

The hardware-aware ResNet-32 (Fashion-MNIST) on the paper's configuration (``joshi2020``, a shipped chip),
programmed and held at each temperature (the drift law's temperature dependence:
``chiptwin/device/temperature.py``). Per temperature, two traces: GDC and GDC+AdaBS right before every
probe (probes log-spaced 1 s .. 1 day), and GDC+AdaBS passes whenever the device age has grown by a factor
F (``every_factor``; 1.1, 1.25, 1.5, 2), probed right before their passes. The closing table gives, per
temperature, the drift-equivalent age a day reaches, accuracy at a day and the lowest of the day, and the
largest F that keeps every probe within 1 point of the digital accuracy, as a period at 1 h and at 1 day.

    python scenarios/retention_temperature.py            # 1 seed, 1,000 images (~40 min on 2 cores)
    python scenarios/retention_temperature.py --quick    # the slow tests run this

Other options are those of ``chiptwin run`` (``--out``, ``--resume``, ``--threads``, ...).
"""

from __future__ import annotations

import sys

from chiptwin.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "retention_temperature", *sys.argv[1:]]))
