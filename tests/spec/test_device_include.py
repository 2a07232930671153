"""A chip file's device tables from their own file: ``[device] include = "..."`` (issue 17, section 2)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chiptwin.errors import SpecError
from chiptwin.shipped import shipped_dir
from chiptwin.spec.load import load_chip, load_device_table
from chiptwin.spec.pcm import PCMSpec
from chiptwin.spec.rram import RRAMSpec

ARCH = shipped_dir("architectures") / "hermes_64.toml"

TABLE = """[device]
model = "pcm_joshi2020"

[pcm]
g_max_usiemens = 30.0
drift_mu_min = 0.05
"""


def _chip_with(tmp_path: Path, device: str, *, drop_pcm: bool = True) -> Path:
    """hermes_64 with its ``[pcm]`` table removed (if ``drop_pcm``) and ``device`` appended."""
    text = ARCH.read_text(encoding="utf-8")
    if drop_pcm:
        text = re.sub(r"\n\[pcm\]\n(?:[^\[]*\n)", "\n", text)
        assert "[pcm]" not in text
    chip = tmp_path / "chip.toml"
    chip.write_text(text + "\n" + device, encoding="utf-8")
    return chip


def test_an_included_table_sets_the_device_constants(tmp_path: Path) -> None:
    (tmp_path / "fits").mkdir()
    (tmp_path / "fits" / "dev.toml").write_text(TABLE, encoding="utf-8")
    chip = load_chip(_chip_with(tmp_path, '[device]\ninclude = "fits/dev.toml"\n'))
    assert chip.device == PCMSpec(g_max_usiemens=30.0, drift_mu_min=0.05)


def test_the_chip_file_may_add_keys_the_table_does_not_set(tmp_path: Path) -> None:
    (tmp_path / "dev.toml").write_text(TABLE, encoding="utf-8")
    text = '[device]\nmodel = "pcm_joshi2020"\ninclude = "dev.toml"\n\n[pcm]\nweight_scale = "column"\n'
    chip = load_chip(_chip_with(tmp_path, text))
    assert chip.device == PCMSpec(g_max_usiemens=30.0, drift_mu_min=0.05, weight_scale="column")


def test_a_key_set_in_both_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "dev.toml").write_text(TABLE, encoding="utf-8")
    path = _chip_with(tmp_path, '[device]\ninclude = "dev.toml"\n\n[pcm]\ng_max_usiemens = 25.0\n')
    with pytest.raises(SpecError, match=r"chip.toml: key 'pcm.g_max_usiemens' is set both .*dev\.toml"):
        load_chip(path)


def test_another_model_than_the_tables_is_refused(tmp_path: Path) -> None:
    (tmp_path / "dev.toml").write_text(TABLE, encoding="utf-8")
    path = _chip_with(tmp_path, '[device]\nmodel = "rram_cmo_falcone2025"\ninclude = "dev.toml"\n')
    with pytest.raises(SpecError, match=r"device.model\(='rram_cmo_falcone2025'\) differs .*'pcm_joshi2020'"):
        load_chip(path)


def test_an_rram_table_can_be_included(tmp_path: Path) -> None:
    (tmp_path / "dev.toml").write_text(
        '[device]\nmodel = "rram_cmo_falcone2025"\n\n[rram]\ng_max_usiemens = 80.0\n', encoding="utf-8"
    )
    chip = load_chip(_chip_with(tmp_path, '[device]\ninclude = "dev.toml"\n'))
    assert chip.device == RRAMSpec(g_max_usiemens=80.0)


@pytest.mark.parametrize(
    ("table", "expect"),
    [
        (None, "dev.toml: device table not found"),
        ("[device]\ninclude = 'other.toml'\n", "dev.toml: device.include: a device table includes no other"),
        ("[tiles]\nrows = 3\n", "dev.toml: unknown key 'tiles' (a device table holds [device]"),
        ("[pcm]\ng_max_usiemens = -1.0\n", "dev.toml: pcm.g_max_usiemens(=-1.0) must be > 0"),
        ("[pcm]\ndrift_mu_min = 'x'\n", "dev.toml: key 'pcm.drift_mu_min' must be a number"),
        ("[pcm\n", "dev.toml: device table is not valid TOML"),
    ],
)
def test_a_bad_device_table_is_named_in_the_error(tmp_path: Path, table: str | None, expect: str) -> None:
    if table is not None:
        (tmp_path / "dev.toml").write_text(table, encoding="utf-8")
    path = _chip_with(tmp_path, '[device]\ninclude = "dev.toml"\n')
    with pytest.raises(SpecError) as info:
        load_chip(path)
    assert str(info.value).startswith(f"{path}: {tmp_path / 'dev.toml'}")
    assert expect in str(info.value)


def test_include_must_be_a_string(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"key 'device.include' must be a string, got 3"):
        load_chip(_chip_with(tmp_path, "[device]\ninclude = 3\n"))


def test_a_device_table_loads_alone(tmp_path: Path) -> None:
    (tmp_path / "dev.toml").write_text(TABLE, encoding="utf-8")
    assert load_device_table(tmp_path / "dev.toml")["pcm"]["drift_mu_min"] == 0.05
