"""Drift-compensation policies: each one object saying what a pass does to the chip and what it costs.

Joins the functional twin (:mod:`chiptwin.functional.compensation`: GDC, AdaBS) and the timing layer
(:class:`chiptwin.timing.CompensationSpec`) for the scenario, the sweeps and the command line. A new
policy is one module here and one entry in :data:`POLICIES`.

Example:
    >>> from chiptwin.compensation import get_policy
    >>> get_policy("gdc+adabs").schedule(adabs_images=2600, times_s=(60.0,)).adabs_images
    2600
    >>> get_policy("none").schedule(adabs_images=2600) is None
    True
"""

from chiptwin.compensation.gdc import GlobalDriftCompensation
from chiptwin.compensation.gdc_adabs import GDCThenAdaBS
from chiptwin.compensation.none import NoCompensation
from chiptwin.compensation.policy import CompensationPolicy
from chiptwin.compensation.registry import POLICIES, POLICY_NAMES, get_policy

__all__ = [
    "POLICIES",
    "POLICY_NAMES",
    "CompensationPolicy",
    "GDCThenAdaBS",
    "GlobalDriftCompensation",
    "NoCompensation",
    "get_policy",
]
