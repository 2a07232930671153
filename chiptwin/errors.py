"""The chiptwin exception tree.

Every error a user can cause derives from :class:`ChipTwinError`; messages name the file, key and
offending value so the command line can print them as one line.
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "ChipTwinError",
    "DataError",
    "DeviceError",
    "MappingError",
    "SpecError",
    "TimingError",
    "UsageError",
]


class ChipTwinError(Exception):
    """Base of every error chiptwin raises on purpose."""


class SpecError(ChipTwinError):
    """A specification a user wrote (chip, PCM, scenario, a duration) is malformed or non-physical."""


class DataError(ChipTwinError):
    """A dataset file is missing, truncated or inconsistent."""


class CheckpointError(ChipTwinError):
    """A checkpoint or its model card is missing, corrupt or inconsistent."""


class MappingError(ChipTwinError):
    """A model cannot be traced, split or placed on the chip."""


class DeviceError(ChipTwinError, ValueError):
    """A device-model call got an impossible value (negative age, unknown scale, mismatched tensors)."""


class TimingError(ChipTwinError, ValueError):
    """A timing run got an impossible parameter (negative rate, unsorted arrivals, bad replay file)."""


class UsageError(ChipTwinError):
    """A command-line argument is missing, unknown, malformed or out of range."""
