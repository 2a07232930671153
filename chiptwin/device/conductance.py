"""Weights <-> differential conductance pairs ``W ∝ G+ − G−``, conductances in µS.

Each weight is stored on two PCM devices (Joshi et al., "Accurate deep neural network inference using
computational phase-change memory", Nat. Commun. 11, 2473 (2020)): with a scale ``beta`` (µS per unit
weight) that maps the largest ``|W|`` to ``g_max``, ``G+ = clamp(beta W, 0, g_max)`` and
``G− = clamp(−beta W, 0, g_max)``, so one device of each pair is at 0 µS. The scale is one per crossbar
block (``"block"``, the paper) or one per output column (``"column"``, undone by the tile's digital
unit; docs/concepts/physics.md).

Example:
    >>> import torch
    >>> w = torch.tensor([[0.5, -1.0], [0.25, 0.5]])
    >>> g_pos, g_neg, beta = weights_to_conductances(w, 25.0, scale="column")
    >>> beta.tolist()
    [50.0, 25.0]
    >>> g_pos.tolist(), g_neg.tolist()
    ([[25.0, 0.0], [12.5, 12.5]], [[0.0, 25.0], [0.0, 0.0]])
    >>> torch.equal(conductances_to_weights(g_pos, g_neg, beta), w)
    True
"""

from __future__ import annotations

import torch
from torch import Tensor

from chiptwin.errors import DeviceError
from chiptwin.spec.conventions import WEIGHT_SCALES

__all__ = ["conductances_to_weights", "weights_to_conductances"]


def _beta(max_abs: Tensor, g_max_usiemens: float) -> Tensor:
    """``g_max / max|W|``, µS per unit weight; 1 where ``max|W| = 0`` (nothing to scale, no 0/0)."""
    return torch.where(max_abs > 0, g_max_usiemens / max_abs, torch.ones_like(max_abs))


def weights_to_conductances(
    w: Tensor, g_max_usiemens: float, scale: str = "block", g_min_usiemens: float = 0.0
) -> tuple[Tensor, Tensor, Tensor]:
    """Map weights onto differential conductance pairs.

    Args:
        w: floating-point weights. For ``"column"`` a 2-D block of shape (rows, cols) = (inputs,
            output columns); for ``"block"`` any shape, scaled over all elements.
        g_max_usiemens: largest programmable conductance, µS (> 0).
        scale: ``"block"``: one ``beta = g_max / max|W|`` (a 0-dim tensor); ``"column"``: ``beta`` of
            shape (cols,), ``g_max / max over rows of |W[:, c]|``. An all-zero block or column gets
            ``beta = 1``, so its conductances are 0 and it reconstructs to 0 without dividing by zero.
            ``max|W|`` must be large enough for ``g_max / max|W|`` to be finite in ``w``'s dtype
            (above ~1e-37 for float32); real weights are.
        g_min_usiemens: lowest programmable conductance, µS (>= 0, < ``g_max_usiemens``; default 0, the PCM
            reset state). A technology whose devices cannot reach 0 (the CMO/HfOx ReRAM window starts at
            8 µS) maps ``|W|`` into ``[g_min, g_max]``: ``beta = (g_max - g_min) / max|W|`` and both devices
            of a pair carry ``g_min`` on top, which the difference ``G+ − G−`` cancels.

    Returns:
        ``(g_pos_usiemens, g_neg_usiemens, beta)``: target conductances of the two devices, µS, shaped
        like ``w``, and the scale, µS per unit weight, broadcastable against ``w``.

    Raises:
        DeviceError: ``scale`` is not one of ``WEIGHT_SCALES``, ``g_max_usiemens <= 0``, ``g_min_usiemens``
            outside ``[0, g_max_usiemens)``, or ``"column"`` is asked for a tensor that is not 2-D.
    """
    if scale not in WEIGHT_SCALES:
        raise DeviceError(f"scale(={scale!r}) must be one of {WEIGHT_SCALES}")
    if not g_max_usiemens > 0:
        raise DeviceError(f"g_max_usiemens(={g_max_usiemens!r}) must be > 0")
    if not 0 <= g_min_usiemens < g_max_usiemens:
        raise DeviceError(f"g_min_usiemens(={g_min_usiemens!r}) must be >= 0 and < g_max_usiemens")
    span = g_max_usiemens - g_min_usiemens
    if scale == "column":
        if w.dim() != 2:
            raise DeviceError(f"scale='column' needs a 2-D (rows, cols) block, got shape {tuple(w.shape)}")
        beta = _beta(w.abs().amax(dim=0), span)
    else:
        beta = _beta(w.abs().amax(), span)
    scaled = w * beta
    g_pos = scaled.clamp(0.0, span)
    g_neg = scaled.neg_().clamp_(0.0, span)
    if g_min_usiemens:
        g_pos.add_(g_min_usiemens)
        g_neg.add_(g_min_usiemens)
    return g_pos, g_neg, beta


def conductances_to_weights(g_pos_usiemens: Tensor, g_neg_usiemens: Tensor, beta: Tensor) -> Tensor:
    """Weights read back from a differential pair: ``(G+ − G−) / beta`` (broadcast).

    Args:
        g_pos_usiemens: conductance of the positive devices, µS.
        g_neg_usiemens: conductance of the negative devices, µS.
        beta: scale returned by :func:`weights_to_conductances`, µS per unit weight.
    """
    return (g_pos_usiemens - g_neg_usiemens) / beta
