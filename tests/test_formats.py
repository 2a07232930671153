"""The one formatter of each quantity the twin prints: counts (``chiptwin.units.plural``), seeds
(``chiptwin.seeding.format_seeds``), energies (``chiptwin.units.format_energy`` and ``energy_unit``), and the
chip line of ``chiptwin evaluate`` (the chip as evaluated, ``as_evaluated``)."""

from __future__ import annotations

import dataclasses
import doctest

import pytest

import chiptwin.seeding
import chiptwin.units
from chiptwin.api import load_chip
from chiptwin.cli.evaluate import as_evaluated
from chiptwin.functional import ConverterBits
from chiptwin.seeding import format_seeds
from chiptwin.spec.chip import describe_chip
from chiptwin.units import energy_unit, format_energy, plural


def test_doctests() -> None:
    assert doctest.testmod(chiptwin.units).failed == 0
    assert doctest.testmod(chiptwin.seeding).failed == 0


@pytest.mark.parametrize(
    ("count", "noun", "text"),
    [
        (1, "tile", "1 tile"),
        (43, "tile", "43 tiles"),
        (0, "seed", "0 seeds"),
        (10_000, "image", "10,000 images"),
    ],
)
def test_plural_hand_cases(count: int, noun: str, text: str) -> None:
    assert plural(count, noun) == text


def test_seeds_read_as_a_count_and_a_list() -> None:
    # "seeds 0" read as zero seeds, "seeds (0,)" was a Python tuple.
    assert format_seeds((0,)) == "seed 0"
    assert format_seeds(range(5)) == "5 seeds (0-4)"
    assert format_seeds([3, 1]) == "2 seeds (1, 3)"


def test_one_energy_unit_per_table() -> None:
    # 21,171.7 nJ is 21.2 µJ: a table whose largest entry is 64,433 nJ is in µJ.
    assert energy_unit(6.44334e7) == ("µJ", 1e6)
    assert format_energy(2.11717e7) == "21.2 µJ" and format_energy(2.11717e7, digits=4) == "21.17 µJ"


def test_evaluate_describes_the_chip_as_evaluated() -> None:
    # --bits 4 on joshi2020 (whose file calls both converters ideal): 4-bit converters, not "ideal".
    joshi = load_chip("joshi2020")
    assert "ideal DAC / ideal ADC" in describe_chip(joshi)
    line = describe_chip(as_evaluated(joshi, ConverterBits(dac_bits=4, adc_bits=4)))
    assert "4-bit DAC / 4-bit ADC" in line and "ideal" not in line
    # --weights-only on hermes_64: converters off (and the output noise, which evaluate zeroes first).
    hermes = load_chip("hermes_64")
    assert "8-bit DAC / 8-bit ADC in the MVM, output noise 0.04" in describe_chip(hermes)
    quiet = dataclasses.replace(hermes, adc=dataclasses.replace(hermes.adc, output_noise=0.0))
    line = describe_chip(as_evaluated(quiet, ConverterBits(dac_bits=None, adc_bits=None)))
    assert "ideal DAC / ideal ADC in the MVM, block" in line


def test_check_arch_counts_in_words() -> None:
    from chiptwin.cli.arch import format_chip

    text = format_chip(load_chip("hermes_64"))  # one ADC per column, one-phase reads
    assert "(1 column per ADC)" in text and "read mode one_phase: 1 phase)" in text and "(s)" not in text
    four = load_chip("hermes_64")
    four = dataclasses.replace(four, tiles=dataclasses.replace(four.tiles, read_mode="four_phase"))
    assert "read mode four_phase: 4 phases)" in format_chip(four)
