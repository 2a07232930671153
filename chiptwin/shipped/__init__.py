"""The files chiptwin ships inside the package, found by bare name from any folder.

Four kinds, each a folder of this package (read with :mod:`importlib.resources`, so an installed
wheel carries them as the source tree does):

- ``architectures``: chip files, ``NAME.toml`` (``chiptwin check-arch hermes_64``);
- ``sweeps``: sweep files, ``NAME.toml`` (``chiptwin sweep timing_only``), and ``dask-workers.yaml``;
- ``scenarios``: scenario files, ``NAME.toml`` (``chiptwin run hourly_gdc``), next to the named
  scenarios that are Python (:mod:`chiptwin.scenario.library`);
- ``examples``: model files, ``NAME.py`` with their weights (``chiptwin map --model dwcnn.py``).

A path the user gives always wins: :func:`resolve` returns it as given when it exists or looks like a
path (a folder part or a suffix other than the kind's), and looks the name up here only otherwise. Copy
a shipped file to edit it: :func:`shipped_path` says where it is.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from chiptwin.errors import ChipTwinError, SpecError

__all__ = ["KINDS", "resolve", "shipped_dir", "shipped_names", "shipped_path"]

KINDS: dict[str, str] = {
    "architectures": ".toml",
    "sweeps": ".toml",
    "scenarios": ".toml",
    "examples": ".py",
}
"""Kind -> the suffix of its files (a bare name is the file's stem)."""

_WHAT = {
    "architectures": "architecture",
    "sweeps": "sweep",
    "scenarios": "scenario",
    "examples": "model file",
}


def shipped_dir(kind: str) -> Path:
    """The folder of one kind of shipped file (a :class:`~pathlib.Path`: chiptwin is installed unzipped)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of shipped file {kind!r} (one of {', '.join(KINDS)})")
    folder = importlib.resources.files(__name__) / kind
    if not isinstance(folder, Path):  # a zip import: every command reads these files by path
        raise ChipTwinError(f"chiptwin's shipped {kind} are not on the file system ({folder})")
    return folder


def shipped_names(kind: str) -> list[str]:
    """The bare names of the shipped files of ``kind``, sorted."""
    return sorted(p.stem for p in shipped_dir(kind).glob(f"*{KINDS[kind]}") if not p.name.startswith("_"))


def shipped_path(kind: str, name: str) -> Path | None:
    """The shipped file of ``kind`` called ``name`` (with or without its suffix), or None."""
    suffix = KINDS[kind]
    stem = name.removesuffix(suffix)
    if not stem or "/" in stem or stem.startswith((".", "_")):
        return None
    path = shipped_dir(kind) / f"{stem}{suffix}"
    return path if path.is_file() else None


def _looks_like_path(path: Path, suffix: str) -> bool:
    return path.exists() or len(path.parts) > 1 or (path.suffix not in ("", suffix))


def resolve(kind: str, name_or_path: str | Path, error: type[ChipTwinError] = SpecError) -> Path:
    """A user's path as given, else the shipped file of that name.

    ``name_or_path`` is returned unchanged when it exists, has a folder part (``./x.toml``,
    ``chips/x.toml``) or a suffix other than the kind's; otherwise (``hermes_64``, ``hermes_64.toml``
    that is not in the current folder) it is looked up among the shipped files. A file name with the
    kind's suffix that is not shipped either is returned as given too, for its loader to say it is missing.

    Raises:
        error: a bare name (no suffix) that is not shipped, with the shipped names.
    """
    path = Path(name_or_path)
    suffix = KINDS[kind]
    if _looks_like_path(path, suffix):
        return path
    found = shipped_path(kind, path.name)
    if found is None and path.suffix == suffix:
        return path
    if found is None:
        known = ", ".join(shipped_names(kind))
        raise error(f"{name_or_path}: no such file or {_WHAT[kind]} (known: {known})")
    return found
