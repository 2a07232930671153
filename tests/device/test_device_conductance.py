"""Weight <-> differential conductance mapping, and the ideal device round trip (docs/concepts/physics.md)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from chiptwin.device import IdealNoiseModel, conductances_to_weights, weights_to_conductances
from chiptwin.units import SECONDS_PER_DAY

G_MAX = 25.0


def weights(rows: int = 64, cols: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.randn(rows, cols, generator=torch.Generator().manual_seed(seed))


def test_block_scale_maps_max_abs_weight_to_g_max() -> None:
    w = torch.tensor([[0.5, -2.0], [1.0, 0.0]])
    g_pos, g_neg, beta = weights_to_conductances(w, G_MAX)
    assert beta.shape == () and beta.item() == 12.5
    assert g_pos.tolist() == [[6.25, 0.0], [12.5, 0.0]]
    assert g_neg.tolist() == [[0.0, 25.0], [0.0, 0.0]]


def test_one_device_of_each_pair_is_zero_and_range_is_0_to_g_max() -> None:
    for scale in ("block", "column"):
        g_pos, g_neg, _ = weights_to_conductances(weights(), G_MAX, scale)
        assert not bool((g_pos * g_neg).any())
        for g in (g_pos, g_neg):
            assert bool((g >= 0).all()) and bool((g <= G_MAX).all())


def test_column_scale_maps_each_column_max_to_g_max() -> None:
    w = weights() * torch.linspace(0.01, 10.0, 32)  # columns of very different magnitude
    g_pos, g_neg, beta = weights_to_conductances(w, G_MAX, scale="column")
    assert beta.shape == (32,)
    torch.testing.assert_close(beta, G_MAX / w.abs().amax(dim=0))
    torch.testing.assert_close((g_pos + g_neg).amax(dim=0), torch.full((32,), G_MAX))


def test_zero_weights_get_unit_scale() -> None:
    w = weights(8, 4)
    w[:, 2] = 0.0
    g_pos, g_neg, beta = weights_to_conductances(w, G_MAX, scale="column")
    assert beta[2].item() == 1.0
    assert not bool(g_pos[:, 2].any()) and not bool(g_neg[:, 2].any())
    assert not bool(conductances_to_weights(g_pos, g_neg, beta)[:, 2].any())
    g_pos, g_neg, beta = weights_to_conductances(torch.zeros(3, 3), G_MAX)
    assert beta.item() == 1.0 and not bool(conductances_to_weights(g_pos, g_neg, beta).any())


def test_block_scale_accepts_any_rank() -> None:
    w = torch.randn(4, 3, 3, 3, generator=torch.Generator().manual_seed(1))
    g_pos, g_neg, beta = weights_to_conductances(w, G_MAX)
    assert g_pos.shape == w.shape and beta.shape == ()
    assert (g_pos + g_neg).max().item() == pytest.approx(G_MAX)


def test_bad_arguments_raise_naming_the_value() -> None:
    with pytest.raises(ValueError, match=r"scale\(='row'\)"):
        weights_to_conductances(weights(), G_MAX, scale="row")
    with pytest.raises(ValueError, match=r"g_max_usiemens\(=0.0\)"):
        weights_to_conductances(weights(), 0.0)
    with pytest.raises(ValueError, match=r"shape \(2, 3, 4\)"):
        weights_to_conductances(torch.zeros(2, 3, 4), G_MAX, scale="column")


@pytest.mark.parametrize("scale", ["block", "column"])
def test_ideal_devices_reconstruct_weights_exactly(scale: str) -> None:
    # weights -> conductances -> program -> read (a day later) -> weights: exact up to float32 rounding
    # of beta * W / beta (one ulp).
    model, generator = IdealNoiseModel(), torch.Generator().manual_seed(0)
    w = weights(256, 128)
    w[:, 5] = 0.0
    g_pos, g_neg, beta = weights_to_conductances(w, G_MAX, scale)
    read_pos = model.read(model.program(g_pos, generator), SECONDS_PER_DAY, generator)
    read_neg = model.read(model.program(g_neg, generator), SECONDS_PER_DAY, generator)
    torch.testing.assert_close(conductances_to_weights(read_pos, read_neg, beta), w, rtol=3e-7, atol=0.0)


@settings(max_examples=50, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.just(0.0), st.floats(2.0**-60, 1024.0, width=32), st.floats(-1024.0, -(2.0**-60), width=32)
        ),
        min_size=6,
        max_size=6,
    ),
    scale=st.sampled_from(["block", "column"]),
)
def test_round_trip_property(values: list[float], scale: str) -> None:
    # |W| >= 2^-60 keeps beta * W a normal float32 (see the weights_to_conductances docstring).
    w = torch.tensor(values).reshape(2, 3)
    g_pos, g_neg, beta = weights_to_conductances(w, G_MAX, scale)
    assert bool((g_pos >= 0).all() and (g_neg >= 0).all())
    assert bool((g_pos <= G_MAX).all() and (g_neg <= G_MAX).all())
    torch.testing.assert_close(conductances_to_weights(g_pos, g_neg, beta), w, rtol=3e-7, atol=1e-30)
