"""What per-vector input rescaling (``[dac] input_range = "per_vector"``) costs, by hand on tiny_4.

tiny_4: digital 1 op/ns at 1 pJ/op; one MVM 18 ns (tests/timing/test_timing_hand.py). A conv 4 -> 16,
3x3, 8x8 output is one block: rows 36, cols 16, M = 64 MVMs; calibrated it takes 64 x 18 = 1152 ns on the
crossbar and 1024 scale ops (one per output) on the digital unit: 2176 ns.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from timing_graphs import chain_graph, conv, plan_of

from chiptwin.spec.chip import ChipSpec
from chiptwin.timing import ReplayWorkload, simulate_events


def test_per_vector_adds_a_compare_per_input_and_a_multiply_per_output(tiny: ChipSpec) -> None:
    per_vector = dataclasses.replace(tiny, dac=dataclasses.replace(tiny.dac, input_range="per_vector"))
    graph = chain_graph([conv("conv", 4, 16, 3, 8)])
    one = ReplayWorkload(np.array([0]))
    calibrated = simulate_events(plan_of(graph, tiny), one, duration_ns=1)
    result = simulate_events(plan_of(graph, per_vector), one, duration_ns=1)
    compares = 36 * 64  # the max |x| of each of the 64 input vectors of 36 rows: 2304 ops
    multiplies = 16 * 64  # each output times its vector's scale: 1024 ops
    assert calibrated.latency_single_ns == 2176
    assert result.latency_single_ns == 2176 + compares + multiplies == 5504
    assert result.energy_per_inference_pj["digital.pool"] == 2304.0
    assert result.energy_per_inference_pj["digital.scale"] == 1024.0 + 1024.0
    for comp in ("array", "dac", "adc"):  # the analog work is the same
        assert result.energy_per_inference_pj[comp] == calibrated.energy_per_inference_pj[comp]
