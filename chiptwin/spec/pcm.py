"""PCM device parameters: the constants of the ``pcm_joshi2020`` device model, each with its unit and source.

The model is the one of Joshi et al., "Accurate deep neural network inference using computational
phase-change memory", Nat. Commun. 11, 2473 (2020), Methods and Supplementary Note 2 ("PCM model"),
fitted on 10,000 doped-Ge2Sb2Te5 devices; its constants are the published fit, also used by IBM's
aihwkit ``PCMLikeNoiseModel`` (see docs/concepts/physics.md). ``ĝ`` below is the target conductance
normalised by ``g_max``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from chiptwin.errors import SpecError
from chiptwin.limits import MAX_TEMPERATURE_C, MIN_TEMPERATURE_C
from chiptwin.spec.conventions import AGE_CONVENTIONS, WEIGHT_SCALES

__all__ = ["AGE_CONVENTIONS", "WEIGHT_SCALES", "PCMSpec"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PCMSpec:
    """Phase-change-memory device parameters (Joshi et al. 2020 unless stated)."""

    g_max_usiemens: float = 25.0
    """Largest programmable conductance, µS (Joshi 2020, Methods: g_max = 25 µS)."""

    prog_noise_c0_usiemens: float = 0.26348
    """Programming-noise std polynomial, constant term, µS at g_max = 25 µS (Joshi 2020, Suppl. Note 2)."""

    prog_noise_c1_usiemens: float = 1.9650
    """Programming-noise std polynomial, linear term in ĝ, µS at g_max = 25 µS (Joshi 2020)."""

    prog_noise_c2_usiemens: float = -1.1731
    """Programming-noise std polynomial, quadratic term in ĝ, µS at g_max = 25 µS (Joshi 2020)."""

    drift_mu_slope: float = -0.0155
    """Mean drift exponent: mu_nu = slope * ln(ĝ) + offset, dimensionless (Joshi 2020)."""

    drift_mu_offset: float = 0.0244
    """Mean drift exponent offset, dimensionless (Joshi 2020)."""

    drift_mu_min: float = 0.049
    """Lower clamp of mu_nu, dimensionless (Joshi 2020)."""

    drift_mu_max: float = 0.1
    """Upper clamp of mu_nu, dimensionless (Joshi 2020)."""

    drift_sigma_slope: float = -0.0125
    """Std of the drift exponent: sigma_nu = slope * ln(ĝ) + offset, dimensionless (Joshi 2020)."""

    drift_sigma_offset: float = -0.0059
    """Std of the drift exponent offset, dimensionless (Joshi 2020)."""

    drift_sigma_min: float = 0.008
    """Lower clamp of sigma_nu, dimensionless (Joshi 2020)."""

    drift_sigma_max: float = 0.045
    """Upper clamp of sigma_nu, dimensionless (Joshi 2020)."""

    g_floor_norm: float = 1e-7
    """Floor of ĝ inside the logarithms of the drift fit, dimensionless (avoids ln 0; aihwkit)."""

    t0_s: float = 20.0
    """Reference time of drift after programming, s: G(t) = G_p (t / t0)^-nu (Joshi 2020)."""

    read_noise_qs_coeff: float = 0.0088
    """1/f read noise: Q_s = min(coeff / ĝ^exponent, max), dimensionless (Joshi 2020)."""

    read_noise_qs_exponent: float = 0.65
    """Exponent of ĝ in Q_s, dimensionless (Joshi 2020)."""

    read_noise_qs_max: float = 0.2
    """Upper clamp of Q_s, dimensionless (Joshi 2020)."""

    t_read_s: float = 250e-9
    """Duration of one read, s, in the 1/f noise integral ln((t + t_read) / (2 t_read)) (Joshi 2020)."""

    weight_scale: str = "block"
    """Weight-to-conductance scale granularity: "block" (one beta = g_max / max|W| per crossbar block,
    Joshi 2020) or "column" (one per output column, undone by the tile's digital unit;
    docs/concepts/physics.md)."""

    age_convention: str = "clamp"
    """How a device age enters the drift and read-noise laws (:data:`AGE_CONVENTIONS`): ``clamp``
    (``t = max(age, t0)``, chiptwin's default) or ``offset`` (``t = age + t0``, aihwkit's). The two
    differ by 3.5 % in drift factor at 20 s and 1.4 % at 1 minute (nu = 0.05), < 0.1 % beyond an hour."""

    drift_temperature_ref_c: float = 25.0
    """Chip temperature the drift fit holds at, °C (assumed: room temperature, 25 °C). At it the drift law
    is exactly the published one; a chip held at ``T`` drifts with the exponent ``nu T / T_ref`` (both in
    kelvin), and a history of temperatures moves each device to its relaxation-equivalent age
    (:mod:`chiptwin.device.temperature`)."""

    drift_attempt_time_s: float = 1e-13
    """Attempt time ``tau0`` of the thermally activated relaxation events behind drift, s: ``1 / nu0`` with
    ``nu0 = 10^13 s^-1``, a phonon frequency, the usual attempt frequency of structural-relaxation models
    of PCM drift (assumed; not fitted to these devices). It sets how fast a temperature change acts: a
    chip programmed at 25 °C and heated to 85 °C a day later drifts in an hour as it would in ~90 days
    at 25 °C. At a constant temperature it cancels out (:mod:`chiptwin.device.temperature`)."""

    def __post_init__(self) -> None:
        positive = (
            "g_max_usiemens",
            "t0_s",
            "t_read_s",
            "read_noise_qs_coeff",
            "g_floor_norm",
            "drift_attempt_time_s",
        )
        for name in positive:
            if not getattr(self, name) > 0:
                raise SpecError(f"pcm.{name}(={getattr(self, name)!r}) must be > 0")
        non_negative = ("drift_mu_min", "drift_sigma_min", "read_noise_qs_max", "read_noise_qs_exponent")
        for name in non_negative:
            if not getattr(self, name) >= 0:
                raise SpecError(f"pcm.{name}(={getattr(self, name)!r}) must be >= 0")
        for low, high in (("drift_mu_min", "drift_mu_max"), ("drift_sigma_min", "drift_sigma_max")):
            if getattr(self, low) > getattr(self, high):
                raise SpecError(
                    f"pcm.{low}(={getattr(self, low)!r}) must be <= pcm.{high}(={getattr(self, high)!r})"
                )
        if self.weight_scale not in WEIGHT_SCALES:
            raise SpecError(f"pcm.weight_scale(={self.weight_scale!r}) must be one of {WEIGHT_SCALES}")
        if self.age_convention not in AGE_CONVENTIONS:
            raise SpecError(f"pcm.age_convention(={self.age_convention!r}) must be one of {AGE_CONVENTIONS}")
        if self.g_floor_norm >= 1:
            raise SpecError(f"pcm.g_floor_norm(={self.g_floor_norm!r}) must be < 1")
        if not self.drift_attempt_time_s < self.t0_s:
            raise SpecError(
                f"pcm.drift_attempt_time_s(={self.drift_attempt_time_s!r}) must be < "
                f"pcm.t0_s(={self.t0_s!r}): relaxation events are far faster than the drift law's "
                "reference time"
            )
        if not MIN_TEMPERATURE_C <= self.drift_temperature_ref_c <= MAX_TEMPERATURE_C:
            raise SpecError(
                f"pcm.drift_temperature_ref_c(={self.drift_temperature_ref_c!r}) must be in "
                f"[{MIN_TEMPERATURE_C:g}, {MAX_TEMPERATURE_C:g}] °C (chiptwin.limits)"
            )

    @property
    def g_min_usiemens(self) -> float:
        """Lowest programmed conductance, µS: 0, the reset state one device of each pair sits in (Joshi 2020,
        Methods: g_min = 0)."""
        return 0.0

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of all fields, in declaration order (the keys of a ``[pcm]`` table)."""
        return tuple(f.name for f in fields(cls))
