"""model_retention: a vision transformer next to ResNet-32 over device age, with and without GDC.

The hardware-aware vit4 and resnet32_pcm checkpoints (Fashion-MNIST) on the paper's configuration
(``joshi2020``, a shipped chip: two PCM devices per weight, MVMs on read-back conductances), with no
compensation and with GDC right before every probe, probes log-spaced from 1 minute to 1 year. The question
(issue 16): LayerNorm renormalises every token, so does a global drift scale cancel in a transformer, where
ResNet-32's frozen batch-norm needs GDC?

    python scenarios/model_retention.py            # 1 seed, 500 images, 5 probes
    python scenarios/model_retention.py --full     # 5 seeds, 500 images, 6 probes (~15 min on 2 cores)
    python scenarios/model_retention.py --quick    # the slow tests run this

Other options are those of ``chiptwin run`` (``--out``, ``--resume``, ``--threads``, ...).
"""

from __future__ import annotations

import sys

from chiptwin.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "model_retention", *sys.argv[1:]]))
