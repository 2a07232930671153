"""The compensation policies by name: one entry per module of :mod:`chiptwin.compensation`."""

from __future__ import annotations

from chiptwin.compensation.gdc import GlobalDriftCompensation
from chiptwin.compensation.gdc_adabs import GDCThenAdaBS
from chiptwin.compensation.none import NoCompensation
from chiptwin.compensation.policy import CompensationPolicy
from chiptwin.errors import SpecError

__all__ = ["POLICIES", "POLICY_NAMES", "get_policy"]

POLICIES: dict[str, CompensationPolicy] = {
    p.name: p for p in (NoCompensation(), GlobalDriftCompensation(), GDCThenAdaBS())
}
"""Every policy by name, in the order tables show them."""

POLICY_NAMES = tuple(POLICIES)
"""The registered names, in table order."""


def get_policy(name: str) -> CompensationPolicy:
    """The policy registered as ``name``.

    Raises:
        SpecError: no such policy (the message lists the known ones).
    """
    try:
        return POLICIES[name]
    except (KeyError, TypeError):
        raise SpecError(f"compensation policy(={name!r}) must be one of {POLICY_NAMES}") from None
