"""The plan's fill: blocks sharing one crossbar, served in the order their inputs arrive (by hand)."""

from __future__ import annotations

from chiptwin.timing.plan import _analog_latency
from chiptwin.timing.stages import BlockWork, Transfer


def _transfer(ns: int) -> Transfer:
    return Transfer(src_tile=0, dst_tile=1, size_bytes=1, hops=1, links=(0,), duration_ns=ns, energy_pj=0.0)


def _block(tile: int, t_in: int, mvm: int, t_out: int) -> BlockWork:
    return BlockWork(
        tile=tile,
        block=0,
        replica=0,
        rows=1,
        cols=1,
        mvms=1,
        inputs=(_transfer(t_in),) if t_in else (),
        output=_transfer(t_out) if t_out else None,
        duration_ns=mvm,
        convert_ns=0,
        array_pj=0.0,
        dac_pj=0.0,
        adc_pj=0.0,
    )


def test_a_block_whose_inputs_arrive_first_computes_first() -> None:
    # Tile 0: A's inputs in at 10 ns, MVM 10..30, out at 35; B's inputs in at 50, MVM 50..70, out at 75.
    # (The sum of the largest input, both MVMs and the largest output, 50 + 40 + 5 = 95, waited for B's
    # inputs before A's MVM: more than one inference alone takes.)
    assert _analog_latency((_block(0, 10, 20, 5), _block(0, 50, 20, 5))) == 75


def test_blocks_arriving_together_send_the_longest_output_first() -> None:
    # Both in at 0; MVMs of 10 each: the block with the 30 ns output first (10 + 30 = 40), the other's
    # out at 20 + 1: 40; the other order would end at 20 + 30 = 50.
    assert _analog_latency((_block(0, 0, 10, 1), _block(0, 0, 10, 30))) == 40


def test_tiles_work_in_parallel() -> None:
    assert _analog_latency((_block(0, 0, 10, 0), _block(1, 5, 10, 2), _block(0, 0, 10, 0))) == 20
