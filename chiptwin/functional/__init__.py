"""The functional twin: a programmed chip computing forward passes at any device age, with GDC and AdaBS."""

from chiptwin.functional.analog_layer import AnalogLayer, BlockRange
from chiptwin.functional.calibration import calibrate_converters
from chiptwin.functional.chip import (
    AnalogChip,
    ConverterBits,
    blocks_from_mapping,
    program_chip,
    whole_layer_blocks,
)
from chiptwin.functional.compensation import ChipCompensation, apply_adabs, apply_gdc, reset_gdc
from chiptwin.functional.crossbar import Crossbar
from chiptwin.functional.evaluate import AccuracyResult, EvalSpec, accuracy, evaluate
from chiptwin.functional.finite import check_logits

__all__ = [
    "AccuracyResult",
    "AnalogChip",
    "AnalogLayer",
    "BlockRange",
    "ChipCompensation",
    "ConverterBits",
    "Crossbar",
    "EvalSpec",
    "accuracy",
    "apply_adabs",
    "apply_gdc",
    "blocks_from_mapping",
    "calibrate_converters",
    "check_logits",
    "evaluate",
    "program_chip",
    "reset_gdc",
    "whole_layer_blocks",
]
