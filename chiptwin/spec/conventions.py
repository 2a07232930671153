"""Choices of every device model's table: how weights scale onto conductances, how ages enter the laws.

Shared by the device models' records (``[pcm]``, ``[rram]``; :mod:`chiptwin.spec.device`).
"""

from __future__ import annotations

__all__ = ["AGE_CONVENTIONS", "WEIGHT_SCALES"]

WEIGHT_SCALES = ("block", "column")
"""Granularity of the weight-to-conductance scale: one per crossbar block, or one per output column."""

AGE_CONVENTIONS = ("clamp", "offset")
"""How a device age (time since programming) enters the drift and read-noise laws: ``clamp``,
``t = max(age, t0)`` (the programmed state is the one read at t0, no drift "up" before it); ``offset``,
``t = age + t0`` (aihwkit's ``t_inference + t0``)."""
