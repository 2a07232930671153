"""Faults and compensation stay physical: each test here failed on the code before issues 13 and 14.

- a dead tile's block reads nothing, so GDC leaves it alone instead of computing reference / 0 = inf;
- a non-finite number raises, naming the layer and block, instead of becoming an "accuracy";
- stuck devices, ADC errors and dead tiles outlive a reprogramming;
- the converter ranges do not depend on the order of the calibration batches;
- replicas are independently programmed devices, and a dead tile of one replica spoils only its share;
- the GDC calibration read sums the devices of both polarities (no cancellation; issue 14).
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from small_model import model_and_data
from torch import nn

from chiptwin.compensation import get_policy
from chiptwin.device.faults import stuck_mask
from chiptwin.device.models import noise_model
from chiptwin.device.noise import IdealNoiseModel
from chiptwin.errors import DeviceError
from chiptwin.functional import (
    BlockRange,
    ConverterBits,
    accuracy,
    apply_gdc,
    program_chip,
    whole_layer_blocks,
)
from chiptwin.spec.chip import ChipSpec, GDCSpec
from chiptwin.spec.faults import FaultSpec
from chiptwin.units import SECONDS_PER_DAY, SECONDS_PER_HOUR

CHIP = ChipSpec()
PCM = noise_model(CHIP)
OFF = ConverterBits(dac_bits=None, adc_bits=None)


def _split_blocks(model: nn.Module) -> dict[str, list[BlockRange]]:
    """Every layer's columns in two blocks (two tiles), so one can die while the other computes."""
    blocks = {}
    for name, [b] in whole_layer_blocks(model).items():
        half = b.col_stop // 2
        blocks[name] = [BlockRange(0, b.row_stop, 0, half), BlockRange(0, b.row_stop, half, b.col_stop)]
    return blocks


def test_gdc_leaves_a_dead_block_alone_and_the_chip_keeps_computing() -> None:
    model, x = model_and_data()
    blocks = _split_blocks(model)
    chip = program_chip(model, CHIP, blocks, PCM, 3, [x])
    chip.set_age(SECONDS_PER_HOUR)
    dead = BlockRange(0, 72, 4, 8)  # conv2's second half (8 channels x 3 x 3 rows)
    chip.fail_blocks([("conv2", dead)])
    alpha_before = chip.layers["conv2"].row_groups[0].gdc_alpha.clone()
    assert apply_gdc(chip) == 1  # one block read nothing
    alpha = chip.layers["conv2"].row_groups[0].gdc_alpha
    assert torch.equal(alpha[4:], alpha_before[4:])  # no factor: kept as it was (1 after programming)
    assert bool((alpha[:4] > 1).all())  # the live block is compensated for an hour of drift
    get_policy("gdc+adabs").compensate(chip, [x])
    out = chip(x)
    assert bool(torch.isfinite(out).all())
    # The physical drop: conv2's dead half contributes nothing, but the rest of the network computes.
    healthy = program_chip(model, CHIP, blocks, PCM, 3, [x])
    healthy.set_age(SECONDS_PER_HOUR)
    get_policy("gdc+adabs").compensate(healthy, [x])
    assert 0 < float((out - healthy(x)).abs().mean()) < float(healthy(x).abs().mean())


def test_non_finite_gdc_factor_raises_naming_layer_and_block() -> None:
    model, x = model_and_data()
    chip = program_chip(model, CHIP, _split_blocks(model), PCM, 3, [x])
    chip.layers["conv2"].row_groups[0].gdc_alpha[5] = float("inf")
    labels = torch.zeros(x.shape[0], dtype=torch.long)
    with pytest.raises(
        DeviceError, match=r"layer 'conv2' block rows \[0, 72\) cols \[4, 8\) .*gdc_alpha is inf"
    ):
        accuracy(chip, x, labels, 16)


def test_non_finite_batch_norm_statistics_raise_naming_the_layer() -> None:
    model, x = model_and_data()
    chip = program_chip(model, CHIP, whole_layer_blocks(model), PCM, 3, [x])
    with pytest.raises(DeviceError, match=r"AdaBS .*batch-norm 'bn1' running_mean is not finite"):
        get_policy("gdc+adabs").compensate(chip, [x.clone().fill_(float("nan"))])
    bn = chip.model.get_submodule("bn2")
    assert isinstance(bn, nn.BatchNorm2d) and bn.running_var is not None
    bn.running_var[0] = float("nan")
    with pytest.raises(DeviceError, match=r"batch-norm 'bn2': running_var is not finite"):
        accuracy(chip, x, torch.zeros(x.shape[0], dtype=torch.long), 16)


def test_faults_and_dead_tiles_outlive_a_reprogramming() -> None:
    model, x = model_and_data()
    blocks = _split_blocks(model)
    spec = FaultSpec(stuck_rate=0.05, stuck_arrival_per_day=0.05, adc_gain_std=0.02)
    old = program_chip(model, CHIP, blocks, PCM, 3, [x], faults=spec)
    old.set_age(SECONDS_PER_DAY)
    old.fail_blocks([("conv1", BlockRange(0, 27, 0, 4))])
    # The same silicon programmed again a day later with another programming seed.
    new = program_chip(model, CHIP, blocks, PCM, 99, [x], faults=spec, inherit=(old, SECONDS_PER_DAY))
    for name in old.layers:
        for a, b in zip(old.layers[name].row_groups, new.layers[name].row_groups, strict=True):
            assert not torch.equal(
                a.crossbar.pos.g_prog_usiemens, b.crossbar.pos.g_prog_usiemens
            )  # new devices
            fa, fb = a.crossbar.pos_faults, b.crossbar.pos_faults
            assert fa is not None and fb is not None
            # Stuck on the old chip at one day == stuck on the new one at age 0, and so on later.
            assert torch.equal(stuck_mask(fa, SECONDS_PER_DAY), stuck_mask(fb, 0.0))
            assert torch.equal(stuck_mask(fa, 3 * SECONDS_PER_DAY), stuck_mask(fb, 2 * SECONDS_PER_DAY))
            assert a.adc_gain is not None and torch.equal(a.adc_gain, b.adc_gain)
    dead = new.layers["conv1"].row_groups[0].crossbar.dead
    assert dead is not None and dead.tolist() == [True] * 4 + [False] * 4
    # A reprogram from a new seed with the cell's fault seed draws the same faults as the first chip.
    again = program_chip(model, CHIP, blocks, PCM, 99, [x], faults=spec, fault_seed=3)
    fa = old.layers["conv2"].row_groups[0].crossbar.neg_faults
    fb = again.layers["conv2"].row_groups[0].crossbar.neg_faults
    assert fa is not None and fb is not None and torch.equal(fa.stuck_at_prog, fb.stuck_at_prog)


def test_converter_ranges_do_not_depend_on_calibration_batch_order() -> None:
    fc = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        fc.weight.copy_(torch.tensor([[1.0, 1.0]]))
    a, b = torch.tensor([[0.5, 0.5]]), torch.tensor([[1.0, 1.0]])
    bits = ConverterBits(dac_bits=8, adc_bits=8)
    ranges = []
    for calibration in ([a, b], [b, a], [torch.cat([a, b])]):
        chip = program_chip(fc, CHIP, whole_layer_blocks(fc), IdealNoiseModel(), 0, calibration, bits=bits)
        layer = chip.layers[""]
        ranges.append((float(layer.input_range), float(layer.row_groups[0].adc_range[0])))
    # DAC range 1 (the largest input); ADC range: output 2 in units of the DAC range, times the chip's
    # adc.range_headroom, whatever the order ([a, b] used to give twice that: one bit lost).
    assert ranges == [(1.0, pytest.approx(2.0 * CHIP.adc.range_headroom))] * 3


def test_replicas_are_independent_devices_and_a_dead_replica_spoils_only_its_share() -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 3, 3, padding=1, bias=False).eval()
    x = torch.randn(4, 2, 4, 4)
    ref = conv(x).detach()
    blocks = {"": [BlockRange(0, 18, 0, 3, replica=0), BlockRange(0, 18, 0, 3, replica=1)]}
    pcm = program_chip(conv, CHIP, blocks, PCM, 0, [x], bits=OFF)
    g0, g1 = (g.crossbar.pos.g_prog_usiemens for g in pcm.layers[""].row_groups)
    assert not torch.equal(g0, g1)  # each replica has its own programming noise
    ideal = program_chip(conv, CHIP, blocks, IdealNoiseModel(), 0, [x], bits=OFF)
    torch.testing.assert_close(ideal(x), ref)
    ideal.fail_blocks([("", BlockRange(0, 18, 0, 3, replica=1))])
    out = ideal(x).flatten(2)
    # Replica 1 computes output positions [8, 16) of the 16 (replica_share): only they read 0.
    torch.testing.assert_close(out[..., :8], ref.flatten(2)[..., :8])
    assert torch.equal(out[..., 8:], torch.zeros(4, 3, 8))


def test_each_replica_calibrates_its_adc_range_on_its_own_share() -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(1, 1, 1, bias=False).eval()
    with torch.no_grad():
        conv.weight.fill_(1.0)
    # Output positions 0..7 (replica 0's share of 16) see inputs up to 4, positions 8..15 up to 1.
    x = torch.ones(1, 1, 4, 4)
    x.view(-1)[:8] = 4.0
    blocks = {"": [BlockRange(0, 1, 0, 1, replica=0), BlockRange(0, 1, 0, 1, replica=1)]}
    chip = program_chip(
        conv, CHIP, blocks, IdealNoiseModel(), 0, [x], bits=ConverterBits(dac_bits=8, adc_bits=8)
    )
    r0, r1 = (float(g.adc_range[0]) for g in chip.layers[""].row_groups)
    # Normalised outputs (units of the DAC range 4): 1 on replica 0's share; on replica 1's the input 1
    # is DAC code round(127 / 4) = 32, i.e. 32/127.
    h = CHIP.adc.range_headroom
    assert (r0, r1) == (pytest.approx(h), pytest.approx(32 / 127 * h))


@pytest.mark.parametrize(
    ("read", "expected"),
    [
        # W = [[1, -1], [-1, 1]] / 1 at g_max 25 µS: G+ = [[25, 0], [0, 25]], G- = [[0, 25], [25, 0]].
        # polarities: sum(G+) + sum(G-) = 100 µS = 4 g_max; differential: |1 - 1| + |-1 + 1| = 0.
        ("polarities", 4.0),
        ("differential", 0.0),
    ],
)
def test_gdc_calibration_read_by_hand(read: str, expected: float) -> None:
    fc = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        fc.weight.copy_(torch.tensor([[1.0, -1.0], [-1.0, 1.0]]))
    spec = dataclasses.replace(CHIP, gdc=GDCSpec(read=read))
    chip = program_chip(fc, spec, whole_layer_blocks(fc), IdealNoiseModel(), 0, [torch.ones(1, 2)], bits=OFF)
    assert float(chip.layers[""].row_groups[0].gdc_reference[0]) == pytest.approx(expected)
    # A zero-mean block is the worst case of the differential read: it has nothing to measure drift
    # with (GDC leaves it alone), where the polarities read sees every device.
    assert apply_gdc(chip) == (0 if read == "polarities" else 1)


def test_polarities_read_tracks_the_mean_drift_where_the_differential_read_is_noise() -> None:
    torch.manual_seed(1)
    fc = nn.Linear(256, 64, bias=False)  # zero-mean weights: the all-ones column sums nearly cancel
    x = torch.randn(8, 256)
    alphas = {}
    for read in ("polarities", "differential"):
        spec = dataclasses.replace(CHIP, gdc=GDCSpec(read=read))
        per_seed = []
        for seed in range(4):
            chip = program_chip(fc, spec, whole_layer_blocks(fc), PCM, seed, [x], bits=OFF)
            chip.set_age(SECONDS_PER_DAY)
            apply_gdc(chip)
            per_seed.append(float(chip.layers[""].row_groups[0].gdc_alpha[0]))
        alphas[read] = torch.tensor(per_seed)
    # One day of drift: the mean factor is ~1 / 0.66 ~ 1.5 (docs/concepts/physics.md). The polarities read
    # sees it within a few % on every seed; the differential read scatters across seeds.
    assert bool(((alphas["polarities"] > 1.35) & (alphas["polarities"] < 1.7)).all())
    assert float(alphas["polarities"].std()) < 0.02
    assert float(alphas["differential"].std()) > 3 * float(alphas["polarities"].std())
