"""Fit the ``pcm_joshi2020`` laws to measured reads: programming noise, drift exponent and read noise.

The model is the one :mod:`chiptwin.device.pcm` draws from (Joshi et al., Nat. Commun. 11, 2473 (2020),
Methods and Suppl. Note 2). A device programmed to target ``T`` (``ĝ = T / g_max``) has

- ``G_p = max(T + sigma_p(ĝ) z, 0)``, ``sigma_p = (c0 + c1 ĝ + c2 ĝ²) g_max / 25 µS``;
- ``nu = |N(mu(ĝ), sigma_nu(ĝ))|``, ``mu = clamp(a_mu ln ĝ + b_mu, mu_min, mu_max)`` and ``sigma_nu`` alike;
- reads ``y = max(G(t) (1 + Q_s(ĝ_p) s(t) z), 0)`` with ``G(t) = G_p (t / t0)^-nu``,
  ``Q_s = min(q ĝ_p^-e, Q_max)`` at the programmed ``ĝ_p = G_p / g_max`` and
  ``s(t) = sqrt(ln((t + t_read) / (2 t_read)))``, a fresh ``z`` per read.

:func:`fit_pcm` estimates the 14 coefficients of those laws (:data:`FITTED`) by the generalized method of
moments. The design it needs, and why:

- **Targets**: devices are grouped by target (at least 3 targets: the programming law is quadratic).
- **Times**: every device is read at ``t0`` (its programming read; reads at or before ``t0`` count as
  at ``t0``, the model's clamp convention) and at one later time at least: ``nu`` is a slope in
  ``ln t``, and ``G_p`` alone says nothing about it.
- **Repeats**: every device is read at least twice at each of its times. Two reads of one device at one
  time differ by read noise only (drift and programming are common to both), so the within-device spread
  measures read noise without any model of the drift; without repeats read noise and programming noise
  are confounded at ``t0``.

Per target group and read time the estimator forms moments of the reads (``m``: a device's mean read at
one time, ``w``: the unbiased variance of its ``R`` reads there; ``0``: at t0) whose expectations are
known functions of the laws, whatever the size of the read noise:

- programming: ``P = mean((m0 - T)² - w0 / R0)``, an unbiased estimate of ``E[(E[y | G_p] - T)²]``, i.e.
  ``sigma_p²`` where neither ``G_p`` nor a read is clamped at 0;
- read noise: ``C_k = sum(w_k) / sum(m_k² - w_k / R_k)``, whose expectation depends on ``Q_s`` and the
  ``G_p`` distribution only (the drift factor cancels: ``Q_s`` is evaluated at ``G_p``);
- drift: ``r1_k = sum(m_k) / sum(m0)`` and ``r2_k = sum(m_k² - w_k / R_k) / sum(m0² - w0 / R0)``, whose
  expectations are the first and second moments of ``(t/t0)^-nu`` times known factors: the mean and
  spread of ``nu`` without estimating any one device's ``nu``, so read noise of 50 % of a read (the
  model's value at ĝ = 0.02) biases nothing.

Their expectations under the model are computed exactly: the folded-normal ``nu`` in closed form
(``E[exp(-λ|X|)]``), the rectified-normal ``G_p`` by Gauss-Legendre quadrature, and the clamp of a read at
0 by ``E[max(1 + a z, 0)] = Φ(1/a) + a φ(1/a)`` and ``E[max(1 + a z, 0)²] = (1 + a²) Φ(1/a) + a φ(1/a)``.
The coefficients minimise ``(m - E_θ m)ᵀ S⁻¹ (m - E_θ m)`` (Levenberg-Marquardt), ``S`` the covariance
of the moments from each device's influence on them (devices are independent; the moments of one target
share devices). That weighting makes the estimator efficient among these moments, gives standard errors
``sqrt(diag((Jᵀ S⁻¹ J)^-1))``, and a test of the laws: the minimum is chi-squared with (moments -
coefficients) degrees of freedom when they hold.

The fit starts from the model's published coefficients. A coefficient the measurements do not determine
(a clamp no target reaches, or a combination of coefficients no moment sees) keeps its published value
and is reported as not fitted; one they determine poorly is fitted, with its large standard error.
``g_max`` (the largest target unless given), ``t0`` (the earliest read unless given), ``t_read`` and the
logarithm's floor are not fitted: they define the laws' variables. Reads with a ``temperature_c`` (one
value per file) set ``drift_temperature_ref_c``: the fitted drift law holds at the temperature it was
measured at (:mod:`chiptwin.device.temperature` scales it to others).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor

from chiptwin.device import pcm
from chiptwin.device.measurements import (
    G_READ,
    G_TARGET,
    TIME,
    DeviceMeasurements,
    check_measurements,
    shown,
)
from chiptwin.device.pcm import PROG_NOISE_REFERENCE_G_MAX_USIEMENS
from chiptwin.errors import DataError, SpecError
from chiptwin.spec.pcm import PCMSpec

__all__ = [
    "FITTED",
    "MIN_DEVICES_PER_CELL",
    "TIME_MERGE_RATIO",
    "FittedCoefficient",
    "LawPoints",
    "PCMFit",
    "fit_pcm",
]

FITTED = (
    "prog_noise_c0_usiemens",
    "prog_noise_c1_usiemens",
    "prog_noise_c2_usiemens",
    "drift_mu_slope",
    "drift_mu_offset",
    "drift_mu_min",
    "drift_mu_max",
    "drift_sigma_slope",
    "drift_sigma_offset",
    "drift_sigma_min",
    "drift_sigma_max",
    "read_noise_qs_coeff",
    "read_noise_qs_exponent",
    "read_noise_qs_max",
)
"""The ``PCMSpec`` fields :func:`fit_pcm` estimates, in the order of its parameter vector."""

MIN_DEVICES_PER_CELL = 20
"""Fewest devices of one target read at one time, dimensionless: the covariance of a target's moments is
estimated from the spread over its devices, and fewer than ~20 make it unreliable (assumed)."""

TIME_MERGE_RATIO = 1.02
"""Reads of one target within this ratio of each other's time after programming are one read time
(dimensionless): an array tester reads its devices one after the other, and over 2 % of the time
``(t/t0)^-nu`` changes by < 0.2 % at nu <= 0.1 (assumed)."""

QUADRATURE_NODES = 128
"""Gauss-Legendre nodes over the programmed conductance ``G_p`` of one target (dimensionless). On the
published model the moments move by < 1e-8 (relative) from 128 to 1024 nodes, except at the targets whose
``G_p`` spans the kink of ``Q_s`` at its clamp (0.25 and 0.5 µS): < 5e-5 there, under 1 % of the moments'
standard errors at 10^6 devices (measured)."""

QUADRATURE_HALF_WIDTH = 9.0
"""The quadrature spans ``T ± 9 sigma_p`` (clipped at ``G_p = 0``), a normal tail of 1e-19
(dimensionless)."""

MAX_ITERATIONS = 200
"""Levenberg-Marquardt iterations before giving up (the published model converges in ~10)."""

_TINY = 1e-12
"""Smallest standard deviation inside the model's moments (µS or dimensionless; :func:`_positive`), far
below any measurable spread."""

_CONVERGED = 1e-4
"""The fit stops when an iteration lowers the chi-squared by less: a move that lowers it by 1e-4 shifts
the coefficients by ~1 % of their standard errors (sqrt(1e-4)), nothing the reads can tell apart. Near a
law's clamp the minimum is a kink, where steps shrink without end."""

_SINGULAR = 1e-10
"""Smallest eigenvalue of the scaled ``Jᵀ J``, relative to the largest, of a determined fit: below it a
combination of coefficients moves no moment (double-precision rounding is ~1e-16; assumed margin)."""

_DTYPE = torch.float64

_RELATIVE_STEP = 1e-6
"""Step of the numerical derivatives, relative to the coefficient: truncation error ~1e-12, rounding
~1e-10 of the derivative in float64."""


@dataclass(frozen=True, slots=True)
class FittedCoefficient:
    """One coefficient of the laws: its fitted value and standard error, and the published one."""

    name: str
    """The ``PCMSpec`` field (a key of the chip file's ``[pcm]`` table)."""

    value: float
    """Fitted value (the published one if not fitted), in the field's unit."""

    std_error: float
    """Standard error of ``value`` from the moments' covariance; NaN if not fitted."""

    published: float
    """The model's published value (Joshi et al. 2020), the start of the fit."""

    fitted: bool
    """Whether the measurements determine the coefficient (else ``value`` is the published one)."""

    reason: str = ""
    """Why the coefficient is not fitted (empty when it is)."""


@dataclass(frozen=True, slots=True, eq=False)
class LawPoints:
    """One law against the data: a statistic per target as measured and as the fitted model predicts it.

    The statistic equals the law where reads and ``G_p`` are far from 0; near 0 the rectifications bend
    it, which ``predicted`` includes, so ``observed`` vs ``predicted`` is the test and ``law`` the picture.
    """

    quantity: str
    """What is plotted, with its unit (``programming noise std, µS``)."""

    statistic: str
    """How ``observed`` is computed from the reads (one line)."""

    target_usiemens: np.ndarray
    observed: np.ndarray
    std_error: np.ndarray
    """Standard error of each observed value (delta method on the moments' covariance)."""

    predicted: np.ndarray
    law_target_usiemens: np.ndarray
    law: np.ndarray
    """The fitted law on a fine grid of targets (the published one in ``published_law``)."""

    published_law: np.ndarray

    @property
    def r_squared(self) -> float:
        """``1 - sum((observed - predicted)²) / sum((observed - mean)²)`` over the targets."""
        total = float(np.sum((self.observed - self.observed.mean()) ** 2))
        residual = float(np.sum((self.observed - self.predicted) ** 2))
        return 1.0 - residual / total if total > 0 else math.nan


@dataclass(frozen=True, slots=True, eq=False)
class PCMFit:
    """The result of :func:`fit_pcm`."""

    spec: PCMSpec
    """The model's constants with the fitted coefficients (``g_max``, ``t0`` from the measurements)."""

    coefficients: tuple[FittedCoefficient, ...]
    laws: tuple[LawPoints, ...]
    """Programming noise, drift exponent mean, drift exponent spread, read noise."""

    chi_squared: float
    """The minimised ``(m - E m)ᵀ S⁻¹ (m - E m)``; about ``dof`` when the laws hold."""

    dof: int
    """Moments minus fitted coefficients."""

    iterations: int
    devices: int
    reads: int
    targets_usiemens: tuple[float, ...]
    times_s: tuple[float, ...]
    """The read times after programming, s (merged as :data:`TIME_MERGE_RATIO` says)."""

    temperature_c: float | None
    source: str


# ---- the design: target groups, read times, per-device means and spreads ---------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class _Group:
    """One target's moments: observed values, their covariance, and what the model needs to predict them."""

    target_usiemens: float
    log_t: np.ndarray
    """``ln(t / t0)`` of each read time of the group (0 first)."""

    spread2: np.ndarray
    """``s(t)²`` of each read time (the read-noise spread of the model)."""

    observed: np.ndarray
    """``[P, C_0..C_K, r1_1..r1_K, r2_1..r2_K]``."""

    covariance: np.ndarray


def _merge_times(t_eff: np.ndarray) -> np.ndarray:
    """Index of each read's time cluster: sorted distinct times, a new cluster when the time exceeds the
    cluster's first by more than :data:`TIME_MERGE_RATIO`."""
    distinct, inverse = np.unique(t_eff, return_inverse=True)
    cluster = np.zeros(distinct.size, dtype=np.int64)
    start = distinct[0]
    for i in range(1, distinct.size):
        if distinct[i] > start * TIME_MERGE_RATIO:
            start = distinct[i]
            cluster[i] = cluster[i - 1] + 1
        else:
            cluster[i] = cluster[i - 1]
    return np.asarray(cluster[inverse])


def _device_time_stats(
    m: DeviceMeasurements, cell: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per (device, time cell): device, cell, number of reads, mean read, unbiased variance of the reads."""
    cells = int(cell.max()) + 1
    key = m.device * cells + cell
    keys, first, inverse, count = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
    once = np.flatnonzero(count < 2)
    if once.size:
        row = int(first[once[0]])
        raise DataError(
            f"{m.source}: row {row + 1}: device {shown(m.device_ids[m.device[row]])} is read once at "
            f"{TIME}(={shown(m.t_s[row])}); fit-device needs >= 2 reads of every device at each of its times "
            "(their spread is the read noise)"
        )
    total = np.bincount(inverse, weights=m.g_usiemens)
    mean = total / count
    deviation = m.g_usiemens - mean[inverse]
    variance = np.bincount(inverse, weights=deviation * deviation) / (count - 1)
    return keys // cells, keys % cells, count.astype(np.float64), mean, variance


def _group(
    source: str,
    target: float,
    stats: tuple[np.ndarray, ...],
    log_t: np.ndarray,
    spread2: np.ndarray,
    times: np.ndarray,
) -> _Group:
    """The moments of one target group and their covariance (``stats`` restricted to the group).

    Raises:
        DataError: the reads of a time carry no signal (their sum, or that of their squares less the read
            noise, is not above 0), so a ratio of them is undefined.
    """
    device, cell, count, mean, variance = stats
    devices = np.unique(device)
    n = devices.size
    at = {int(k): np.flatnonzero(cell == k) for k in np.unique(cell)}
    later = sorted(k for k in at if k != 0)
    # Device-time entries of one cell, aligned on the group's devices (every device is read at t0).
    pos = np.searchsorted(devices, device)
    m0 = np.empty(n)
    w0 = np.empty(n)
    r0 = np.empty(n)
    m0[pos[at[0]]], w0[pos[at[0]]], r0[pos[at[0]]] = mean[at[0]], variance[at[0]], count[at[0]]
    u0 = m0 * m0 - w0 / r0
    observed: list[float] = []
    influence: list[np.ndarray] = []

    def add_ratio(k: int, x: np.ndarray, y: np.ndarray, cell_of_y: int) -> None:
        """``sum(x) / sum(y)`` over the devices read at time ``k``; each device's influence on it is
        ``(x - r y) / sum(y)``."""
        total = float(y.sum())
        if not total > 0:
            raise DataError(
                f"{source}: column {G_READ}: the reads of target {target:g} µS at {TIME} ≈ "
                f"{times[cell_of_y]:g} carry no signal (a mean of {float(y.mean()):.3g}, read noise "
                "removed); fit-device needs reads above their noise"
            )
        r = float(x.sum()) / total
        column = np.zeros(n)
        column[pos[at[k]]] = (x - r * y) / total
        observed.append(r)
        influence.append(column)

    p = (m0 - target) ** 2 - w0 / r0
    observed.append(float(p.mean()))
    influence.append((p - p.mean()) / n)
    u = {k: mean[at[k]] ** 2 - variance[at[k]] / count[at[k]] for k in at}
    for k in [0, *later]:
        add_ratio(k, variance[at[k]], u[k], k)
    for k in later:
        add_ratio(k, mean[at[k]], m0[pos[at[k]]], 0)
    for k in later:
        add_ratio(k, u[k], u0[pos[at[k]]], 0)
    effects = np.stack(influence, axis=1)
    return _Group(
        target_usiemens=target,
        log_t=log_t[[0, *later]],
        spread2=spread2[[0, *later]],
        observed=np.asarray(observed),
        covariance=effects.T @ effects,
    )


def _design(m: DeviceMeasurements, spec: PCMSpec) -> tuple[list[_Group], tuple[float, ...]]:
    """Group the reads by target and time, check the design, and form each group's moments."""
    t_eff = np.maximum(m.t_s, spec.t0_s)
    cell = _merge_times(t_eff)
    cells = int(cell.max()) + 1
    log_t = np.zeros(cells)
    spread2 = np.zeros(cells)
    times = np.zeros(cells)
    for k in range(cells):
        t = t_eff[cell == k]
        times[k] = float(t.mean())
        log_t[k] = 0.0 if k == 0 and t.min() == spec.t0_s else float(np.log(t / spec.t0_s).mean())
        spread2[k] = float(np.log((t + spec.t_read_s) / (2 * spec.t_read_s)).mean())
    if log_t[0] != 0.0:
        row = int(np.argmin(m.t_s))
        raise DataError(
            f"{m.source}: row {row + 1}: the earliest read, {TIME}(={shown(m.t_s[row])}), is after t0 = "
            f"{spec.t0_s:g} s; every device needs its programming read at t0 (give --t0-s)"
        )
    stats = _device_time_stats(m, cell)
    device, dcell = stats[0], stats[1]
    per_device_cells = np.bincount(device, minlength=m.devices)
    has_t0 = np.zeros(m.devices, dtype=bool)
    has_t0[device[dcell == 0]] = True
    _, first_row = np.unique(m.device, return_index=True)
    first_row_of = np.empty(m.devices, dtype=np.int64)
    first_row_of[m.device[first_row]] = first_row
    for bad, what in (
        (~has_t0, f"has no read at t0 = {spec.t0_s:g} s (its programming read)"),
        (per_device_cells < 2, "is read at one time only; the drift exponent needs >= 2 times"),
    ):
        if bad.any():
            d = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{m.source}: row {first_row_of[d] + 1}: device {shown(m.device_ids[d])} {what} "
                f"(column {TIME})"
            )
    target_of = np.empty(m.devices)
    target_of[m.device] = m.g_target_usiemens
    targets = np.unique(target_of)
    if targets.size < 3:
        listed = ", ".join(f"{t:g}" for t in targets)
        raise DataError(
            f"{m.source}: column {G_TARGET}: {targets.size} target(s) ({listed} µS) in all {m.rows:,} rows; "
            "fit-device needs >= 3 (the programming-noise law is quadratic in the target)"
        )
    groups = []
    for target in targets:
        mine = target_of[device] == target
        count = np.bincount(dcell[mine], minlength=cells)
        thin = np.flatnonzero((count > 0) & (count < MIN_DEVICES_PER_CELL))
        if thin.size:
            k = int(thin[0])
            raise DataError(
                f"{m.source}: column {G_TARGET}: target {target:g} µS has {count[k]} device(s) at "
                f"{TIME} ≈ {times[k]:g}; each target needs >= {MIN_DEVICES_PER_CELL} devices per read time"
            )
        group_stats = tuple(a[mine] for a in stats)
        group = _group(m.source, float(target), group_stats, log_t, spread2, times)
        groups.append(group)
    return groups, tuple(float(t) for t in times)


# ---- the model's moments ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class _Problem:
    """The moments of all groups, padded to one tensor layout, with their whitening."""

    target: Tensor
    log_t: Tensor
    """(groups, times) ``ln(t/t0)``, 0 in padding."""

    spread2: Tensor
    """(groups, times) ``s(t)²``, 1 in padding."""

    gather: Tensor
    """Index of each observed moment in the flat prediction ``[P, C, r1, r2]``."""

    observed: Tensor
    whiten: Tensor
    """Block-diagonal inverse Cholesky factor of the moments' covariance."""

    g_max: float
    floor: float
    nodes: Tensor
    weights: Tensor


def _problem(groups: list[_Group], spec: PCMSpec, source: str) -> _Problem:
    n_groups = len(groups)
    width = max(g.log_t.size for g in groups)
    log_t = np.zeros((n_groups, width))
    spread2 = np.ones((n_groups, width))
    gather: list[int] = []
    blocks = []
    for i, g in enumerate(groups):
        k = g.log_t.size
        log_t[i, :k] = g.log_t
        spread2[i, :k] = g.spread2
        c_base, r1_base, r2_base = n_groups, n_groups * (1 + width), n_groups * (1 + 2 * width)
        gather += [i, *(c_base + i * width + j for j in range(k))]
        gather += [r1_base + i * width + j for j in range(1, k)]
        gather += [r2_base + i * width + j for j in range(1, k)]
        try:
            factor = np.linalg.cholesky(g.covariance)
        except np.linalg.LinAlgError:
            raise DataError(
                f"{source}: the reads of target {g.target_usiemens:g} µS do not vary enough to weigh their "
                "moments (a singular covariance: identical or all-zero reads?)"
            ) from None
        blocks.append(np.linalg.inv(factor))
    size = sum(b.shape[0] for b in blocks)
    whiten = np.zeros((size, size))
    at = 0
    for b in blocks:
        whiten[at : at + b.shape[0], at : at + b.shape[0]] = b
        at += b.shape[0]
    nodes, weights = np.polynomial.legendre.leggauss(QUADRATURE_NODES)

    def t(a: object) -> Tensor:
        return torch.as_tensor(a, dtype=_DTYPE)

    return _Problem(
        target=t([g.target_usiemens for g in groups]),
        log_t=t(log_t),
        spread2=t(spread2),
        gather=torch.as_tensor(gather, dtype=torch.int64),
        observed=t(np.concatenate([g.observed for g in groups])),
        whiten=t(whiten),
        g_max=spec.g_max_usiemens,
        floor=spec.g_floor_norm,
        nodes=t(nodes),
        weights=t(weights),
    )


def _phi(x: Tensor) -> Tensor:
    return torch.exp(-0.5 * x * x) * (1.0 / math.sqrt(2.0 * math.pi))


def _positive(spread: Tensor) -> Tensor:
    """``sqrt(spread² + _TINY²)``: a spread of 0 is a law the model allows (no programming noise, a drift
    exponent without spread), and a step of the fit may cross it; this keeps ``1/spread`` finite and the
    derivative alive on both sides."""
    return torch.sqrt(spread * spread + _TINY * _TINY)


def _folded_mgf(lam: Tensor, mu: Tensor, sd: Tensor) -> Tensor:
    """``E[exp(-lam |X|)]`` for ``X ~ N(mu, sd²)`` (``lam`` (groups, times), ``mu``, ``sd`` (groups,))."""
    mu, sd = mu[:, None], sd[:, None]
    spread = 0.5 * (lam * sd) ** 2
    right = torch.exp(spread - lam * mu) * torch.special.ndtr(mu / sd - lam * sd)
    left = torch.exp(spread + lam * mu) * torch.special.ndtr(-mu / sd - lam * sd)
    return right + left


def _predict(theta: Tensor, p: _Problem) -> Tensor:
    """The model's expectation of every moment, flat ``[P (groups), C, r1, r2 (groups x times each)]``."""
    c0, c1, c2, mu_a, mu_b, mu_lo, mu_hi, sd_a, sd_b, sd_lo, sd_hi, q, e, q_max = theta.unbind()
    target = p.target
    g_norm = target / p.g_max
    poly = c0 + c1 * g_norm + c2 * g_norm * g_norm
    sigma_p = _positive(poly) * (p.g_max / PROG_NOISE_REFERENCE_G_MAX_USIEMENS)
    x = torch.log(g_norm.clamp_min(p.floor))
    mu = torch.minimum(torch.maximum(mu_a * x + mu_b, mu_lo), mu_hi)
    sd = _positive(torch.minimum(torch.maximum(sd_a * x + sd_b, sd_lo), sd_hi))
    # G_p = T + sigma_p u, u ~ N(0, 1), on [max(-T/sigma_p, -H), H]; below u = -T/sigma_p it is 0.
    u_lo = torch.clamp_min(-target / sigma_p, -QUADRATURE_HALF_WIDTH)
    half = 0.5 * (QUADRATURE_HALF_WIDTH - u_lo)
    u = (QUADRATURE_HALF_WIDTH + u_lo)[:, None] * 0.5 + half[:, None] * p.nodes
    w = half[:, None] * p.weights * _phi(u)
    g = (target[:, None] + sigma_p[:, None] * u).clamp_min(0.0)
    qs = torch.minimum(q * torch.exp(-e * torch.log((g / p.g_max).clamp_min(p.floor))), q_max)
    a = _positive(qs)[:, :, None] * torch.sqrt(p.spread2)[:, None, :]
    inv = 1.0 / a
    cdf, pdf = torch.special.ndtr(inv), _phi(inv)
    h1 = cdf + a * pdf
    h2 = (1.0 + a * a) * cdf + a * pdf
    wg = (w * g)[:, :, None]
    e1 = (wg * h1).sum(1)
    e2 = (wg * g[:, :, None] * h1 * h1).sum(1)
    ev = (wg * g[:, :, None] * (h2 - h1 * h1)).sum(1)
    prog = (w * (g * h1[:, :, 0] - target[:, None]) ** 2).sum(1)
    prog = prog + torch.special.ndtr(-target / sigma_p) * target * target
    read = ev / e2
    r1 = e1 * _folded_mgf(p.log_t, mu, sd) / e1[:, :1]
    r2 = e2 * _folded_mgf(2.0 * p.log_t, mu, sd) / e2[:, :1]
    return torch.cat([prog, read.flatten(), r1.flatten(), r2.flatten()])


def _residual(theta: Tensor, p: _Problem) -> Tensor:
    return p.whiten @ (p.observed - _predict(theta, p)[p.gather])


def _jacobian(theta: Tensor, p: _Problem) -> Tensor:
    """``d residual / d theta`` by central differences, steps of 1e-6 of each coefficient: 28 evaluations of
    ~1 ms (torch's autograd Jacobians take 30 to 300 times longer on these small tensors). A coefficient no
    moment depends on (a clamp no target reaches) gets an exactly zero column."""
    columns = []
    for i in range(theta.numel()):
        step = _RELATIVE_STEP * max(abs(float(theta[i])), 1e-3)
        up, down = theta.clone(), theta.clone()
        up[i] += step
        down[i] -= step
        columns.append((_residual(up, p) - _residual(down, p)) / (2.0 * step))
    return torch.stack(columns, dim=1)


def _levenberg_marquardt(theta: Tensor, free: Tensor, p: _Problem) -> tuple[Tensor, float, int]:
    """Minimise ``|residual|²`` over the ``free`` coefficients (Marquardt's scaling: unit-free steps)."""
    r = _residual(theta, p)
    cost = float(r @ r)
    damping = 1e-3
    for iteration in range(1, MAX_ITERATIONS + 1):
        jac = _jacobian(theta, p)[:, free]
        grad = jac.T @ r
        hess = jac.T @ jac
        scale = torch.diagonal(hess).clamp_min(1e-300)
        while True:
            step = torch.linalg.solve(hess + damping * torch.diag(scale), -grad)
            trial = theta.clone()
            trial[free] += step
            r_trial = _residual(trial, p)
            cost_trial = float(r_trial @ r_trial)
            if math.isfinite(cost_trial) and cost_trial <= cost:
                break
            damping *= 10.0
            if damping > 1e12:
                return theta, cost, iteration
        done = cost - cost_trial <= _CONVERGED
        theta, r, cost = trial, r_trial, cost_trial
        damping = max(damping / 10.0, 1e-12)
        if done:
            return theta, cost, iteration
    return theta, cost, MAX_ITERATIONS


# ---- the fit ----------------------------------------------------------------------------------------


def _standard_errors(theta: Tensor, free: Tensor, p: _Problem) -> tuple[Tensor, Tensor, int | None]:
    """Standard errors ``sqrt(diag((Jᵀ J)^-1))`` of the free coefficients (NaN for the others), from the
    whitened residual's Jacobian ``J``; which free coefficients no moment depends on (a zero column); and
    the coefficient that leads a combination no moment sees (``Jᵀ J`` singular), or ``None``."""
    jac = _jacobian(theta, p)
    silent = free & (jac.abs().sum(0) == 0)
    used = torch.nonzero(free & ~silent).flatten()
    se = torch.full_like(theta, math.nan)
    if used.numel() == 0:
        return se, silent, None
    hess = jac[:, used].T @ jac[:, used]
    # Marquardt's scaling makes the test unit-free: the coefficients span 0.003 to 2.
    scale = torch.sqrt(torch.diagonal(hess))
    eigenvalues, vectors = torch.linalg.eigh(hess / torch.outer(scale, scale))
    if float(eigenvalues[0]) <= _SINGULAR * float(eigenvalues[-1]):
        return se, silent, int(used[int(torch.argmax(vectors[:, 0].abs()))])
    se[used] = torch.sqrt(torch.diagonal(torch.linalg.inv(hess)))
    return se, silent, None


def fit_pcm(
    m: DeviceMeasurements,
    published: PCMSpec | None = None,
    *,
    g_max_usiemens: float | None = None,
    t0_s: float | None = None,
) -> PCMFit:
    """Fit the ``pcm_joshi2020`` laws to measured reads (the estimator is in the module docstring).

    Args:
        m: the reads (:func:`~chiptwin.device.measurements.check_measurements` is applied).
        published: the model's constants to start from and to keep where the reads say nothing
            (default the published Joshi 2020 fit).
        g_max_usiemens: the conductance ``ĝ = 1`` stands for, µS (default: the largest target).
        t0_s: the time after programming the drift law starts from, s (default: the earliest read).

    Returns:
        The fitted constants, each coefficient with its standard error, and the laws against the data.

    Raises:
        DataError: a read no device gives, or a design that cannot separate the laws (fewer than 3
            targets, a device without a programming read, read at one time only or once at a time, a
            target with fewer than :data:`MIN_DEVICES_PER_CELL` devices at a time); the message names the
            file and the row or column.
    """
    check_measurements(m)
    base = published or PCMSpec()
    g_max = float(m.g_target_usiemens.max()) if g_max_usiemens is None else g_max_usiemens
    t0 = float(m.t_s.min()) if t0_s is None else t0_s
    if not t0 > 0:
        row = int(np.argmin(m.t_s))
        raise DataError(
            f"{m.source}: row {row + 1}: the earliest read is at {TIME}(={shown(m.t_s[row])}); the drift law "
            "needs t0 > 0 (give --t0-s, the time of the programming read)"
        )
    row = int(np.argmax(m.g_target_usiemens))
    if m.g_target_usiemens[row] > g_max:
        raise DataError(
            f"{m.source}: row {row + 1}: {G_TARGET}(={shown(m.g_target_usiemens[row])}) is above "
            f"g_max = {g_max:g} µS"
        )
    start = replace(base, g_max_usiemens=g_max, t0_s=t0)
    groups, times = _design(m, start)
    problem = _problem(groups, start, m.source)
    theta0 = torch.tensor([getattr(start, name) for name in FITTED], dtype=_DTYPE)
    free = torch.ones(len(FITTED), dtype=torch.bool)
    reasons = [""] * len(FITTED)
    theta = theta0.clone()
    iterations = 0
    while True:
        try:
            theta, cost, used = _levenberg_marquardt(theta, free, problem)
            se, silent, confounded = _standard_errors(theta, free, problem)
        except torch.linalg.LinAlgError:  # a Jacobian with NaN: the laws cannot be evaluated there
            raise DataError(
                f"{m.source}: the laws cannot be fitted to these reads (the fit reached coefficients where "
                f"the model's moments are undefined: {dict(zip(FITTED, theta.tolist(), strict=True))})"
            ) from None
        iterations += used
        for i in torch.nonzero(silent).flatten().tolist():
            free[i], theta[i] = False, theta0[i]
            reasons[i] = "no target's reads depend on it (no target reaches the law's clamp)"
        if confounded is not None:
            free[confounded], theta[confounded] = False, theta0[confounded]
            reasons[confounded] = "the reads determine it only in a combination with other coefficients"
        if not bool(silent.any()) and confounded is None:
            break
    coefficients = tuple(
        FittedCoefficient(
            name=name,
            value=float(theta[i]),
            std_error=float(se[i]) if bool(free[i]) else math.nan,
            published=float(theta0[i]),
            fitted=bool(free[i]),
            reason=reasons[i],
        )
        for i, name in enumerate(FITTED)
    )
    temperature = None if m.temperature_c is None else float(m.temperature_c[0])
    fitted: dict[str, Any] = {c.name: c.value for c in coefficients}
    if temperature is not None:  # the drift law holds at the temperature it was measured at
        fitted["drift_temperature_ref_c"] = temperature
    try:
        spec = replace(start, **fitted)
    except SpecError as exc:  # e.g. a fitted lower clamp above the upper one
        raise DataError(f"{m.source}: the fitted laws are not a valid [pcm] table ({exc})") from None
    return PCMFit(
        spec=spec,
        coefficients=coefficients,
        laws=_laws(groups, problem, theta, spec, start),
        chi_squared=cost,
        dof=int(problem.observed.numel()) - int(free.sum()),
        iterations=iterations,
        devices=m.devices,
        reads=m.rows,
        targets_usiemens=tuple(g.target_usiemens for g in groups),
        times_s=times,
        temperature_c=temperature,
        source=m.source,
    )


def _statistics(v: np.ndarray, g: _Group) -> dict[str, tuple[float, dict[int, float]]]:
    """Each law's statistic of one group's moments ``v`` (observed or predicted), with its gradient
    ``{index of v: d statistic / d v[index]}`` for the delta method.

    ``v`` is ``[P, C_0..C_K, r1_1..r1_K, r2_1..r2_K]``; the drift statistics use the last time ``K``.
    """
    k = g.log_t.size - 1
    i1, i2 = 2 * k + 1, 3 * k + 1
    length, s0 = float(g.log_t[-1]), math.sqrt(g.spread2[0])
    tiny = 1e-300
    prog = math.sqrt(max(v[0], tiny))
    read = math.sqrt(max(v[1], tiny))
    if not (v[i1] > 0 and v[i2] > 0):  # every read at the last time is 0: no drift statistic
        return {
            "prog": (prog, {0: 0.5 / prog}),
            "mu": (math.nan, {}),
            "sd": (math.nan, {}),
            "read": (read / s0, {1: 0.5 / (read * s0)}),
        }
    spread = math.sqrt(max(math.log(v[i2]) - 2.0 * math.log(v[i1]), tiny))
    return {
        "prog": (prog, {0: 0.5 / prog}),
        "mu": (-math.log(v[i1]) / length, {i1: -1.0 / (v[i1] * length)}),
        "sd": (spread / length, {i1: -1.0 / (v[i1] * spread * length), i2: 0.5 / (v[i2] * spread * length)}),
        "read": (read / s0, {1: 0.5 / (read * s0)}),
    }


_LAWS = {
    "prog": ("programming noise std, µS", "sqrt(mean((m0 - T)² - w0/R0)) over a target's devices"),
    "mu": ("drift exponent mean", "-ln r1 / ln(t/t0), r1 = sum m_t / sum m0 at the last time t"),
    "sd": ("drift exponent spread", "sqrt(ln r2 - 2 ln r1) / ln(t/t0) at the last time t"),
    "read": ("read noise Q_s", "sqrt(sum w0 / sum(m0² - w0/R0)) / s(t0)"),
}
"""Each law: the quantity plotted and how its statistic is computed from the reads (``m``, ``w``, ``R``:
a device's mean read, the variance of its reads, their number at one time; ``0``: at t0)."""


def _laws(
    groups: list[_Group], p: _Problem, theta: Tensor, fitted: PCMSpec, start: PCMSpec
) -> tuple[LawPoints, ...]:
    """Each law's statistic per target, observed and predicted, with the fitted and published curves."""
    with torch.no_grad():
        predicted = _predict(theta, p)[p.gather].numpy()
    rows: dict[str, list[tuple[float, float, float]]] = {key: [] for key in _LAWS}
    at = 0
    for g in groups:
        observed = _statistics(g.observed, g)
        model = _statistics(predicted[at : at + g.observed.size], g)
        at += g.observed.size
        for key, (value, grad) in observed.items():
            variance = sum(grad[i] * grad[j] * g.covariance[i, j] for i in grad for j in grad)
            rows[key].append((value, math.sqrt(max(variance, 0.0)), model[key][0]))
    targets = np.array([g.target_usiemens for g in groups])
    grid = np.geomspace(targets.min() / 2, fitted.g_max_usiemens, 200)
    grid_norm = torch.as_tensor(grid / fitted.g_max_usiemens, dtype=torch.float32)
    curves = {
        "prog": pcm.prog_noise_std_usiemens,
        "mu": pcm.drift_nu_mean,
        "sd": pcm.drift_nu_std,
        "read": pcm.read_noise_qs,
    }
    laws = []
    for key, (quantity, statistic) in _LAWS.items():
        values = np.array(rows[key])
        laws.append(
            LawPoints(
                quantity=quantity,
                statistic=statistic,
                target_usiemens=targets,
                observed=values[:, 0],
                std_error=values[:, 1],
                predicted=values[:, 2],
                law_target_usiemens=grid,
                law=curves[key](grid_norm, fitted).double().numpy(),
                published_law=curves[key](grid_norm, start).double().numpy(),
            )
        )
    return tuple(laws)
