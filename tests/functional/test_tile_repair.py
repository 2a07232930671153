"""A dead tile's blocks read nothing; reprogrammed on a spare they are fresh devices with their own age."""

from __future__ import annotations

import torch
from torch import nn

from chiptwin.device.models import noise_model
from chiptwin.device.noise import IdealNoiseModel
from chiptwin.functional import BlockRange, ConverterBits, apply_gdc, program_chip
from chiptwin.spec.chip import ChipSpec

CHIP = ChipSpec()
OFF = ConverterBits(dac_bits=None, adc_bits=None)


def _model() -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    fc = nn.Linear(6, 4, bias=False)
    return fc.eval(), torch.randn(16, 6)


BLOCKS = {"": [BlockRange(0, 6, 0, 2), BlockRange(0, 6, 2, 4)]}


def test_dead_block_reads_zero_and_repair_restores_ideal_outputs() -> None:
    fc, x = _model()
    chip = program_chip(fc, CHIP, BLOCKS, IdealNoiseModel(), 0, [x], bits=OFF)
    ref = fc(x).detach()
    chip.fail_blocks([("", BlockRange(0, 6, 2, 4))])
    out = chip(x)
    torch.testing.assert_close(out[:, :2], ref[:, :2])  # the other tile still computes
    assert torch.equal(out[:, 2:], torch.zeros(16, 2))  # the dead tile's columns carry no current
    devices = chip.reprogram_blocks([("", BlockRange(0, 6, 2, 4))], seed=1)
    assert devices == 2 * 2 * 6 * 2  # two polarities x two devices x 6 rows x 2 columns
    torch.testing.assert_close(chip(x), ref)


def test_reprogrammed_block_restarts_its_device_age() -> None:
    fc, x = _model()
    chip = program_chip(fc, CHIP, BLOCKS, noise_model(CHIP), 0, [x], bits=OFF)
    group = chip.layers[""].row_groups[0]
    day = 86_400.0
    chip.set_age(day)
    chip.reprogram_blocks([("", BlockRange(0, 6, 2, 4))], seed=1)
    assert group.crossbar.col_age_offset_s is not None
    assert group.crossbar.col_age_offset_s.tolist() == [0.0, 0.0, day, day]
    # 100 s after the repair, the repaired columns have drifted by (100 s / 20 s)^-nu and the others by
    # (1 day / 20 s)^-nu (Joshi 2020: nu ~ 0.05 -> ~0.92 and ~0.66 for one device; |G+ - G-| of the few
    # devices here lands near 0.9 and 0.77): read |G+ - G-| against the targets.
    chip.set_age(day + 100.0)
    read = group.read_normalised(chip.ctx).abs().sum(0)
    target = (
        (chip.layers[""].weights / chip.layers[""].weights.abs().max()).abs().sum(0)
    )  # g_max-normalised targets
    ratio = read / target
    assert 0.85 < float(ratio[2:].mean()) < 1.0
    assert 0.6 < float(ratio[:2].mean()) < 0.82
    # GDC measures the two ages separately: the repaired block needs less correction.
    apply_gdc(chip)
    assert float(group.gdc_alpha[2:].mean()) < float(group.gdc_alpha[:2].mean())
