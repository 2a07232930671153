"""Chip specification: loading, validation and the nominal figures, against hand arithmetic."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from chiptwin.errors import SpecError
from chiptwin.spec.chip import ChipSpec, GDCSpec, TileSpec, describe_chip
from chiptwin.spec.figures import chip_figures, mvm_energy_pj, mvm_time_ns
from chiptwin.spec.load import chip_from_dict, load_chip
from chiptwin.spec.pcm import PCMSpec

ARCH_DIR = Path(__file__).resolve().parents[2] / "architectures"
ARCH_FILES = sorted(ARCH_DIR.glob("*.toml"))


def test_architectures_folder_has_the_reference_files() -> None:
    assert {p.stem for p in ARCH_FILES} >= {"hermes_64", "joshi2020", "large_512", "tiny_4"}


def test_joshi2020_is_the_papers_configuration() -> None:
    chip = load_chip(ARCH_DIR / "joshi2020.toml")
    # Joshi 2020: two PCM devices per weight, one per polarity; the published device fit at 25 µS.
    assert (chip.tiles.devices_per_weight, chip.tiles.pair_layout) == (2, "columns")
    assert chip.pcm == PCMSpec()
    # MVMs on read-back conductances: no converter in the MVM; the GDC read does not cancel.
    assert chip.dac.ideal and chip.adc.ideal and chip.gdc.read == "polarities"
    # One block per ResNet-32 layer (one scale per layer): the largest, 56 x 3 x 3 -> 56, fits a crossbar.
    assert chip.tiles.weight_rows >= 56 * 9 and chip.tiles.weight_cols >= 56
    assert describe_chip(chip).startswith(
        "joshi2020: 2 PCM devices per weight (columns), ideal DAC / ideal ADC"
    )
    # Old chip files stay valid: [gdc], dac.ideal and adc.ideal are optional.
    hermes = load_chip(ARCH_DIR / "hermes_64.toml")
    assert not hermes.dac.ideal and hermes.gdc == GDCSpec()


@pytest.mark.parametrize("path", ARCH_FILES, ids=lambda p: p.stem)
def test_every_architecture_file_loads(path: Path) -> None:
    chip = load_chip(path)
    assert chip.name == path.stem
    assert chip.tiles.count <= chip.noc.mesh_rows * chip.noc.mesh_cols


def test_hermes_matches_published_figures() -> None:
    chip = load_chip(ARCH_DIR / "hermes_64.toml")
    f = chip_figures(chip)
    # 100 ns integration + 1 column x 30 ns conversion.
    assert f.mvm_time_ns == pytest.approx(130.0)
    # 256*256 MACs x 0.1 pJ + 256 rows x 6 pJ + 256 conversions x 20.6 pJ = 6553.6 + 1536 + 5273.6 pJ.
    assert f.mvm_energy_pj == pytest.approx(13363.2)
    # 2 * 65536 ops / 13363.2 pJ = 9.808 TOPS/W; Le Gallo 2023 reports 9.76 at 8 bits (within 10 %).
    assert f.tops_per_watt == pytest.approx(9.808, abs=1e-3)
    assert f.tops_per_watt == pytest.approx(9.76, rel=0.10)
    # 64 tiles x 131072 ops / 130 ns = 64.53 TOPS; Le Gallo 2023: 63.1 TOPS.
    assert f.peak_tops == pytest.approx(64.528, abs=1e-3)
    assert f.weights == 64 * 256 * 256
    assert f.devices == 4 * f.weights


def test_tiny_figures_by_hand() -> None:
    chip = load_chip(ARCH_DIR / "tiny_4.toml")
    # 64 bit lines, 2 devices per weight on adjacent columns: 64 x 32 weights per tile.
    assert (chip.tiles.weight_rows, chip.tiles.weight_cols) == (64, 32)
    # 10 ns integration + 4 columns per ADC x 2 ns.
    assert mvm_time_ns(chip) == 18.0
    # 64*32 MACs x 1 pJ + 64 rows x 1 pJ + 32 conversions x 2 pJ = 2048 + 64 + 64.
    assert mvm_energy_pj(chip) == 2176.0
    assert mvm_energy_pj(chip, rows=9, cols=16) == 9 * 16 + 9 + 2 * 16


def test_pair_layouts_count_weights() -> None:
    assert (TileSpec(rows=64, cols=64, devices_per_weight=2, pair_layout="rows").weight_rows) == 32
    cell = TileSpec(rows=64, cols=64, devices_per_weight=4, pair_layout="unit_cell")
    assert (cell.weight_rows, cell.weight_cols, cell.devices_per_tile) == (64, 64, 64 * 64 * 4)


def test_defaults_are_hermes() -> None:
    # Except the optional output noise, whose default is a noiseless periphery (tests compute by hand).
    hermes = load_chip(ARCH_DIR / "hermes_64.toml")
    assert hermes.adc.output_noise == 0.04
    assert dataclasses.replace(hermes, adc=dataclasses.replace(hermes.adc, output_noise=0.0)) == ChipSpec()


def test_pcm_table_is_optional_and_defaults_to_joshi() -> None:
    data = tomllib.loads((ARCH_DIR / "tiny_4.toml").read_text())
    assert "pcm" not in data
    assert chip_from_dict(data).pcm == PCMSpec()


def test_specs_are_frozen() -> None:
    chip = ChipSpec()
    with pytest.raises(dataclasses.FrozenInstanceError):
        chip.tiles.rows = 1  # type: ignore[misc]


def _hermes() -> dict:
    return tomllib.loads((ARCH_DIR / "hermes_64.toml").read_text())


BAD = [
    # (description, mutation, expected fragment of the message)
    ("unknown section", lambda d: d.update(bogus={}), "unknown key 'bogus'"),
    ("unknown key", lambda d: d["tiles"].update(colums=3), "unknown key 'tiles.colums'"),
    ("missing key", lambda d: d["adc"].pop("bits"), "missing key 'adc.bits'"),
    ("missing table", lambda d: d.pop("noc"), "missing table [noc]"),
    ("missing top-level", lambda d: d.pop("name"), "missing key 'name'"),
    ("wrong type", lambda d: d["tiles"].update(rows="256"), "key 'tiles.rows' must be an integer"),
    ("bool as int", lambda d: d["tiles"].update(count=True), "key 'tiles.count' must be an integer"),
    ("float as int", lambda d: d["adc"].update(bits=8.0), "key 'adc.bits' must be an integer"),
    ("table as value", lambda d: d.update(tiles=3), "key 'tiles' must be a table"),
    ("zero rows", lambda d: d["tiles"].update(rows=0), "tiles.rows(=0) must be in 1..8,192"),
    ("negative energy", lambda d: d["adc"].update(energy_per_conversion_pj=-1.0), "(=-1.0) must be >= 0"),
    (
        "adc headroom 0",
        lambda d: d["adc"].update(range_headroom=0.0),
        "adc.range_headroom(=0.0) must be in (0, 100]",
    ),
    (
        "adc headroom nan",
        lambda d: d["adc"].update(range_headroom=float("nan")),
        "'adc.range_headroom' must be a finite",
    ),
    ("adc bits 0", lambda d: d["adc"].update(bits=0), "adc.bits(=0) must be in 1..16"),
    ("adc bits 17", lambda d: d["adc"].update(bits=17), "adc.bits(=17) must be in 1..16"),
    ("dac bits 17", lambda d: d["dac"].update(bits=17), "dac.bits(=17) must be in 1..16"),
    ("g_max zero", lambda d: d["pcm"].update(g_max_usiemens=0.0), "pcm.g_max_usiemens(=0.0) must be > 0"),
    (
        "g_max negative",
        lambda d: d["pcm"].update(g_max_usiemens=-25.0),
        "pcm.g_max_usiemens(=-25.0) must be > 0",
    ),
    ("odd devices", lambda d: d["tiles"].update(devices_per_weight=3), "tiles.devices_per_weight(=3)"),
    ("bad layout", lambda d: d["tiles"].update(pair_layout="diagonal"), "tiles.pair_layout('diagonal')"),
    ("too many tiles", lambda d: d["tiles"].update(count=65), "tiles.count(=65) must be <= noc.mesh_rows"),
    ("zero bandwidth", lambda d: d["noc"].update(link_bandwidth_bytes_per_ns=0), "must be > 0"),
    ("zero iterations", lambda d: d["programming"].update(iterations=0), "programming.iterations(=0)"),
    ("bad scale", lambda d: d["pcm"].update(weight_scale="row"), "pcm.weight_scale(='row')"),
    ("mu bounds", lambda d: d["pcm"].update(drift_mu_min=0.2), "pcm.drift_mu_min(=0.2) must be <="),
    ("negative static", lambda d: d.update(static_power_mw=-1), "static_power_mw(=-1.0) must be >= 0"),
]


@pytest.mark.parametrize("desc, mutate, fragment", BAD, ids=[b[0] for b in BAD])
def test_bad_values_raise_spec_error_naming_key_and_value(
    tmp_path: Path, desc: str, mutate, fragment: str
) -> None:
    data = _hermes()
    mutate(data)
    path = tmp_path / "bad.toml"
    path.write_text(_to_toml(data))
    with pytest.raises(SpecError) as info:
        load_chip(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert fragment.replace("('", "(='") in message
    assert "\n" not in message


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.toml"
    bad.write_text("name = \n[tiles")
    with pytest.raises(SpecError, match=r"broken\.toml: not valid TOML"):
        load_chip(bad)
    with pytest.raises(SpecError, match=r"nowhere\.toml: chip file not found"):
        load_chip(tmp_path / "nowhere.toml")


def _to_toml(data: dict) -> str:
    # Minimal writer for the flat two-level architecture files (tomllib only reads).
    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return f'"{v}"'
        return repr(v)

    lines = [f"{k} = {value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for k, v in data.items():
        if isinstance(v, dict):
            lines.append(f"[{k}]")
            lines += [f"{kk} = {value(vv)}" for kk, vv in v.items()]
    return "\n".join(lines) + "\n"
