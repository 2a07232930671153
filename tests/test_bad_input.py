"""Malformed inputs through the real command line: one line on stderr, exit code 2, nothing finished.

Every case runs ``chiptwin.cli.main`` in-process on one malformed input and checks the contract
of docs/concepts/conventions.md (errors): exit code 2, exactly one stderr line ``chiptwin: error: ...``
naming the file (and the
key and value where there is one), no traceback, nothing on stdout (no ``wrote``/``report:`` line) and no
output folder presented as finished (a manifest with ``"status": "complete"``, a ``summary.txt``, a
``mapping.parquet``).

The static corpus is ``tests/bad_inputs/{arch,scenario}/*.toml``: each file is ``valid_arch.toml`` or
``valid_scenario.toml`` with one fault; its first line says what is wrong and its second line,
``# expect: a | b``, lists fragments the error line must contain (``{file}`` is the file's own path).
Checkpoints, data sets and traces are corrupted copies of valid ones, built in ``tmp_path``.
"""

from __future__ import annotations

import json
import pickle
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from safetensors.torch import load_file, save_file

from chiptwin.cli import main
from chiptwin.network.checkpoint import load_checkpoint
from chiptwin.network.data import load_fashion_mnist
from chiptwin.scenario.spec import load_scenario
from chiptwin.shipped import shipped_dir
from chiptwin.spec.load import load_chip
from chiptwin.trace import EVENT_KINDS, SCHEMAS, TASKS, TraceWriter, read_manifest, read_table

BAD_INPUTS = Path(__file__).resolve().parent / "bad_inputs"
ARCHITECTURES = shipped_dir("architectures")
SHIPPED = Path(__file__).resolve().parents[1] / "chiptwin/network/checkpoints/resnet32_pcm_fmnist_hwa"


@dataclass(frozen=True, slots=True)
class Case:
    """One malformed input: the command line, what its error line must say, and where output would go."""

    argv: list[str]
    expect: list[str]
    out: Path | None = None
    """Folder the command writes to on success; checked for anything presented as finished."""


Builder = Callable[[Path], Case]


def _run_case(case: Case, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(case.argv)
    captured = capsys.readouterr()
    assert code == 2, captured
    assert "Traceback" not in captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    line = lines[0]
    assert line.startswith("chiptwin: error: "), line
    missing = [fragment for fragment in case.expect if fragment not in line]
    assert not missing, f"{line!r} lacks {missing}"
    assert captured.out == ""
    if case.out is not None and case.out.exists():
        manifest = case.out / "manifest.json"
        if manifest.is_file():
            assert json.loads(manifest.read_text()).get("status") != "complete"
        for finished in ("summary.txt", "mapping.parquet", "tile_map.png"):
            assert not (case.out / finished).exists(), finished


# ---- static files: architectures and scenarios ----------------------------------------------------------


def _expected(path: Path) -> list[str]:
    """The ``# expect:`` fragments of a corpus file, ``{file}`` replaced by its path."""
    what, expect = path.read_text(encoding="utf-8").splitlines()[:2]
    assert what.startswith("# ") and expect.startswith("# expect: "), path
    return [f.strip().replace("{file}", str(path)) for f in expect.removeprefix("# expect: ").split(" | ")]


ARCH_FILES = sorted((BAD_INPUTS / "arch").glob("*.toml"))
SCENARIO_FILES = sorted((BAD_INPUTS / "scenario").glob("*.toml"))

ARCH_COMMANDS: dict[str, Callable[[str, Path], list[str]]] = {
    "check-arch": lambda arch, tmp: ["check-arch", arch],
    "map": lambda arch, tmp: ["map", "--arch", arch, "--model", "resnet32_pcm", "--out", str(tmp / "map")],
    "timing": lambda arch, tmp: ["timing", "--arch", arch, "--model", "resnet32_pcm", "--duration", "1ms"],
}


def test_corpus_is_large_enough_and_starts_from_valid_files() -> None:
    assert len(ARCH_FILES) >= 20 and len(SCENARIO_FILES) >= 15
    load_chip(BAD_INPUTS / "valid_arch.toml")
    spec = load_scenario(BAD_INPUTS / "valid_scenario.toml")
    assert spec.n_images == 10 and spec.checkpoints == ("resnet32_pcm_fmnist_hwa",)


@pytest.mark.parametrize("command", sorted(ARCH_COMMANDS))
@pytest.mark.parametrize("path", ARCH_FILES, ids=lambda p: p.stem)
def test_bad_architecture_file(
    path: Path, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ARCH_COMMANDS[command](str(path), tmp_path)
    _run_case(Case(argv, _expected(path), tmp_path / "map"), capsys)


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.stem)
def test_bad_scenario_file(path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "trace"
    _run_case(Case(["run", str(path), "--quick", "--out", str(out)], _expected(path), out), capsys)


# ---- generated architecture inputs --------------------------------------------------------------------


def _arch_empty(tmp: Path) -> Case:
    path = tmp / "empty.toml"
    path.write_bytes(b"")
    return Case(["check-arch", str(path)], [str(path), "missing key 'name'"])


def _arch_binary(tmp: Path) -> Case:
    path = tmp / "garbage.toml"
    path.write_bytes(bytes(range(256)) * 8)
    return Case(["check-arch", str(path)], [str(path), "not UTF-8"])


def _arch_directory(tmp: Path) -> Case:
    path = tmp / "chip.toml"
    path.mkdir()
    return Case(["check-arch", str(path)], [str(path), "is a directory, not a regular file"])


def _arch_missing(tmp: Path) -> Case:
    path = tmp / "nope.toml"
    return Case(
        ["map", "--arch", str(path), "--out", str(tmp / "map")], [str(path), "not found"], tmp / "map"
    )


def _arch_unknown_name(tmp: Path) -> Case:
    return Case(["timing", "--arch", "hermes_65"], ["hermes_65", "no such file or architecture", "tiny_4"])


def _map_does_not_fit(tmp: Path) -> Case:
    arch = str(ARCHITECTURES / "tiny_4.toml")
    argv = ["map", "--arch", arch, "--model", "resnet18", "--out", str(tmp / "map")]
    return Case(argv, [arch, "resnet18", "'dense' placement needs", "would fit"], tmp / "map")


def _timing_does_not_fit(tmp: Path) -> Case:
    arch = str(ARCHITECTURES / "tiny_4.toml")
    return Case(["timing", "--arch", arch, "--model", "resnet18"], [arch, "resnet18", "placement needs"])


ARCH_CASES: dict[str, Builder] = {
    "empty_file": _arch_empty,
    "binary_garbage": _arch_binary,
    "directory": _arch_directory,
    "missing_file": _arch_missing,
    "unknown_name": _arch_unknown_name,
    "map_does_not_fit": _map_does_not_fit,
    "timing_does_not_fit": _timing_does_not_fit,
}

# ---- checkpoints: corrupted copies of the shipped hardware-aware one ------------------------------------


def _copy_checkpoint(tmp: Path) -> Path:
    base = tmp / "ckpt" / "model"
    base.parent.mkdir()
    shutil.copy(SHIPPED.with_suffix(".json"), base.with_suffix(".json"))
    shutil.copy(SHIPPED.with_suffix(".safetensors"), base.with_suffix(".safetensors"))
    return base


def _edit_tensors(base: Path, edit: Callable[[dict[str, torch.Tensor]], object]) -> None:
    tensors = load_file(str(base.with_suffix(".safetensors")))
    edit(tensors)
    save_file(tensors, str(base.with_suffix(".safetensors")))


def _edit_card(base: Path, edit: Callable[[dict[str, Any]], object]) -> None:
    card = json.loads(base.with_suffix(".json").read_text())
    edit(card)
    base.with_suffix(".json").write_text(json.dumps(card))


class _Canary:
    """Unpickling this creates a file: proof that a loader unpickled what it was given."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.path), "w"))


def _ck_truncated(base: Path) -> list[str]:
    weights = base.with_suffix(".safetensors")
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    return [str(weights), "corrupt safetensors"]


def _ck_truncated_header(base: Path) -> list[str]:
    weights = base.with_suffix(".safetensors")
    weights.write_bytes(weights.read_bytes()[:5])
    return [str(weights), "corrupt safetensors"]


def _ck_empty_weights(base: Path) -> list[str]:
    base.with_suffix(".safetensors").write_bytes(b"")
    return [str(base.with_suffix(".safetensors")), "corrupt safetensors"]


def _ck_wrong_shape(base: Path) -> list[str]:
    _edit_tensors(base, lambda t: t.update({"conv1.weight": torch.zeros(3, 3)}))
    return [str(base.with_suffix(".safetensors")), "conv1.weight", "[3, 3]"]


def _ck_missing_tensor(base: Path) -> list[str]:
    _edit_tensors(base, lambda t: t.pop("fc.bias"))
    return [str(base.with_suffix(".safetensors")), "fc.bias"]


def _ck_unexpected_tensor(base: Path) -> list[str]:
    _edit_tensors(base, lambda t: t.update({"fc.scale": torch.ones(10)}))
    return [str(base.with_suffix(".safetensors")), "fc.scale"]


def _ck_integer_weights(base: Path) -> list[str]:
    _edit_tensors(base, lambda t: t.update({"fc.weight": t["fc.weight"].to(torch.int32)}))
    return [str(base.with_suffix(".safetensors")), "'fc.weight'", "torch.int32"]


def _ck_nan_weights(base: Path) -> list[str]:
    def poison(tensors: dict[str, torch.Tensor]) -> None:
        tensors["conv1.weight"] = tensors["conv1.weight"].clone()
        tensors["conv1.weight"][0, 0, 0, 0] = float("nan")

    _edit_tensors(base, poison)
    return [str(base.with_suffix(".safetensors")), "'conv1.weight'", "NaN"]


def _ck_torch_pickle(base: Path) -> list[str]:
    torch.save({"fc.weight": torch.zeros(10, 56)}, base.with_suffix(".safetensors"))
    return [str(base.with_suffix(".safetensors")), "corrupt safetensors"]


def _ck_pickle_canary(base: Path) -> list[str]:
    base.with_suffix(".safetensors").write_bytes(pickle.dumps(_Canary(base.parent / "unpickled")))
    return [str(base.with_suffix(".safetensors")), "corrupt safetensors"]


def _ck_card_not_json(base: Path) -> list[str]:
    base.with_suffix(".json").write_text('{"model": ')
    return [str(base.with_suffix(".json")), "not valid JSON"]


def _ck_card_binary(base: Path) -> list[str]:
    base.with_suffix(".json").write_bytes(b"\xff\xfe\x00\x01")
    return [str(base.with_suffix(".json")), "not UTF-8"]


def _ck_card_is_list(base: Path) -> list[str]:
    base.with_suffix(".json").write_text("[1, 2]")
    return [str(base.with_suffix(".json")), "JSON object", "list"]


def _ck_card_without_model(base: Path) -> list[str]:
    _edit_card(base, lambda c: c.pop("model"))
    return [str(base.with_suffix(".json")), "'model'"]


def _ck_card_without_dataset(base: Path) -> list[str]:
    _edit_card(base, lambda c: c.pop("dataset"))
    return [str(base.with_suffix(".json")), "'dataset'"]


def _ck_card_unknown_arch(base: Path) -> list[str]:
    _edit_card(base, lambda c: c["model"].update(arch="vgg"))
    return [str(base.with_suffix(".json")), "'model'", "arch(='vgg')"]


def _ck_card_unknown_depth(base: Path) -> list[str]:
    _edit_card(base, lambda c: c["model"].update(depth=33))
    return [str(base.with_suffix(".json")), "'model'", "depth(=33)"]


def _ck_card_model_is_string(base: Path) -> list[str]:
    _edit_card(base, lambda c: c.update(model="resnet32"))
    return [str(base.with_suffix(".json")), "'model'", "'resnet32'"]


def _ck_card_other_channels(base: Path) -> list[str]:
    # The card says RGB input; the weights were trained on grey images.
    _edit_card(base, lambda c: c["model"].update(in_channels=3))
    return [str(base.with_suffix(".safetensors")), "conv1.weight", "[16, 1, 3, 3]"]


def _ck_card_other_dataset(base: Path) -> list[str]:
    _edit_card(base, lambda c: c.update(dataset="cifar10"))
    return [str(base), "'cifar10'"]


def _ck_weights_missing(base: Path) -> list[str]:
    base.with_suffix(".safetensors").unlink()
    return [str(base.with_suffix(".safetensors")), "not found"]


def _ck_card_missing(base: Path) -> list[str]:
    base.with_suffix(".json").unlink()
    return [str(base.with_suffix(".json")), "not found"]


def _ck_both_missing(base: Path) -> list[str]:
    shutil.rmtree(base.parent)
    return [str(base.with_suffix(".json")), "not found"]


CHECKPOINT_FAULTS: dict[str, Callable[[Path], list[str]]] = {
    "truncated_safetensors": _ck_truncated,
    "truncated_header": _ck_truncated_header,
    "empty_safetensors": _ck_empty_weights,
    "wrong_tensor_shape": _ck_wrong_shape,
    "missing_tensor": _ck_missing_tensor,
    "unexpected_tensor": _ck_unexpected_tensor,
    "integer_weights": _ck_integer_weights,
    "nan_weights": _ck_nan_weights,
    "torch_pickle_renamed": _ck_torch_pickle,
    "pickle_renamed": _ck_pickle_canary,
    "card_not_json": _ck_card_not_json,
    "card_binary": _ck_card_binary,
    "card_is_list": _ck_card_is_list,
    "card_without_model": _ck_card_without_model,
    "card_without_dataset": _ck_card_without_dataset,
    "card_unknown_arch": _ck_card_unknown_arch,
    "card_unknown_depth": _ck_card_unknown_depth,
    "card_model_is_string": _ck_card_model_is_string,
    "card_other_in_channels": _ck_card_other_channels,
    "card_other_dataset": _ck_card_other_dataset,
    "weights_missing": _ck_weights_missing,
    "card_missing": _ck_card_missing,
    "both_missing": _ck_both_missing,
}

_EVALUATE_SMALL = ["--n-images", "10", "--seeds", "1", "--ages", "1h", "--policies", "none"]

CHECKPOINT_COMMANDS: dict[str, Callable[[Path], list[str]]] = {
    "accuracy": lambda base: ["accuracy", str(base.with_suffix(".safetensors"))],
    "evaluate": lambda base: ["evaluate", "--checkpoint", str(base), *_EVALUATE_SMALL],
}


def test_the_copied_checkpoint_loads(tmp_path: Path) -> None:
    _, card = load_checkpoint(_copy_checkpoint(tmp_path))
    assert card["dataset"] == "fashion-mnist"


@pytest.mark.parametrize("command", sorted(CHECKPOINT_COMMANDS))
@pytest.mark.parametrize("fault", sorted(CHECKPOINT_FAULTS))
def test_bad_checkpoint(fault: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = _copy_checkpoint(tmp_path)
    expect = CHECKPOINT_FAULTS[fault](base)
    _run_case(Case(CHECKPOINT_COMMANDS[command](base), expect), capsys)
    assert not (base.parent / "unpickled").exists()  # the pickle canary was never unpickled


def test_unknown_checkpoint_name_lists_the_shipped_ones(capsys: pytest.CaptureFixture[str]) -> None:
    case = Case(
        ["accuracy", "resnet99"], ["resnet99.json", "not a shipped checkpoint", "resnet32_pcm_fmnist_hwa"]
    )
    _run_case(case, capsys)


# ---- Fashion-MNIST IDX folders -------------------------------------------------------------------------

_IMAGES = "t10k-images-idx3-ubyte"
_LABELS = "t10k-labels-idx1-ubyte"
_N = 20


def _idx(magic: int, dims: tuple[int, ...], data: bytes) -> bytes:
    """An IDX file: big-endian magic, dimension sizes, then the bytes."""
    return magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims) + data


def _idx_dir(tmp: Path, images: bytes | None = None, labels: bytes | None = None) -> Path:
    """A folder of valid IDX test files (``_N`` blank images, labels 0..9), either one replaced."""
    folder = tmp / "fmnist"
    folder.mkdir()
    if images is None:
        images = _idx(0x803, (_N, 28, 28), bytes(_N * 28 * 28))
    if labels is None:
        labels = _idx(0x801, (_N,), bytes(i % 10 for i in range(_N)))
    (folder / _IMAGES).write_bytes(images)
    (folder / _LABELS).write_bytes(labels)
    return folder


def _data_case(folder: Path, *expect: str) -> Case:
    return Case(["accuracy", "resnet32_pcm_fmnist_hwa", "--data-dir", str(folder)], list(expect))


def _ds_missing_dir(tmp: Path) -> Case:
    return _data_case(tmp / "nope", str(tmp / "nope"), "no such")


def _ds_file_not_dir(tmp: Path) -> Case:
    (tmp / "file").write_text("x")
    return _data_case(tmp / "file", str(tmp / "file"), "no such")


def _ds_images_missing(tmp: Path) -> Case:
    folder = _idx_dir(tmp)
    (folder / _IMAGES).unlink()
    return _data_case(folder, str(folder / _IMAGES), "not found")


def _ds_labels_missing(tmp: Path) -> Case:
    folder = _idx_dir(tmp)
    (folder / _LABELS).unlink()
    return _data_case(folder, str(folder / _LABELS), "not found")


def _ds_images_bad_magic(tmp: Path) -> Case:
    folder = _idx_dir(tmp, images=_idx(0x801, (_N, 28, 28), bytes(_N * 28 * 28)))
    return _data_case(folder, str(folder / _IMAGES), "magic number 0x00000801", "0x00000803")


def _ds_labels_bad_magic(tmp: Path) -> Case:
    folder = _idx_dir(tmp, labels=_idx(0x803, (_N,), bytes(_N)))
    return _data_case(folder, str(folder / _LABELS), "magic number 0x00000803")


def _ds_images_truncated(tmp: Path) -> Case:
    folder = _idx_dir(tmp, images=_idx(0x803, (_N, 28, 28), bytes((_N - 1) * 28 * 28)))
    return _data_case(folder, str(folder / _IMAGES), "bytes, expected")


def _ds_header_truncated(tmp: Path) -> Case:
    folder = _idx_dir(tmp, images=b"\x00\x00\x08")
    return _data_case(folder, str(folder / _IMAGES), "3 bytes", "header")


def _ds_images_too_long(tmp: Path) -> Case:
    folder = _idx_dir(tmp, images=_idx(0x803, (_N, 28, 28), bytes((_N + 1) * 28 * 28)))
    return _data_case(folder, str(folder / _IMAGES), "bytes, expected")


def _ds_label_out_of_range(tmp: Path) -> Case:
    folder = _idx_dir(tmp, labels=_idx(0x801, (_N,), bytes([3] * (_N - 1) + [10])))
    return _data_case(folder, str(folder / _LABELS), "label 10")


def _ds_count_mismatch(tmp: Path) -> Case:
    folder = _idx_dir(tmp, labels=_idx(0x801, (_N - 1,), bytes(_N - 1)))
    return _data_case(folder, str(folder / _IMAGES), f"{_N} images", f"{_N - 1} labels")


def _ds_wrong_image_size(tmp: Path) -> Case:
    folder = _idx_dir(tmp, images=_idx(0x803, (_N, 32, 32), bytes(_N * 32 * 32)))
    return _data_case(folder, str(folder / _IMAGES), "(32, 32)")


def _ds_no_images(tmp: Path) -> Case:
    folder = _idx_dir(tmp, images=_idx(0x803, (0, 28, 28), b""), labels=_idx(0x801, (0,), b""))
    return _data_case(folder, str(folder / _IMAGES), "no images")


def _ds_corrupt_gzip(tmp: Path) -> Case:
    folder = _idx_dir(tmp)
    (folder / _IMAGES).rename(folder / f"{_IMAGES}.gz")
    return _data_case(folder, str(folder / f"{_IMAGES}.gz"), "corrupt gzip")


def _ds_images_is_dir(tmp: Path) -> Case:
    folder = _idx_dir(tmp)
    (folder / _IMAGES).unlink()
    (folder / _IMAGES).mkdir()
    return _data_case(folder, str(folder / _IMAGES), "is a directory, not a regular file")


DATA_CASES: dict[str, Builder] = {
    "missing_dir": _ds_missing_dir,
    "file_not_dir": _ds_file_not_dir,
    "images_missing": _ds_images_missing,
    "labels_missing": _ds_labels_missing,
    "images_bad_magic": _ds_images_bad_magic,
    "labels_bad_magic": _ds_labels_bad_magic,
    "images_truncated": _ds_images_truncated,
    "header_truncated": _ds_header_truncated,
    "images_too_long": _ds_images_too_long,
    "label_out_of_range": _ds_label_out_of_range,
    "count_mismatch": _ds_count_mismatch,
    "wrong_image_size": _ds_wrong_image_size,
    "no_images": _ds_no_images,
    "corrupt_gzip": _ds_corrupt_gzip,
    "images_file_is_dir": _ds_images_is_dir,
}


def test_the_generated_idx_folder_loads(tmp_path: Path) -> None:
    data = load_fashion_mnist("test", _idx_dir(tmp_path))
    assert len(data) == _N and data.images.shape == (_N, 1, 32, 32)


# ---- trace directories -----------------------------------------------------------------------------------


def _rows(table: str, cell: str) -> list[dict[str, Any]]:
    """Two rows of ``table`` with a value of the right type in every column."""
    rows = []
    for i in range(2):
        row: dict[str, Any] = {}
        for field in SCHEMAS[table]:
            if field.name == "cell":
                row[field.name] = cell
            elif field.name == "kind":
                row[field.name] = EVENT_KINDS[0]
            elif field.name == "task":
                row[field.name] = TASKS[0]
            elif pa.types.is_dictionary(field.type):
                row[field.name] = f"{field.name}{i}"
            elif pa.types.is_integer(field.type):
                row[field.name] = i + 1
            else:
                row[field.name] = 0.5 + i
        rows.append(row)
    return rows


def _trace(tmp: Path) -> Path:
    """A complete trace directory with one cell in every table (no mapping table)."""
    root = tmp / "trace"
    manifest = {"trace_version": 1, "scenario": {"name": "t", "arch": "tiny_4"}, "seeds": [0]}
    writer = TraceWriter(root, manifest)
    for table in SCHEMAS:
        writer.write_part(table, "c0", _rows(table, "c0"))
    writer.finish(wall_s=1.0)
    return root


def _trace_case(tmp: Path, root: Path, *expect: str) -> Case:
    return Case(["report", str(root), "--out", str(tmp / "report")], list(expect), tmp / "report")


def _edit_manifest(root: Path, edit: Callable[[dict[str, Any]], object]) -> Path:
    path = root / "manifest.json"
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))
    return path


def _tr_missing_dir(tmp: Path) -> Case:
    return _trace_case(tmp, tmp / "nope", str(tmp / "nope"), "no such trace directory")


def _tr_file_not_dir(tmp: Path) -> Case:
    (tmp / "file").write_text("x")
    return _trace_case(tmp, tmp / "file", str(tmp / "file"), "no such trace directory")


def _tr_no_manifest(tmp: Path) -> Case:
    root = _trace(tmp)
    (root / "manifest.json").unlink()
    return _trace_case(tmp, root, str(root / "manifest.json"), "no manifest")


def _tr_manifest_not_json(tmp: Path) -> Case:
    root = _trace(tmp)
    (root / "manifest.json").write_text('{"trace_version": 1,')
    return _trace_case(tmp, root, str(root / "manifest.json"), "not valid JSON")


def _tr_manifest_binary(tmp: Path) -> Case:
    root = _trace(tmp)
    (root / "manifest.json").write_bytes(b"\xff\xfe\x00")
    return _trace_case(tmp, root, str(root / "manifest.json"), "not UTF-8")


def _tr_manifest_is_list(tmp: Path) -> Case:
    root = _trace(tmp)
    (root / "manifest.json").write_text("[]")
    return _trace_case(tmp, root, str(root / "manifest.json"), "JSON list")


def _tr_no_trace_version(tmp: Path) -> Case:
    path = _edit_manifest(_trace(tmp), lambda m: m.pop("trace_version"))
    return _trace_case(tmp, path.parent, str(path), "'trace_version'")


def _tr_wrong_trace_version(tmp: Path) -> Case:
    path = _edit_manifest(_trace(tmp), lambda m: m.update(trace_version=2))
    return _trace_case(tmp, path.parent, str(path), "trace_version 2")


def _tr_part_not_parquet(tmp: Path) -> Case:
    root = _trace(tmp)
    (root / "probes" / "c0.parquet").write_text("not parquet")
    return _trace_case(tmp, root, str(root / "probes" / "c0.parquet"), "not a readable Parquet part")


def _tr_part_truncated(tmp: Path) -> Case:
    part = _trace(tmp) / "cells" / "c0.parquet"
    part.write_bytes(part.read_bytes()[:100])
    return _trace_case(tmp, part.parents[1], str(part), "not a readable Parquet part")


def _tr_part_schema_version(tmp: Path) -> Case:
    part = _trace(tmp) / "probes" / "c0.parquet"
    table = pq.read_table(part)
    pq.write_table(table.replace_schema_metadata({**table.schema.metadata, b"schema_version": b"99"}), part)
    return _trace_case(tmp, part.parents[1], str(part), "schema_version '99'")


def _tr_part_of_other_table(tmp: Path) -> Case:
    root = _trace(tmp)
    shutil.copy(root / "cells" / "c0.parquet", root / "probes" / "c0.parquet")
    return _trace_case(tmp, root, str(root / "probes" / "c0.parquet"), "table 'cells'", "'probes'")


def _tr_part_lacks_column(tmp: Path) -> Case:
    part = _trace(tmp) / "cells" / "c0.parquet"
    table = pq.read_table(part)
    last = table.column_names[-1]
    pq.write_table(table.drop_columns([last]).replace_schema_metadata(table.schema.metadata), part)
    return _trace_case(tmp, part.parents[1], str(part), f"lacks column {last!r}")


def _tr_mapping_not_parquet(tmp: Path) -> Case:
    root = _trace(tmp)
    (root / "mapping.parquet").write_text("x")
    return _trace_case(tmp, root, str(root / "mapping.parquet"), "cannot read the mapping table")


def _timeline_case(tmp: Path, root: Path, *expect: str) -> Case:
    return Case(["export-timeline", str(root), "--out", str(tmp / "timeline.json")], list(expect))


def _tr_detail_not_parquet(tmp: Path) -> Case:
    part = _trace(tmp) / "detail" / "c0.parquet"
    part.write_text("not parquet")
    return _timeline_case(tmp, part.parents[1], str(part), "not a readable Parquet part")


def _tr_detail_truncated(tmp: Path) -> Case:
    part = _trace(tmp) / "detail" / "c0.parquet"
    part.write_bytes(part.read_bytes()[:100])
    return _timeline_case(tmp, part.parents[1], str(part), "not a readable Parquet part")


def _tr_detail_of_other_table(tmp: Path) -> Case:
    root = _trace(tmp)
    shutil.copy(root / "events" / "c0.parquet", root / "detail" / "c0.parquet")
    return _timeline_case(tmp, root, str(root / "detail" / "c0.parquet"), "table 'events'", "'detail'")


def _tr_detail_lacks_column(tmp: Path) -> Case:
    part = _trace(tmp) / "detail" / "c0.parquet"
    table = pq.read_table(part)
    pq.write_table(table.drop_columns(["hops"]).replace_schema_metadata(table.schema.metadata), part)
    return _timeline_case(tmp, part.parents[1], str(part), "lacks column 'hops'")


def _tr_nothing_to_report(tmp: Path) -> Case:
    root = _trace(tmp)
    for table in SCHEMAS:
        shutil.rmtree(root / table)
    return _trace_case(tmp, root, str(root), "nothing to report")


TRACE_CASES: dict[str, Builder] = {
    "missing_dir": _tr_missing_dir,
    "file_not_dir": _tr_file_not_dir,
    "no_manifest": _tr_no_manifest,
    "manifest_not_json": _tr_manifest_not_json,
    "manifest_binary": _tr_manifest_binary,
    "manifest_is_list": _tr_manifest_is_list,
    "no_trace_version": _tr_no_trace_version,
    "wrong_trace_version": _tr_wrong_trace_version,
    "part_not_parquet": _tr_part_not_parquet,
    "part_truncated": _tr_part_truncated,
    "part_wrong_schema_version": _tr_part_schema_version,
    "part_of_other_table": _tr_part_of_other_table,
    "part_lacks_column": _tr_part_lacks_column,
    "mapping_not_parquet": _tr_mapping_not_parquet,
    "nothing_to_report": _tr_nothing_to_report,
    "detail_not_parquet": _tr_detail_not_parquet,
    "detail_truncated": _tr_detail_truncated,
    "detail_of_other_table": _tr_detail_of_other_table,
    "detail_lacks_column": _tr_detail_lacks_column,
}


def test_the_generated_trace_reads(tmp_path: Path) -> None:
    root = _trace(tmp_path)
    assert read_manifest(root)["status"] == "complete"
    assert all(read_table(root, table).num_rows == 2 for table in SCHEMAS)


# ---- command-line arguments: refused while parsing, before anything is loaded -----------------------------

_TRAIN = ["train", "--out", "{tmp}/train", "--name", "n"]
_CUDA_99 = "device(='cuda:99')"  # "CUDA is not available" or "has N CUDA device(s)", by machine

ARGUMENT_CASES: dict[str, tuple[list[str], list[str]]] = {
    # top level
    "no_command": ([], ["required: command"]),
    "unknown_command": (["evaluat"], ["invalid choice: 'evaluat'"]),
    "unknown_option": (["evaluate", "--bitz", "4"], ["unrecognized arguments: --bitz 4"]),
    # check-arch
    "arch_empty_file": (["check-arch", ""], ["file(='') must be a name or a path"]),
    # summary
    "summary_seed_word": (["summary", "--seed", "x"], ["--seed", "seed(='x') must be an integer in 0.."]),
    "summary_seed_negative": (["summary", "--seed", "-1"], ["--seed", "seed(=-1) must be in 0.."]),
    "summary_seed_huge": (["summary", "--seed", str(2**63)], ["seed(=9223372036854775808) must be in 0.."]),
    "summary_arch_empty": (["summary", "--arch", ""], ["--arch", "arch(='') must be a name or a path"]),
    # train
    "train_epochs_zero": ([*_TRAIN, "--epochs", "0"], ["--epochs", "epochs(=0) must be in 1.."]),
    "train_epochs_float": ([*_TRAIN, "--epochs", "1.5"], ["epochs(='1.5') must be an integer in 1.."]),
    "train_batch_negative": ([*_TRAIN, "--batch-size", "-1"], ["batch_size(=-1) must be in 1.."]),
    "train_lr_zero": ([*_TRAIN, "--lr", "0"], ["--lr", "lr(=0.0) must be a finite number > 0"]),
    "train_lr_nan": ([*_TRAIN, "--lr", "nan"], ["lr(=nan) must be a finite number > 0"]),
    "train_lr_inf": ([*_TRAIN, "--lr", "inf"], ["lr(=inf) must be a finite number > 0"]),
    "train_lr_word": ([*_TRAIN, "--lr", "fast"], ["lr(='fast') must be a finite number > 0"]),
    "train_warmup_negative": ([*_TRAIN, "--warmup-epochs", "-1"], ["warmup_epochs(=-1.0) must be a finite"]),
    "train_weight_decay_negative": ([*_TRAIN, "--weight-decay=-1e-4"], ["weight_decay(=-0.0001) must be"]),
    "train_eta_negative": ([*_TRAIN, "--eta", "-0.1"], ["eta(=-0.1) must be a finite number >= 0"]),
    "train_alpha_zero": ([*_TRAIN, "--alpha", "0"], ["alpha(=0.0) must be a finite number > 0"]),
    "train_quantise_bits_low": ([*_TRAIN, "--quantise-bits", "1"], ["quantise_bits(=1) must be in 2..16"]),
    "train_quantise_bits_high": ([*_TRAIN, "--quantise-bits", "17"], ["quantise_bits(=17) must be in 2..16"]),
    "train_crop_pad_negative": ([*_TRAIN, "--crop-pad", "-1"], ["crop_pad(=-1) must be in 0.."]),
    "train_seed_word": ([*_TRAIN, "--seed", "x"], ["seed(='x') must be an integer"]),
    "train_device_unknown": ([*_TRAIN, "--device", "gpu"], ["device(='gpu') must be a torch device"]),
    "train_device_garbled": ([*_TRAIN, "--device", "cuda:x"], ["device(='cuda:x') must be a torch device"]),
    "train_device_meta": (
        [*_TRAIN, "--device", "meta"],
        ["device(='meta') must be cpu, cuda, cuda:N or mps"],
    ),
    "train_device_absent": ([*_TRAIN, "--device", "cuda:99"], [_CUDA_99]),
    "train_model_unknown": ([*_TRAIN, "--model", "resnet99"], ["--model", "unknown model 'resnet99'"]),
    "train_dataset_unknown": ([*_TRAIN, "--dataset", "mnist"], ["--dataset", "invalid choice: 'mnist'"]),
    "train_name_with_folder": (
        ["train", "--out", "{tmp}/t", "--name", "a/b"],
        ["name(='a/b') must be a file"],
    ),
    "train_name_empty": (["train", "--out", "{tmp}/t", "--name", ""], ["name(='') must be a file name"]),
    "train_name_dotdot": (["train", "--out", "{tmp}/t", "--name", ".."], ["name(='..') must be a file name"]),
    "train_out_empty": (["train", "--out", "", "--name", "n"], ["--out", "out(='') must be a path"]),
    "train_without_out": (["train", "--name", "n"], ["the following arguments are required: --out"]),
    "train_init_from_empty": ([*_TRAIN, "--init-from", ""], ["init_from(='') must be a name or a path"]),
    "train_cifar_without_data": ([*_TRAIN, "--dataset", "cifar10"], ["cifar10 needs --data-dir"]),
    # accuracy
    "accuracy_empty_checkpoint": (["accuracy", ""], ["checkpoint(='') must be a name or a path"]),
    "accuracy_checkpoint_is_root": (
        ["accuracy", "/"],
        ["checkpoint '/': not a checkpoint name or file path"],
    ),
    "accuracy_data_dir_empty": (["accuracy", "resnet32_pcm_fmnist_hwa", "--data-dir", ""], ["data_dir(='')"]),
    # evaluate
    "evaluate_bits_word": (
        ["evaluate", "--bits", "abc"],
        ["--bits", "bits(='abc') must be an integer in 1..16"],
    ),
    "evaluate_bits_zero": (["evaluate", "--bits", "0"], ["bits(=0) must be in 1..16 or 'none'"]),
    "evaluate_bits_high": (["evaluate", "--bits", "17"], ["bits(=17) must be in 1..16"]),
    "evaluate_bits_float": (["evaluate", "--bits", "4.5"], ["bits(='4.5') must be an integer"]),
    "evaluate_ages_empty": (
        ["evaluate", "--ages", ""],
        ["--ages", "ages(='') must be a comma-separated list"],
    ),
    "evaluate_ages_empty_item": (
        ["evaluate", "--ages", "1h,,1d"],
        ["ages(='1h,,1d')", "without empty items"],
    ),
    "evaluate_ages_repeated": (["evaluate", "--ages", "1h,3600s"], ["ages(='1h,3600s') lists '3600s' twice"]),
    "evaluate_age_minutes": (["evaluate", "--ages", "10m"], ["age(='10m')", "'m' is ambiguous"]),
    "evaluate_age_negative": (["evaluate", "--ages=-1h"], ["age(='-1h') must not be negative"]),
    "evaluate_age_nan": (["evaluate", "--ages", "nan"], ["age(='nan') must be a number and a unit"]),
    "evaluate_age_inf": (["evaluate", "--ages", "1h,inf"], ["age(='inf') must be a number and a unit"]),
    "evaluate_age_unit": (["evaluate", "--ages", "1 fortnight"], ["age(='1 fortnight')"]),
    "evaluate_age_too_long": (["evaluate", "--ages", "1000y"], ["age(='1000y') must be at most"]),
    "evaluate_device_unknown": (
        ["evaluate", "--device", "gpu"],
        ["--device", "device(='gpu') must be a torch"],
    ),
    "evaluate_device_absent": (["evaluate", "--device", "cuda:99"], ["--device", _CUDA_99]),
    "run_device_absent": (
        ["run", "day_retention", "--device", "cuda:99"],
        ["chiptwin run", "--device", _CUDA_99],
    ),
    "evaluate_policies_empty": (["evaluate", "--policies", ""], ["policies(='') must be a comma-separated"]),
    "evaluate_policy_unknown": (["evaluate", "--policies", "gdc,magic"], ["policy(='magic') must be one of"]),
    "evaluate_policy_repeated": (["evaluate", "--policies", "gdc,gdc"], ["lists 'gdc' twice"]),
    "evaluate_seeds_zero": (["evaluate", "--seeds", "0"], ["--seeds", "seeds(=0) must be in 1.."]),
    "evaluate_seeds_negative": (["evaluate", "--seeds", "-2"], ["seeds(=-2) must be in 1.."]),
    "evaluate_headroom_zero": (
        ["evaluate", "--headroom", "0"],
        ["headroom(=0.0) must be a finite number > 0"],
    ),
    "evaluate_headroom_nan": (["evaluate", "--headroom", "nan"], ["headroom(=nan)", "<= 100"]),
    "evaluate_headroom_high": (["evaluate", "--headroom", "101"], ["headroom(=101.0)", "<= 100"]),
    "evaluate_n_images_zero": (["evaluate", "--n-images", "0"], ["n_images(=0) must be in 1.."]),
    "evaluate_n_adabs_zero": (["evaluate", "--n-adabs", "0"], ["n_adabs(=0) must be in 1.."]),
    "evaluate_batch_size_word": (
        ["evaluate", "--batch-size", "big"],
        ["batch_size(='big') must be an integer"],
    ),
    "evaluate_strategy_unknown": (["evaluate", "--strategy", "magic"], ["strategy(='magic') must be one of"]),
    "evaluate_checkpoint_empty": (
        ["evaluate", "--checkpoint", ""],
        ["checkpoint(='') must be a name or a path"],
    ),
    "evaluate_arch_empty": (["evaluate", "--arch", ""], ["arch(='') must be a name or a path"]),
    "evaluate_data_dir_empty": (["evaluate", "--data-dir", ""], ["data_dir(='') must be a path"]),
    "evaluate_weights_only_no_policy": (
        ["evaluate", "--weights-only", "--policies", "gdc+adabs"],
        ["--weights-only drops AdaBS"],
    ),
    "evaluate_weights_only_bits": (["evaluate", "--weights-only", "--bits", "4"], ["--bits(=4) conflicts"]),
    # map
    "map_model_unknown": (["map", "--model", "resnet99", "--out", "{tmp}/map"], ["unknown model 'resnet99'"]),
    "map_strategy_unknown": (
        ["map", "--strategy", "x", "--out", "{tmp}/map"],
        ["strategy(='x') must be one"],
    ),
    "map_in_channels_word": (["map", "--in-channels", "x", "--out", "{tmp}/map"], ["in_channels(='x')"]),
    "map_in_channels_zero": (
        ["map", "--in-channels", "0", "--out", "{tmp}/map"],
        ["in_channels(=0) must be"],
    ),
    "map_arch_empty": (["map", "--arch", "", "--out", "{tmp}/map"], ["arch(='') must be a name or a path"]),
    "map_out_empty": (["map", "--out", ""], ["out(='') must be a path"]),
    # timing
    "timing_rate_zero": (
        ["timing", "--rate", "0"],
        ["--rate", "rate_per_s(=0.0) must be a finite number >= 3.17098e-10"],
    ),
    "timing_rate_negative": (
        ["timing", "--rate", "-5"],
        ["rate_per_s(=-5.0) must be a finite number >= 3.17098e-10"],
    ),
    "timing_rate_nan": (["timing", "--rate", "nan"], ["rate_per_s(=nan)"]),
    "timing_rate_inf": (["timing", "--rate", "inf"], ["rate_per_s(=inf)"]),
    "timing_rate_word": (["timing", "--rate", "fast"], ["rate_per_s(='fast')"]),
    "timing_duration_zero": (["timing", "--duration", "0s"], ["duration(='0s') must be at least 1 ns"]),
    "timing_duration_sub_ns": (
        ["timing", "--duration", "0.4ns"],
        ["duration(='0.4ns') must be at least 1 ns"],
    ),
    "timing_duration_negative": (["timing", "--duration=-1s"], ["duration(='-1s') must not be negative"]),
    "timing_duration_empty": (["timing", "--duration", ""], ["duration(='') must be a number and a unit"]),
    "timing_duration_nan": (
        ["timing", "--duration", "nan"],
        ["duration(='nan') must be a number and a unit"],
    ),
    "timing_duration_unit": (["timing", "--duration", "5 parsecs"], ["duration(='5 parsecs')"]),
    "timing_duration_minutes": (["timing", "--duration", "1m"], ["'m' is ambiguous"]),
    "timing_duration_too_long": (["timing", "--duration", "300y"], ["duration(='300y') must be at most"]),
    "timing_on_zero": (["timing", "--on", "0ms"], ["--on", "on(='0ms') must be at least 1 ns"]),
    "timing_off_negative": (["timing", "--off=-1ms"], ["--off", "off(='-1ms') must not be negative"]),
    "timing_period_zero": (["timing", "--period", "0h"], ["--period", "period(='0h') must be at least 1 ns"]),
    "timing_period_word": (["timing", "--period", "hourly"], ["period(='hourly') must be a number"]),
    "timing_seed_negative": (["timing", "--seed", "-1"], ["seed(=-1) must be in 0.."]),
    "timing_in_channels_zero": (["timing", "--in-channels", "0"], ["in_channels(=0) must be in 1.."]),
    "timing_adabs_images_zero": (["timing", "--adabs-images", "0"], ["adabs_images(=0) must be in 1.."]),
    "timing_gdc_reads_zero": (["timing", "--gdc-reads", "0"], ["gdc_reads_per_block(=0) must be in 1.."]),
    "timing_layers_zero": (["timing", "--layers", "0"], ["layers(=0) must be in 1.."]),
    "timing_model_unknown": (["timing", "--model", "vgg"], ["unknown model 'vgg'"]),
    "timing_strategy_unknown": (["timing", "--strategy", "magic"], ["strategy(='magic') must be one of"]),
    "timing_workload_unknown": (["timing", "--workload", "steady"], ["invalid choice: 'steady'"]),
    "timing_mode_unknown": (["timing", "--mode", "fast"], ["invalid choice: 'fast'"]),
    "timing_policy_unknown": (["timing", "--policy", "adabs"], ["invalid choice: 'adabs'"]),
    "timing_replay_empty": (["timing", "--replay", ""], ["replay(='') must be a path"]),
    # run
    "run_scenario_empty": (["run", "", "--out", "{tmp}/run"], ["scenario(='') must be a name or a path"]),
    "run_seeds_zero": (["run", "faults", "--seeds", "0", "--out", "{tmp}/run"], ["seeds(=0) must be in 1.."]),
    "run_n_images_zero": (["run", "faults", "--n-images", "0", "--out", "{tmp}/run"], ["n_images(=0)"]),
    "run_threads_zero": (["run", "faults", "--threads", "0", "--out", "{tmp}/run"], ["threads(=0) must be"]),
    "run_quick_and_full": (
        ["run", "faults", "--quick", "--full"],
        ["--full: not allowed with argument --quick"],
    ),
    "run_out_empty": (["run", "faults", "--out", ""], ["out(='') must be a path"]),
    # report
    "report_trace_dir_empty": (["report", ""], ["trace_dir(='') must be a path"]),
    "report_out_empty": (["report", "{tmp}", "--out", ""], ["out(='') must be a path"]),
    # sweep
    "sweep_file_empty": (["sweep", "", "--out", "{tmp}/sweep"], ["file(='') must be a name or a path"]),
    "sweep_workers_zero": (["sweep", "x.toml", "--workers", "0"], ["workers(=0) must be in 1.."]),
    "sweep_scheduler_no_port": (["sweep", "x.toml", "--scheduler", "localhost"], ["scheduler(='localhost')"]),
    "sweep_scheduler_bad_port": (["sweep", "x.toml", "--scheduler", "tcp://h:99999"], ["scheduler("]),
    "sweep_out_empty": (["sweep", "x.toml", "--out", ""], ["out(='') must be a path"]),
}


@pytest.mark.parametrize("name", sorted(ARGUMENT_CASES))
def test_bad_argument(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv, expect = ARGUMENT_CASES[name]
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    _run_case(Case(argv, expect, tmp_path), capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # refused before anything was written


# ---- the generated cases, one test id each ---------------------------------------------------------------

GENERATED = [
    pytest.param(builder, id=f"{kind}-{name}")
    for kind, cases in (("arch", ARCH_CASES), ("data", DATA_CASES), ("trace", TRACE_CASES))
    for name, builder in cases.items()
]


@pytest.mark.parametrize("build", GENERATED)
def test_bad_generated_input(build: Builder, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _run_case(build(tmp_path), capsys)
