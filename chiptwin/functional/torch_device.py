"""Which torch device the functional twin computes on: checked once, named in every header and trace.

The functional twin runs wherever torch does: ``cpu`` (the default), ``cuda``/``cuda:N`` or ``mps``. A
programmed chip keeps all its state (conductances, drift exponents, converter ranges, GDC factors) on its
device and draws its noise from generators on that device, so a forward pass never copies to the host.
A GPU draws from another random stream (torch's Philox instead of the CPU's generators and the
counter-based output-noise kernel, :mod:`chiptwin.functional.gaussian`): the same statistics, other
numbers, so accuracies agree across devices within their sampling spread, not bit for bit.
"""

from __future__ import annotations

import torch

from chiptwin.errors import UsageError

__all__ = ["check_torch_device", "describe_torch_device"]


def check_torch_device(device: torch.device | str, name: str = "device") -> torch.device:
    """``device`` as a :class:`torch.device`, if this machine has it: ``cpu``, or ``cuda``/``cuda:N``/
    ``mps`` where available.

    >>> check_torch_device("cpu")
    device(type='cpu')

    Raises:
        UsageError: not a torch device, or one this machine does not have (one line naming ``name``).
    """
    try:
        checked = torch.device(device)
    except (RuntimeError, TypeError):
        raise UsageError(f"{name}(={device!r}) must be a torch device such as cpu or cuda:0") from None
    shown = str(device)
    if checked.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"{name}(={shown!r}): CUDA is not available on this machine")
        if checked.index is not None and checked.index >= torch.cuda.device_count():
            raise UsageError(
                f"{name}(={shown!r}): this machine has {torch.cuda.device_count()} CUDA device(s)"
            )
    elif checked.type == "mps":
        if not torch.backends.mps.is_available():
            raise UsageError(f"{name}(={shown!r}): MPS is not available on this machine")
    elif checked.type != "cpu":
        raise UsageError(f"{name}(={shown!r}) must be cpu, cuda, cuda:N or mps")
    return checked


def describe_torch_device(device: torch.device | str) -> str:
    """The device for a header or a trace: ``cpu``, ``mps``, or ``cuda:N (its name)``.

    >>> describe_torch_device("cpu")
    'cpu'
    """
    checked = torch.device(device)
    if checked.type != "cuda":
        return str(checked)
    index = torch.cuda.current_device() if checked.index is None else checked.index
    return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
