"""Benchmark: program, drift and read throughput of the PCM device layer on CPU.

Times ``chiptwin.device.program``, ``drift`` (at a device age of one day) and ``read`` (one day) over
``--devices`` devices with uniform targets in [0, g_max], best of ``--repeat`` runs each, and checks the
targets: persistent state <= 12 bytes/device and all three steps together < 2 s for 10^7 devices.

    python bench/device_throughput.py [--devices 10000000] [--repeat 3] [--threads N]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from chiptwin.device import drift, program, read
from chiptwin.spec.pcm import PCMSpec
from chiptwin.units import SECONDS_PER_DAY

MAX_BYTES_PER_DEVICE = 12
"""Target: persistent device state, bytes per device."""

MAX_TOTAL_S = 2.0
"""Target: program + drift + read of 10^7 devices, s."""

SEED = 0
AGE_S = SECONDS_PER_DAY


def best_time_s(step: Callable[[], object], repeat: int) -> float:
    """Smallest wall time of ``repeat`` calls of ``step``, s."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Throughput of PCM program, drift and read on CPU.")
    parser.add_argument("--devices", type=int, default=10_000_000, help="number of devices")
    parser.add_argument("--repeat", type=int, default=3, help="runs per step; the best is reported")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)

    spec = PCMSpec()
    generator = torch.Generator().manual_seed(SEED)
    target = torch.rand(args.devices, generator=generator) * spec.g_max_usiemens
    state = program(target, spec, generator)  # warm-up, and the state the others use

    times = {
        "program": best_time_s(lambda: program(target, spec, generator), args.repeat),
        "drift": best_time_s(lambda: drift(state, AGE_S, spec), args.repeat),
        "read": best_time_s(lambda: read(state, AGE_S, spec, generator), args.repeat),
    }
    total_s = sum(times.values())
    bytes_per_device = state.nbytes / args.devices

    print(
        f"devices: {args.devices:,}  threads: {torch.get_num_threads()}  repeat: {args.repeat} (best)  "
        f"torch {torch.__version__}"
    )
    for name, seconds in times.items():
        print(f"  {name:<8} {seconds:7.3f} s  {args.devices / seconds:14,.0f} devices/s")
    print(f"  {'all 3':<8} {total_s:7.3f} s  {args.devices / total_s:14,.0f} devices/s")
    print(f"persistent state: {bytes_per_device:g} bytes/device")

    # The time target is stated for 10^7 devices; scale it linearly for other sizes.
    time_target_s = MAX_TOTAL_S * args.devices / 10_000_000
    state_ok = bytes_per_device <= MAX_BYTES_PER_DEVICE
    time_ok = total_s < time_target_s
    print(f"target state <= {MAX_BYTES_PER_DEVICE} bytes/device: {'met' if state_ok else 'NOT met'}")
    print(f"target all three < {time_target_s:g} s: {'met' if time_ok else 'NOT met'}")
    return 0 if state_ok and time_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
