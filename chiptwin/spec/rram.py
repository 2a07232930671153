"""CMO/HfOx ReRAM parameters: the constants of the ``rram_cmo_falcone2025`` model, each with unit and source.

The devices are IBM's analog filamentary conductive-metal-oxide/HfOx ReRAM cells:

- programming noise and conductance relaxation: D. F. Falcone et al., "All-in-One Analog AI Hardware:
  On-Chip Training and Inference with Conductive-Metal-Oxide/HfOx ReRAM Devices", arXiv:2502.04524
  (2025) ("Falcone 2025" below), the statistical characterization of the array (programming-noise fit
  vs target for two acceptance ranges; relaxation mean and spread vs log time at a 50 µS reference level,
  found independent of the target);
- read noise (1/f and random telegraph noise, 1 µs read pulses): D. G. F. Lombardo et al., "Read Noise
  Analysis in Analog Conductive-Metal-Oxide/HfOx ReRAM Devices", Device Research Conference (DRC) 2024,
  doi:10.1109/DRC61706.2024.10643760 ("Lombardo 2024").

The fitted coefficients are those tabulated in IBM aihwkit's CMO-ReRAM inference documentation
(``docs/source/reram_inference.rst``, "Inference with Analog CMO-ReRAM Statistical Model"), which cites
the two papers; read from that page (facts, not code). Times in the fits are in seconds, ``ln`` is the
natural logarithm (the drift fit), ``log10`` the decimal one (the read-noise fit: the page writes "log";
aihwkit's implementation of the same fit, ``ReRamCMONoiseModel``, takes base 10, which chiptwin follows).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from chiptwin.errors import SpecError
from chiptwin.spec.conventions import AGE_CONVENTIONS, WEIGHT_SCALES

__all__ = ["RRAMSpec"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RRAMSpec:
    """CMO/HfOx ReRAM device parameters (Falcone 2025 and Lombardo 2024 unless stated)."""

    g_min_usiemens: float = 8.0
    """Lowest programmed conductance (high-resistance state), µS (Falcone 2025: the 8-90 µS window)."""

    g_max_usiemens: float = 90.0
    """Largest programmed conductance (low-resistance state), µS (Falcone 2025: the 8-90 µS window)."""

    prog_noise_c0_usiemens: float = 0.011218
    """Programming-noise std ``sigma_prog = c0 + c1 G_T``, constant term, µS: 11.218 nS for the 2 %
    acceptance range of the closed-loop programming (Falcone 2025; 0.811 nS for the 0.2 % range)."""

    prog_noise_c1: float = 0.0112902
    """Programming-noise std, slope in the target ``G_T`` (µS per µS, dimensionless): 11.2902 nS per µS
    for the 2 % acceptance range (Falcone 2025; 1.0687 nS per µS for the 0.2 % range)."""

    relax_mean_slope_usiemens: float = -0.089
    """Mean conductance relaxation: ``mu(t) = G_p + slope ln(t / 1 s)``, µS per e-fold of time
    (Falcone 2025, fitted at a 50 µS reference level and found independent of the target)."""

    relax_std_slope_usiemens: float = 0.042
    """Spread of the relaxation: ``sigma(t) = slope ln(t / 1 s) + offset``, µS per e-fold (Falcone 2025)."""

    relax_std_offset_usiemens: float = 0.4118
    """Spread of the relaxation at 1 s after programming, µS (Falcone 2025)."""

    read_noise_k_usiemens: float = 0.0277
    """Read noise ``sigma_nG = k log10(G(t) / 1 µS) sqrt(ln((t + t_read) / (2 t_read)))``, µS per decade of
    conductance (Lombardo 2024, 1/f and random telegraph noise in the 8-90 µS range)."""

    t_read_s: float = 1e-6
    """Duration of one read, s: the 1 µs read pulses of the noise characterization (Lombardo 2024)."""

    read_noise_g_floor_usiemens: float = 8.0
    """Conductance below which the read-noise fit is held at its value, µS: the bottom of the fitted
    8-90 µS range (Lombardo 2024); keeps ``log10`` positive for devices relaxed below the window."""

    t0_s: float = 1.0
    """Reference time of the relaxation law, s: the first time of the fits (Falcone 2025 fits from 1 s, where
    ``ln(t / 1 s) = 0``); the chip is calibrated at this age."""

    weight_scale: str = "block"
    """Weight-to-conductance scale granularity, as ``[pcm] weight_scale`` (one of ``WEIGHT_SCALES``)."""

    age_convention: str = "clamp"
    """How a device age enters the relaxation and read-noise laws, as ``[pcm] age_convention``: ``clamp``
    (``t = max(age, t0)``) or ``offset`` (``t = age + t0``)."""

    def __post_init__(self) -> None:
        positive = ("g_max_usiemens", "t0_s", "t_read_s", "read_noise_g_floor_usiemens")
        for name in positive:
            if not getattr(self, name) > 0:
                raise SpecError(f"rram.{name}(={getattr(self, name)!r}) must be > 0")
        non_negative = (
            "g_min_usiemens",
            "prog_noise_c0_usiemens",
            "prog_noise_c1",
            "relax_std_slope_usiemens",
            "relax_std_offset_usiemens",
            "read_noise_k_usiemens",
        )
        for name in non_negative:
            if not getattr(self, name) >= 0:
                raise SpecError(f"rram.{name}(={getattr(self, name)!r}) must be >= 0")
        if not self.g_min_usiemens < self.g_max_usiemens:
            raise SpecError(
                f"rram.g_min_usiemens(={self.g_min_usiemens!r}) must be < rram.g_max_usiemens"
                f"(={self.g_max_usiemens!r})"
            )
        if self.weight_scale not in WEIGHT_SCALES:
            raise SpecError(f"rram.weight_scale(={self.weight_scale!r}) must be one of {WEIGHT_SCALES}")
        if self.age_convention not in AGE_CONVENTIONS:
            raise SpecError(f"rram.age_convention(={self.age_convention!r}) must be one of {AGE_CONVENTIONS}")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of all fields, in declaration order (the keys of an ``[rram]`` table)."""
        return tuple(f.name for f in fields(cls))
