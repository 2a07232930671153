"""The argument parser of every ``chiptwin`` command and the ``type=`` functions its arguments use.

Every argument is checked while the command line is parsed, before anything is loaded or run. A bad
value ends the command with one line on stderr and exit code 2 (see :func:`chiptwin.cli.main`), e.g.::

    chiptwin: error: chiptwin evaluate: argument --bits: bits(='abc') must be an integer in 1..16 or 'none'

Each factory below returns a function for ``add_argument(type=...)``: it takes the text of the argument and
returns the parsed value, or raises :class:`argparse.ArgumentTypeError` with a message in the project's
form ``name(=value) must be ...``; argparse puts ``argument --flag:`` in front. Where a library function
already checks a value (a zoo model name, a placement strategy, a duration), the factory calls it, so
the rule lives in one place.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NoReturn, TypeVar

from chiptwin.durations import parse_duration_ns, parse_duration_s
from chiptwin.errors import ChipTwinError, UsageError
from chiptwin.functional.torch_device import check_torch_device
from chiptwin.limits import MAX_AGE_S, MAX_SEED
from chiptwin.mapping.strategies import placer_for
from chiptwin.network.model_file import is_model_file
from chiptwin.network.resnet import model_spec

__all__ = [
    "SEED_MAX",
    "ArgumentParser",
    "DurationArg",
    "age_list",
    "bits_or_none",
    "checkpoint_name",
    "comma_list",
    "duration",
    "integer",
    "model_file",
    "model_name",
    "name_or_path",
    "one_of",
    "path",
    "real",
    "scheduler_address",
    "seed",
    "strategy_name",
    "torch_device",
]

T = TypeVar("T")

SEED_MAX = MAX_SEED
"""Largest run seed: the range of the trace's int64 ``seed`` column (torch and numpy accept more)."""


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors are one :class:`UsageError` instead of usage text and ``exit(2)``.

    ``add_subparsers`` creates the command parsers with the same class, so every command's errors
    name the command (``chiptwin evaluate: argument --bits: ...``).
    """

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """argparse's, after refusing an option given twice (argparse keeps the last one silently)."""
        self._refuse_repeats(sys.argv[1:] if args is None else list(args))
        return super().parse_known_args(args, namespace)

    def _refuse_repeats(self, args: list[str]) -> None:
        """Refuse an option with a value that ``args`` give twice (``--model a.py --model b.py``), unless
        it collects repeats (``action="append"``); a flag may repeat. A command's parser checks its own."""
        seen: dict[str, str] = {}
        for i, token in enumerate(args):
            if token == "--":
                break
            name, eq, value = token.partition("=") if token.startswith("-") else ("", "", "")
            action = self._option_string_actions.get(name)
            if action is None or action.nargs == 0 or isinstance(action, argparse._AppendAction):
                continue  # a flag given twice says the same; an appending option collects its repeats
            if not eq:  # the value is the next argument
                value = args[i + 1] if i + 1 < len(args) else ""
            shown = f"{name} {value}".strip()
            if action.dest in seen:
                self.error(
                    f"argument {'/'.join(action.option_strings)}: given twice ({seen[action.dest]}, then "
                    f"{shown}); give it once"
                )
            seen[action.dest] = shown

    def error(self, message: str) -> NoReturn:
        """Raise the argparse ``message`` (one line) as a :class:`UsageError` naming the command."""
        text = " ".join(message.split())
        # A command's parser names itself ("chiptwin evaluate: "); the top one ("chiptwin") does not, as
        # main() prints "chiptwin: error: " already.
        prefix = "" if " " not in self.prog else f"{self.prog}: "
        raise UsageError(f"{prefix}{text}")


@dataclass(frozen=True, slots=True)
class DurationArg:
    """A duration argument: the text as typed (for messages) and its exact value in nanoseconds."""

    text: str
    ns: int

    def __str__(self) -> str:
        return self.text


def _fail(name: str, shown: object, requirement: str) -> NoReturn:
    raise argparse.ArgumentTypeError(f"{name}(={shown!r}) must be {requirement}")


def _library(check: Callable[[str], T], text: str) -> T:
    """``check(text)`` with a library error turned into argparse's (the message kept, one line)."""
    try:
        return check(text)
    except ChipTwinError as exc:
        raise argparse.ArgumentTypeError(" ".join(str(exc).split())) from None


def _bounds(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"in {minimum}..{maximum}"
    if minimum is not None:
        return f">= {minimum}"
    return f"<= {maximum}" if maximum is not None else ""


def integer(name: str, *, minimum: int | None = None, maximum: int) -> Callable[[str], int]:
    """An integer in ``minimum..maximum`` (both inclusive; every count has an upper bound,
    :mod:`chiptwin.limits`).

    >>> integer("seeds", minimum=1, maximum=1000)("3")
    3
    """
    bounds = _bounds(minimum, maximum)

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            _fail(name, text, f"an integer {bounds}".rstrip())
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"{name}(={value}) must be {bounds}")
        return value

    return parse


def seed(name: str = "seed") -> Callable[[str], int]:
    """A run seed, ``0..SEED_MAX``."""
    return integer(name, minimum=0, maximum=SEED_MAX)


def real(
    name: str,
    *,
    above: float | None = None,
    at_least: float | None = None,
    at_most: float | None = None,
) -> Callable[[str], float]:
    """A finite float ``> above`` (or ``>= at_least``) and ``<= at_most``; NaN and inf are refused.

    >>> real("headroom", above=0, at_most=100)("1.5")
    1.5
    """
    parts = [f"> {above:g}" if above is not None else "", f">= {at_least:g}" if at_least is not None else ""]
    parts.append(f"<= {at_most:g}" if at_most is not None else "")
    requirement = " and ".join(p for p in parts if p)
    requirement = f"a finite number {requirement}".rstrip()

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            _fail(name, text, requirement)
        ok = math.isfinite(value)
        ok = ok and (above is None or value > above) and (at_least is None or value >= at_least)
        if not (ok and (at_most is None or value <= at_most)):
            _fail(name, value, requirement)
        return value

    return parse


def duration(name: str, *, positive: bool = True) -> Callable[[str], DurationArg]:
    """A duration of :mod:`chiptwin.durations` (``250ms``, ``1.5h``, ``1y``); ``positive``: at least 1 ns."""

    def parse(text: str) -> DurationArg:
        ns = _library(lambda t: parse_duration_ns(t, name=name), text)
        if positive and ns < 1:
            _fail(name, text, "at least 1 ns")
        return DurationArg(text=text.strip(), ns=ns)

    return parse


def comma_list(name: str, item: Callable[[str], T]) -> Callable[[str], tuple[T, ...]]:
    """A comma-separated, non-empty list without empty or repeated items, each parsed by ``item``.

    >>> comma_list("policies", one_of("policy", ("none", "gdc")))("gdc,none")
    ('gdc', 'none')
    """

    def parse(text: str) -> tuple[T, ...]:
        items = [part.strip() for part in text.split(",")]
        if not text.strip() or "" in items:
            _fail(name, text, "a comma-separated list without empty items")
        values = tuple(item(part) for part in items)
        for i, value in enumerate(values):
            if value in values[:i]:
                raise argparse.ArgumentTypeError(f"{name}(={text!r}) lists {items[i]!r} twice")
        return values

    return parse


def one_of(name: str, choices: Iterable[str]) -> Callable[[str], str]:
    """One of ``choices``, exactly as written."""
    known = tuple(choices)

    def parse(text: str) -> str:
        if text not in known:
            _fail(name, text, f"one of {', '.join(known)}")
        return text

    return parse


def age_list(name: str = "ages") -> Callable[[str], tuple[float, ...]]:
    """Comma-separated device ages, each a duration (``20s,1h,1d,1y``) of at most 100 years, as seconds."""

    def age(text: str) -> float:
        seconds = _library(lambda t: parse_duration_s(t, name="age"), text)
        if seconds > MAX_AGE_S:
            _fail("age", text, "at most 100 y (chiptwin.limits.MAX_AGE_S)")
        return seconds

    return comma_list(name, age)


def bits_or_none(name: str = "bits") -> Callable[[str], int | Literal["none"]]:
    """Converter bits ``1..16`` (the chip spec's DAC and ADC range), or ``"none"`` (ideal converters)."""

    def parse(text: str) -> int | Literal["none"]:
        if text.strip() == "none":
            return "none"
        try:
            value = int(text)
        except ValueError:
            _fail(name, text, "an integer in 1..16 or 'none'")
        if not 1 <= value <= 16:
            raise argparse.ArgumentTypeError(f"{name}(={value}) must be in 1..16 or 'none'")
        return value

    return parse


def name_or_path(name: str) -> Callable[[str], str]:
    """A shipped name or a file path, as written; only an empty one is refused here (the loader checks
    the rest when the command starts, naming the file)."""

    def parse(text: str) -> str:
        if not text.strip():
            _fail(name, text, "a name or a path")
        return text

    return parse


def path(name: str) -> Callable[[str], Path]:
    """A file or folder path; only an empty one is refused here (``Path("")`` would mean ``.``)."""

    def parse(text: str) -> Path:
        if not text.strip():
            _fail(name, text, "a path")
        return Path(text)

    return parse


def model_name(text: str) -> str:
    """A zoo model name (the check of :func:`chiptwin.network.resnet.model_spec`), or a model file
    ``FILE.py[:NAME]`` (:mod:`chiptwin.network.model_file`; loaded, and checked, when the command runs)."""
    if is_model_file(text):
        return text
    try:
        model_spec(text)
    except KeyError as exc:
        raise argparse.ArgumentTypeError(str(exc.args[0])) from None
    return text


def model_file(text: str) -> str:
    """A model file ``FILE.py[:NAME]`` (:mod:`chiptwin.network.model_file`; loaded when the command runs)."""
    if not is_model_file(text):
        _fail("model", text, "a model file FILE.py or FILE.py:NAME")
    return text


def strategy_name(text: str) -> str:
    """A placement strategy name (the check of :func:`chiptwin.mapping.strategies.placer_for`)."""
    return _library(lambda t: placer_for(t).name, text)


def checkpoint_name(text: str) -> str:
    """A checkpoint name to write ``NAME.safetensors`` and ``NAME.json`` with: no folder, not empty."""
    if not text.strip() or text in {".", ".."} or "/" in text or "\\" in text:
        _fail("name", text, "a file name without folders (e.g. resnet32_hwa)")
    return text


def torch_device(text: str) -> str:
    """A torch device this machine has: ``cpu``, or ``cuda``/``cuda:N``/``mps`` when available (the check of
    :func:`chiptwin.functional.torch_device.check_torch_device`); returned as written.

    >>> torch_device("cpu")
    'cpu'
    """
    _library(check_torch_device, text)
    return text


_ADDRESS = re.compile(r"(?:[a-z][a-z0-9+.-]*://)?(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(?P<port>[0-9]{1,5})")


def scheduler_address(text: str) -> str:
    """A dask scheduler address ``[PROTOCOL://]HOST:PORT`` (port 1..65535), e.g. ``tcp://10.0.0.5:8786``."""
    match = _ADDRESS.fullmatch(text.strip())
    if match is None or not 1 <= int(match["port"]) <= 65535:
        _fail("scheduler", text, "an address [PROTOCOL://]HOST:PORT, e.g. tcp://10.0.0.5:8786")
    return text.strip()
