"""The functional twin: a programmed chip computing forward passes at any device age, with GDC and AdaBS."""

from chiptwin.functional.analog_layer import AnalogLayer, BlockRange
from chiptwin.functional.chip import AnalogChip, ConverterBits, program_chip, whole_layer_blocks
from chiptwin.functional.compensation import POLICIES, apply_adabs, apply_gdc, apply_policy, reset_gdc
from chiptwin.functional.evaluate import AccuracyResult, EvalSpec, accuracy, evaluate

__all__ = [
    "POLICIES",
    "AccuracyResult",
    "AnalogChip",
    "AnalogLayer",
    "BlockRange",
    "ConverterBits",
    "EvalSpec",
    "accuracy",
    "apply_adabs",
    "apply_gdc",
    "apply_policy",
    "evaluate",
    "program_chip",
    "reset_gdc",
    "whole_layer_blocks",
]
