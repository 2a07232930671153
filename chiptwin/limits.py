"""Upper bounds on every size, count, rate and time a user can give chiptwin, in one place.

A chip file, scenario, sweep file or command-line argument is checked against these when it is loaded,
before any data, model or mapping is prepared, so one large number ends the command with one line, not
with a MemoryError an hour later. Each bound is far above any published or shipped value (the reason is
next to it); where a value above it could be legitimate, the bound says what it would cost.
"""

from __future__ import annotations

from chiptwin.durations import MAX_DURATION_NS
from chiptwin.units import NS_PER_S, SECONDS_PER_YEAR

__all__ = [
    "EVENT_IMAGES_PER_S",
    "MAX_AGE_S",
    "MAX_AREA_UM2",
    "MAX_ARRIVALS",
    "MAX_BATCH_SIZE",
    "MAX_CALIBRATION_IMAGES",
    "MAX_CHECKPOINTS",
    "MAX_COMPENSATION_PASSES",
    "MAX_CROP_PAD",
    "MAX_CROSSBAR_SIDE",
    "MAX_DETAIL_ROWS",
    "MAX_DEVICES_PER_WEIGHT",
    "MAX_ENERGY_PJ",
    "MAX_EPOCHS",
    "MAX_EVENT_ARRIVALS",
    "MAX_EVENT_ROWS",
    "MAX_GDC_READS",
    "MAX_IN_CHANNELS",
    "MAX_ITERATIONS",
    "MAX_LAYERS",
    "MAX_MAPPING_ROWS",
    "MAX_MEASUREMENT_ROWS",
    "MAX_MESH_SIDE",
    "MAX_MODEL_WIDTH",
    "MAX_OP_TIME_NS",
    "MAX_POLICIES",
    "MAX_PROBES",
    "MAX_RATE_PER_S",
    "MAX_REPLAY_ARRIVALS",
    "MAX_REPROGRAMS",
    "MAX_SEED",
    "MAX_SEEDS",
    "MAX_STATIC_POWER_MW",
    "MAX_SWEEP_CELLS",
    "MAX_SYNTHETIC_DEVICES",
    "MAX_TEMPERATURE_C",
    "MAX_TEMPERATURE_POINTS",
    "MAX_TEST_IMAGES",
    "MAX_THREADS",
    "MAX_THROUGHPUT",
    "MAX_TILES",
    "MAX_WORKERS",
    "MIN_OP_TIME_NS",
    "MIN_RATE_PER_S",
    "MIN_TEMPERATURE_C",
    "MIN_THROUGHPUT",
]

# ---- a chip file ----------------------------------------------------------------------------------------

MAX_TILES = 4096
"""Tiles per chip. HERMES has 64 cores (Le Gallo et al., Nat. Electron. 2023); 4096 is 64 such chips."""

MAX_CROSSBAR_SIDE = 8192
"""Rows or columns of one crossbar. Fabricated PCM/RRAM arrays reach 1024 x 1024 (and Joshi 2020's
experiment used 512 x 2048 of a 1M-device array); a longer bit line has no useful read margin."""

MAX_DEVICES_PER_WEIGHT = 16
"""Devices per weight (HERMES 4, Joshi 2020 2); multi-device schemes in the literature use up to 8."""

MAX_MESH_SIDE = 1024
"""Routers per side of the NoC mesh (HERMES: 8 x 8)."""

MAX_OP_TIME_NS = float(NS_PER_S)
"""Longest time of one chip operation (an integration, a conversion, a hop, a programming iteration), ns:
1 s; HERMES' MVM takes ~130 ns, a programming iteration ~1 us."""

MIN_OP_TIME_NS = 1e-3
"""Shortest nonzero time of one chip operation, ns: 1 ps (HERMES' fastest figure is 300 ps per ADC LSB;
no CMOS integration, conversion or hop takes less). A smaller figure (a subnormal 5e-324 ns) is a typo,
and a rate computed from it overflows."""

MAX_ENERGY_PJ = 1e9
"""Largest energy of one chip operation, pJ (1 mJ; HERMES' figures are fJ to pJ)."""

MAX_STATIC_POWER_MW = 1e6
"""Largest static power of a chip, mW (1 kW; HERMES' whole chip draws ~1 W)."""

MAX_THROUGHPUT = 1e9
"""Largest per-nanosecond throughput figure (digital ops/ns, NoC bytes/ns): 10^18 per second."""

MIN_THROUGHPUT = 1e-9
"""Smallest per-nanosecond throughput figure (digital ops/ns, NoC bytes/ns): one per second (HERMES' are
tens per ns). Below it one image's transfers or digital ops outlast the int64 ns clock (a link of
1e-300 bytes/ns ended in an OverflowError)."""

MAX_AREA_UM2 = 1e10
"""Largest area of one component or of the chip's extra area, µm² (10^4 mm²: a whole 300-mm wafer is
~7 x 10^4 mm²; HERMES' cores are ~0.6 mm²)."""

MAX_ITERATIONS = 10_000
"""Program-and-verify iterations per device (Joshi 2020 used ~20 on average)."""

# ---- a scenario, an evaluation, a timing run --------------------------------------------------------------

MAX_AGE_S = 100 * SECONDS_PER_YEAR
"""Latest device age or probe time, s: 100 years (PCM retention is specified for 10 years; the drift law
is fitted up to ~1 day in Joshi 2020, so anything beyond is extrapolation already). The trace's int64 ns
clock would allow ~292 years."""

assert MAX_AGE_S * NS_PER_S < MAX_DURATION_NS

MIN_TEMPERATURE_C = -55.0
"""Lowest chip temperature, °C: the low end of the military and automotive (AEC-Q100) ranges; colder,
the relaxation behind drift is frozen anyway."""

MAX_TEMPERATURE_C = 150.0
"""Highest chip temperature, °C: the high end of AEC-Q100 grade 0. Hotter, the amorphous phase of
GST-based PCM crystallizes (it is specified for 10-year retention at 85 °C), which no chiptwin law
models: crystallization, not drift, then decides a device's state."""

MAX_TEMPERATURE_POINTS = 10_000_000
"""Points of a scenario's temperature series (a Parquet file or a list of steps): one reading a second for
115 days, or a minute for 19 years (160 MB as two float64 columns)."""

MAX_SEED = 2**63 - 1
"""Largest seed (programming, workload, training): the range of the trace's int64 ``seed`` column."""

MAX_SEEDS = 1000
"""Programming seeds per scenario or evaluation (Joshi 2020: 5 per point; 1000 for spread studies)."""

MAX_CHECKPOINTS = 100
"""Checkpoints per scenario (the shipped scenarios compare 2)."""

MAX_POLICIES = 100
"""Compensation policies per scenario (the shipped scenarios compare at most 8)."""

MAX_PROBES = 1000
"""Accuracy probes per scenario (the shipped scenarios use at most 12)."""

MAX_TEST_IMAGES = 10_000
"""Test images per probe: the Fashion-MNIST test set (Xiao et al. 2017) holds 10,000."""

MAX_CALIBRATION_IMAGES = 60_000
"""Calibration images (AdaBS, converter ranges): the Fashion-MNIST training set holds 60,000."""

MAX_BATCH_SIZE = 10_000
"""Images per batch: a whole test set."""

MAX_RATE_PER_S = 1e6
"""Mean inference rate, per second: HERMES' 63.1 TOPS serve ResNet-32 (~0.14 GOP per image) at most
~450,000 images/s. The batched engine holds one 10-s chunk of arrivals at a time, ~90 bytes each: 10^6/s
is ~1 GB (measured: 10^7 arrivals, 0.9 GB peak)."""

MIN_RATE_PER_S = 1 / MAX_AGE_S
"""Smallest mean inference rate, per second: one inference in 100 years (below it the period between
arrivals overflows the int64 ns clock)."""

MAX_ARRIVALS = 10**10
"""Inferences one cell serves in the batched timing engine (rate x last probe): 100/s for a year is
3.2 x 10^9, several minutes per cell here; 10^10 would take ~15 minutes."""

MAX_REPLAY_ARRIVALS = 10**8
"""Arrivals in one replay file: 10^8 int64 times are 0.8 GB in memory (a Parquet file can hold that many
in a few kilobytes when the times repeat, so its row count is checked before it is read)."""

MAX_EVENT_ARRIVALS = 20_000
"""Inferences of ``chiptwin timing --mode events`` without ``--long``: the event engine simulates every
MVM of every image; ResNet-32 on hermes_64 runs at ~35 images/s here (100 images: 3 s), so 20,000 images
take ~10 minutes. ``--long`` accepts more (:data:`EVENT_IMAGES_PER_S` gives the estimate it prints)."""

EVENT_IMAGES_PER_S = 35.0
"""Measured speed of the event engine, images/s (ResNet-32, hermes_64, one core of the 2-core
development machine); only for the time estimate of the message."""

MAX_COMPENSATION_PASSES = 1_000_000
"""Compensation passes per cell (last probe / every_s): every minute for a year is 525,600."""

MAX_REPROGRAMS = 100_000
"""Reprogrammings per cell (last probe / reprogram_after_s)."""

MAX_SWEEP_CELLS = 10_000
"""Cells per sweep: the shipped sweeps have at most 144; a cell takes 0.5 s (timing only) to minutes,
so 10^4 cells is hours to weeks on one machine."""

MAX_IN_CHANNELS = 4096
"""Input channels of a zoo model built for mapping (images have 1 or 3)."""

MAX_MODEL_WIDTH = 65_536
"""Channels of one stage, classes or hidden width of a zoo model in a model card (ResNet-50's widest
layer has 2,048 channels, ImageNet 1,000 classes); a 65,536-wide 3x3 convolution is already 40 G weights,
far beyond any chip of :data:`MAX_TILES` tiles."""

MAX_CROP_PAD = 64
"""Padding of the random-crop augmentation, pixels (the shipped checkpoints used 4 on 28-pixel images)."""

MAX_GDC_READS = 16
"""Calibration MVMs per block and GDC pass (the GDC reads take 1 or 2)."""

MAX_LAYERS = 100_000
"""Layers listed by ``chiptwin timing --layers`` (ResNet-32 has 35)."""

MAX_EPOCHS = 10_000
"""Training epochs (the shipped checkpoints trained for 30)."""

# ---- a trace's Parquet tables (their footers are checked against these before any row is read) --------

MAX_MAPPING_ROWS = 1_000_000
"""Rows of a mapping table, one per placed block: ResNet-32 on hermes_64 places 43 (dense) to a few
hundred; a chip of :data:`MAX_TILES` tiles with 244 blocks on each is 10^6 (assumed headroom; ~100 MB)."""

MAX_DETAIL_ROWS = 10_000_000
"""Rows of one cell's ``detail`` part, one per activity of a few inferences (``chiptwin.scenario.detail``):
8 ResNet-32 inferences on hermes_64 are 2,187 rows; 10^7 is ~4,500 times that (assumed headroom, ~1 GB)."""

MAX_EVENT_ROWS = 10_000_000
"""Rows of one cell's ``events`` part when its manifest does not say how long the run was (a trace written
by hand): one record per 10-s chunk of arrivals, per compensation pass and per tile programmed; a trace
whose manifest names its probes and policies is bounded by what they imply
(``chiptwin.trace.reader.part_row_limit``)."""

# ---- a measurement file (chiptwin fit-device) --------------------------------------------------------------

MAX_MEASUREMENT_ROWS = 50_000_000
"""Reads in one measurement file: 10^6 devices read 5 times at each of 10 times. A fit holds ~40 bytes per
read and ~3 times that while grouping reads by device and time, so 5 x 10^7 reads peak at ~6 GB."""

MAX_SYNTHETIC_DEVICES = 1_000_000
"""Devices of ``chiptwin fit-device --synthesize``: Joshi 2020 characterised 10^4 devices; 10^6 with the
default 16 reads each are 1.6 x 10^7 rows (~0.15 GB of Parquet; a fit takes ~6 s and 2 GB here, measured)."""

# ---- the machine ------------------------------------------------------------------------------------------

MAX_WORKERS = 256
"""Worker processes of a LocalCluster (each holds torch, ~300 MB); more belong on a cluster (--scheduler)."""

MAX_THREADS = 1024
"""Torch threads per process."""
