"""Chip specification: loading, validation and the nominal figures, against hand arithmetic."""

from __future__ import annotations

import dataclasses
import itertools
import tomllib
from pathlib import Path

import pytest

from chiptwin.errors import SpecError
from chiptwin.shipped import shipped_dir
from chiptwin.spec.chip import ChipSpec, GDCSpec, TileSpec, describe_chip
from chiptwin.spec.figures import chip_area, chip_figures, mvm_cost, mvm_energy_pj, mvm_time_ns
from chiptwin.spec.load import apply_overrides, chip_from_dict, figure_sources, load_chip
from chiptwin.spec.pcm import PCMSpec

ARCH_DIR = shipped_dir("architectures")
ARCH_FILES = sorted(ARCH_DIR.glob("*.toml"))


def test_architectures_folder_has_the_reference_files() -> None:
    assert {p.stem for p in ARCH_FILES} >= {"hermes_64", "joshi2020", "large_512", "tiny_4"}


def test_joshi2020_is_the_papers_configuration() -> None:
    chip = load_chip(ARCH_DIR / "joshi2020.toml")
    # Joshi 2020: two PCM devices per weight, one per polarity; the published device fit at 25 µS.
    assert (chip.tiles.devices_per_weight, chip.tiles.pair_layout) == (2, "columns")
    assert chip.device == PCMSpec()
    # MVMs on read-back conductances: no converter in the MVM; the GDC read does not cancel.
    assert chip.dac.ideal and chip.adc.ideal and chip.gdc.read == "polarities"
    # One block per ResNet-32 layer (one scale per layer): the largest, 56 x 3 x 3 -> 56, fits a crossbar.
    assert chip.tiles.weight_rows >= 56 * 9 and chip.tiles.weight_cols >= 56
    assert describe_chip(chip).startswith(
        "joshi2020: 2 pcm_joshi2020 devices per weight (columns), ideal DAC / ideal ADC"
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
    # max(128 ns of 8-bit PWM at 1 ns/LSB, 2^8 x 0.3 ns of CCO counting during it) x 1 column x 1 phase.
    assert f.mvm_time_ns == pytest.approx(128.0)
    # 256*256 MACs x 0.1 pJ + 256 rows x 6 pJ + 256 conversions x 20.6 pJ = 6553.6 + 1536 + 5273.6 pJ.
    assert f.mvm_energy_pj == pytest.approx(13363.2)
    # 2 * 65536 ops / 13363.2 pJ = 9.808 TOPS/W; Le Gallo 2023 reports 9.76 at 8 bits (within 10 %).
    assert f.tops_per_watt == pytest.approx(9.808, abs=1e-3)
    assert f.tops_per_watt == pytest.approx(9.76, rel=0.10)
    # 64 tiles x 131072 ops / 128 ns = 65.54 TOPS; Le Gallo 2023: 63.1 TOPS (132.9 ns per MVM).
    assert f.peak_tops == pytest.approx(65.536, abs=1e-3)
    # One tile: 256 x 256 cells x 4 um2 + 256 x 50 um2 + 256 ADCs x 600 um2 + 0.15 + 0.04 mm2 = 0.6188 mm2;
    # 64 of them 39.60 mm2; 65.536 / 39.60 = 1.655 TOPS/mm2 (HERMES-core reports 1.59 at core level).
    assert f.area_mm2 == pytest.approx(64 * (0.262144 + 0.0128 + 0.1536 + 0.15 + 0.04))
    assert f.tops_per_mm2 == pytest.approx(1.59, rel=0.10)
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
    assert chip_from_dict(data).device == PCMSpec()


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
    with pytest.raises(SpecError, match=r"broken\.toml: chip file is not valid TOML"):
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


def _with(chip: ChipSpec, **sections: dict[str, object]) -> ChipSpec:
    return dataclasses.replace(
        chip, **{name: dataclasses.replace(getattr(chip, name), **kw) for name, kw in sections.items()}
    )


def test_converter_laws_by_hand() -> None:
    hermes = load_chip(ARCH_DIR / "hermes_64.toml")
    assert (hermes.dac.figures_at_bits, hermes.adc.figures_at_bits) == (8, 8)
    # 6-bit PWM: 2^5 LSB of 1 ns = 32 ns (a quarter of 128 ns), row and array energy a quarter too.
    six = mvm_cost(_with(hermes, dac={"bits": 6}))
    assert (six.integration_ns, six.dac_pj_per_row, six.array_fj_per_mac) == (32.0, 1.5, 25.0)
    # A 10-bit counting ADC: 2^10 x 0.3 ns = 307.2 ns, longer than the 128-ns window it counts in.
    ten = _with(hermes, adc={"bits": 10})
    assert mvm_cost(ten).conversion_ns == pytest.approx(307.2) and mvm_time_ns(ten) == pytest.approx(307.2)
    # Energy (2^10 + 4^10 / 2^10) / (2^8 + 4^8 / 2^10) = 2048 / 320 = 6.4 times the 8-bit 20.6 pJ.
    assert mvm_cost(ten).adc_pj_per_column == pytest.approx(20.6 * 6.4)
    # A SAR ADC's time grows with bits, not 2^bits: 10/8 of 76.8 ns, still inside the window.
    sar = _with(hermes, adc={"bits": 10, "time_law": "sar"})
    assert mvm_cost(sar).conversion_ns == pytest.approx(96.0) and mvm_time_ns(sar) == 128.0
    # Sample-and-hold instead of counting during the window: 128 + 76.8 ns.
    assert mvm_time_ns(_with(hermes, adc={"converts_during_integration": False})) == pytest.approx(204.8)
    # Two columns per ADC: two windows; four-phase: four of everything.
    assert mvm_time_ns(_with(hermes, adc={"columns_per_adc": 2})) == 256.0
    four = _with(hermes, tiles={"read_mode": "four_phase"})
    assert mvm_time_ns(four) == 512.0 and mvm_energy_pj(four) == pytest.approx(4 * 13363.2)


def test_an_override_of_bits_keeps_the_files_anchor() -> None:
    hermes = load_chip(ARCH_DIR / "hermes_64.toml")
    six = apply_overrides(hermes, {"adc.bits": 6, "dac.bits": 6}, ARCH_DIR / "hermes_64.toml")
    assert (six.adc.figures_at_bits, six.dac.figures_at_bits) == (8, 8)
    assert mvm_time_ns(six) == 32.0  # 2^5 ns window; 2^6 x 0.3 = 19.2 ns of counting inside it
    data = tomllib.loads((ARCH_DIR / "tiny_4.toml").read_text())
    assert "figures_at_bits" not in data["adc"] and chip_from_dict(data).adc.figures_at_bits == 8


@pytest.mark.parametrize("law", ["counting", "sar"])
def test_adc_bits_move_time_energy_and_area_the_way_physics_says(law: str) -> None:
    hermes = _with(load_chip(ARCH_DIR / "hermes_64.toml"), adc={"time_law": law})
    chips = [_with(hermes, adc={"bits": b}) for b in range(4, 11)]
    times = [mvm_time_ns(c) for c in chips]
    energies = [mvm_energy_pj(c) for c in chips]
    areas = [chip_area(c).total_mm2 for c in chips]
    assert all(b > a for a, b in itertools.pairwise(energies))  # more bits: more energy per conversion
    assert all(b > a for a, b in itertools.pairwise(areas))  # ... and a larger converter
    assert all(b >= a for a, b in itertools.pairwise(times))  # ... never faster
    assert times[-1] > times[0] or law == "sar"  # a counting ADC outgrows the 128-ns window at 9 bits
    sequential = [mvm_time_ns(_with(c, adc={"converts_during_integration": False})) for c in chips]
    assert all(b > a for a, b in itertools.pairwise(sequential))  # after the window: every bit costs time


@pytest.mark.parametrize(
    ("section", "key", "value", "expect"),
    [
        ("tiles", "read_mode", "two_phase", "tiles.read_mode(='two_phase') must be one of"),
        ("tiles", "cell_area_um2", -4.0, "tiles.cell_area_um2(=-4.0) must be > 0"),
        ("adc", "area_um2", -1.0, "adc.area_um2(=-1.0) must be >= 0"),
        ("adc", "time_law", "flash", "adc.time_law(='flash') must be one of ('counting', 'sar')"),
        ("adc", "figures_at_bits", 17, "adc.figures_at_bits(=17) must be in 1..16"),
        ("adc", "thermal_corner_bits", 0.5, "adc.thermal_corner_bits(=0.5) must be in [1, 24]"),
        ("dac", "figures_at_bits", -1, "dac.figures_at_bits(=-1) must be in 1..16"),
    ],
)
def test_bad_cost_model_values(section: str, key: str, value: object, expect: str) -> None:
    data = tomllib.loads((ARCH_DIR / "hermes_64.toml").read_text())
    data[section][key] = value
    with pytest.raises(SpecError) as err:
        chip_from_dict(data)
    assert expect in str(err.value)


def test_figure_sources_count_the_files_own_words(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    text = (ARCH_DIR / "tiny_4.toml").read_text()
    path.write_text(text)
    before = figure_sources(path)
    lines = [ln for ln in text.splitlines() if ln.startswith("rows")]
    path.write_text(text.replace(lines[0], lines[0].split("#")[0].rstrip() + "  # Le Gallo 2023"))
    after = figure_sources(path)
    assert after.figures == before.figures and len(after.assumed) == len(before.assumed) - 1
    assert "tiles.rows" in before.assumed and "tiles.rows" not in after.assumed
