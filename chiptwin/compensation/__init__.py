"""Drift-compensation policies: each one object saying what a pass does to the chip and what it costs.

Joins the functional twin (:mod:`chiptwin.functional.compensation`: GDC, AdaBS) and the timing layer
(:class:`chiptwin.timing.CompensationSpec`) for the scenario, the sweeps and the command line. A new
policy is one module here and one entry in :data:`POLICIES`.

Example:
    >>> from chiptwin.compensation import compensation_spec, get_policy
    >>> compensation_spec(get_policy("gdc"), adabs_images=2600, period_s=600.0).gdc_reads_per_block
    1
"""

from chiptwin.compensation.gdc import GlobalDriftCompensation
from chiptwin.compensation.gdc_adabs import GDCThenAdaBS
from chiptwin.compensation.none import NoCompensation
from chiptwin.compensation.policy import CompensationPolicy, PassWork, compensation_spec
from chiptwin.compensation.registry import POLICIES, POLICY_NAMES, get_policy

__all__ = [
    "POLICIES",
    "POLICY_NAMES",
    "CompensationPolicy",
    "GDCThenAdaBS",
    "GlobalDriftCompensation",
    "NoCompensation",
    "PassWork",
    "compensation_spec",
    "get_policy",
]
