"""Program a trained model onto a chip: every analog layer becomes an :class:`AnalogLayer`.

``program_chip`` copies the model, replaces each Conv2d and Linear by its programmed crossbar blocks
(as the mapping split them), calibrates the converter ranges on calibration images right after
programming (the ADC full scale per block is ``adc.range_headroom`` times the largest output seen),
takes the GDC reference read, and returns an :class:`AnalogChip` whose forward pass runs at any device
age. Optional faults (stuck devices, ADC gain and offset errors) are drawn at programming from their own
seeds, so the programming noise of a chip is the same with and without them. Batch-norm, ReLU, residual
adds and pooling stay the model's own modules: the tiles' digital units compute them exactly.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from chiptwin.device.noise import NoiseModel
from chiptwin.errors import DeviceError, MappingError
from chiptwin.functional.analog_layer import AnalogLayer, BlockRange, RowGroup, unrolled_weight
from chiptwin.functional.calibration import calibrate_converters
from chiptwin.functional.context import ChipContext
from chiptwin.functional.torch_device import check_torch_device
from chiptwin.mapping.placement import BlockPlacement
from chiptwin.mapping.placement import Mapping as ChipMapping
from chiptwin.seeding import derive_seed
from chiptwin.spec.chip import ChipSpec
from chiptwin.spec.faults import FaultSpec

__all__ = [
    "AnalogChip",
    "ConverterBits",
    "blocks_from_mapping",
    "placed_block",
    "program_chip",
    "whole_layer_blocks",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConverterBits:
    """Converter resolutions of a run; None switches a converter's quantisation off."""

    dac_bits: int | None
    adc_bits: int | None
    headroom: float = 1.0
    """Extra calibration headroom of this run: the DAC input range and the ADC full scale are this many
    times what the calibration images showed (on top of ``adc.range_headroom``). Above 1, test data
    beyond the calibration images' largest values is not clipped, at the cost of resolution."""

    def __post_init__(self) -> None:
        if not (isinstance(self.headroom, (int, float)) and 0 < self.headroom <= 100):
            raise DeviceError(f"headroom(={self.headroom!r}) must be in (0, 100]")

    @classmethod
    def of(cls, chip: ChipSpec, headroom: float = 1.0) -> ConverterBits:
        """The chip's own DAC and ADC resolutions (None for a converter the chip file calls ideal)."""
        return cls(
            dac_bits=None if chip.dac.ideal else chip.dac.bits,
            adc_bits=None if chip.adc.ideal else chip.adc.bits,
            headroom=headroom,
        )


def whole_layer_blocks(model: nn.Module) -> dict[str, list[BlockRange]]:
    """One block per analog layer (an unlimited crossbar): the weights-only view of other simulators."""
    blocks = {}
    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            rows, cols = unrolled_weight(m).shape
            blocks[name] = [BlockRange(0, rows, 0, cols)]
    return blocks


def placed_block(p: BlockPlacement) -> BlockRange:
    """The crossbar block (rows, columns, replica) one placement holds."""
    b = p.block
    return BlockRange(b.row_start, b.row_stop, b.col_start, b.col_stop, p.replica)


def blocks_from_mapping(mapping: ChipMapping) -> dict[str, list[BlockRange]]:
    """The crossbar blocks of every analog layer in a mapping, one per placed replica."""
    blocks: dict[str, list[BlockRange]] = {}
    for p in mapping.placements:
        blocks.setdefault(p.block.layer, []).append(placed_block(p))
    return blocks


class AnalogChip(nn.Module):
    """A programmed chip: the model with analog layers, and the age its devices have reached."""

    def __init__(self, model: nn.Module, ctx: ChipContext, layers: dict[str, AnalogLayer]) -> None:
        super().__init__()
        self.model = model
        self.ctx = ctx
        self.layers = layers
        self._programmed_bn = _bn_state(model)

    @property
    def state_bytes(self) -> int:
        """Persistent state of every programmed device, bytes."""
        return sum(g.state_bytes for layer in self.layers.values() for g in layer.row_groups)

    @property
    def age_s(self) -> float:
        return self.ctx.age_s

    @property
    def torch_device(self) -> torch.device:
        """The torch device the chip was programmed on (``program_chip(device=...)``): its state and
        random generators live there, and its inputs must too."""
        return self.ctx.read_generator.device

    @property
    def input_range(self) -> str:
        """How the DACs' full scale is set (the chip file's ``[dac] input_range``): ``calibrated`` or
        ``per_vector`` (:data:`chiptwin.spec.chip.INPUT_RANGES`)."""
        return self.ctx.input_range

    def set_age(self, age_s: float) -> None:
        """Advance (or set) the device age, s. Compensation state is kept as it is.

        Raises:
            DeviceError: ``age_s`` is negative, NaN or infinite.
        """
        if not (isinstance(age_s, int | float) and math.isfinite(age_s) and age_s >= 0):
            raise DeviceError(f"age_s(={age_s!r}) must be a finite number >= 0")
        self.ctx.age_s = float(age_s)

    def _group_block(self, layer: str, block: BlockRange) -> tuple[RowGroup, int]:
        if layer not in self.layers:
            raise MappingError(f"no analog layer {layer!r} on this chip")
        for group in self.layers[layer].row_groups:
            if (group.replica, group.row_start, group.row_stop) == (
                block.replica,
                block.row_start,
                block.row_stop,
            ):
                return group, group.block_index(block.col_start, block.col_stop)
        raise MappingError(
            f"layer {layer!r} has no block with rows [{block.row_start}, {block.row_stop}) "
            f"on replica {block.replica}"
        )

    def fail_blocks(self, blocks: Iterable[tuple[str, BlockRange]]) -> None:
        """The tile holding these ``(layer, block)`` pairs died: they read 0 until reprogrammed."""
        for layer, block in blocks:
            group, index = self._group_block(layer, block)
            group.crossbar.kill(*group.col_blocks[index])

    def reprogram_blocks(self, blocks: Iterable[tuple[str, BlockRange]], seed: int) -> int:
        """Program these blocks afresh on a spare tile at the current age; returns the devices programmed.

        Each block draws from ``derive_seed(seed, "reprogram-block", layer, row_start, col_start)`` (with
        ``replica`` appended for replicas other than 0).
        """
        devices = 0
        for layer, block in blocks:
            group, index = self._group_block(layer, block)
            key: tuple[object, ...] = (layer, block.row_start, block.col_start)
            key += (block.replica,) if block.replica else ()
            generator = _generator(group.beta.device, seed, "reprogram-block", *key)
            weights = self.layers[layer].weights[group.row_start : group.row_stop]
            devices += group.reprogram_block(index, weights, generator, self.ctx)
        return devices

    def restore_programmed_bn(self) -> None:
        """Put back the batch-norm statistics the model had when it was programmed (undo AdaBS)."""
        self.model.load_state_dict(self._programmed_bn, strict=False)

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


def _bn_state(model: nn.Module) -> dict[str, Tensor]:
    return {
        k: v.detach().clone()
        for k, v in model.state_dict().items()
        if k.endswith(("running_mean", "running_var", "num_batches_tracked"))
    }


@torch.no_grad()
def program_chip(
    model: nn.Module,
    chip: ChipSpec,
    blocks: Mapping[str, list[BlockRange]],
    noise: NoiseModel,
    seed: int,
    calibration: Iterable[Tensor],
    *,
    bits: ConverterBits | None = None,
    device: torch.device | str = "cpu",
    faults: FaultSpec | None = None,
    fault_seed: int | None = None,
    inherit: tuple[AnalogChip, float] | None = None,
) -> AnalogChip:
    """Program ``model`` onto crossbar blocks and calibrate the chip right after programming (age ``t0``).

    Args:
        model: trained model (left untouched; the chip holds a copy).
        chip: chip spec (device model and its parameters, devices per weight, converters).
        blocks: per analog layer (module qualified name), the crossbar blocks of its unrolled weight, one
            set per replica (:func:`blocks_from_mapping`).
        noise: device model (:func:`chiptwin.device.noise_model` of ``chip``, or ``IdealNoiseModel``).
        seed: programming seed; replica 0 of layer ``name`` draws from ``derive_seed(seed, "program",
            name)``, replica ``k > 0`` from ``derive_seed(seed, "program", name, "replica", k)``.
        calibration: normalised input batches for the DAC/ADC range calibration
            (:func:`~chiptwin.functional.calibration.calibrate_converters`, two passes).
        bits: converter resolutions (default: the chip's).
        device: torch device of the programmed state (checked by :func:`check_torch_device`): every
            tensor of the chip and its random generators live there, and its forward pass takes inputs on
            it (:attr:`AnalogChip.torch_device`).
        faults: stuck devices and ADC errors (default None: none). Each row group of layer ``name`` draws
            its device faults from ``derive_seed(fault_seed, "faults", name, row_start)`` and its column
            ADCs from ``derive_seed(fault_seed, "faults", name, row_start, "adc")`` (``"replica", k``
            before ``"adc"`` and at the end for replicas ``k > 0``), before the calibration (which sees
            the stuck devices). None or an all-zero spec draws nothing, so the chip is bit-identical to
            one programmed without faults.
        fault_seed: seed of the fault draws (default: ``seed``). Faults belong to the silicon, not to a
            programming: a chip reprogrammed with a new ``seed`` keeps its faults with the same
            ``fault_seed``.
        inherit: ``(old chip, seconds since it was programmed)``: program the same silicon again. The new
            chip takes the old one's stuck devices (failure times moved to the new device age), dead
            tiles and ADC errors instead of drawing faults; ``faults`` is then not used.

    Raises:
        MappingError: an analog layer has no blocks, or its blocks do not tile its weight matrix, or the
            inherited chip has another mapping.
        UsageError: ``device`` is not a torch device this machine has.
    """
    bits = bits or ConverterBits.of(chip)
    device = check_torch_device(device)
    fault_seed = seed if fault_seed is None else fault_seed
    copy_ = copy.deepcopy(model).to(device).eval()
    ctx = ChipContext(
        age_s=chip.device.t0_s,
        read_generator=_generator(device, seed, "read"),
        dac_bits=bits.dac_bits,
        adc_bits=bits.adc_bits,
        gdc_read=chip.gdc.read,
        output_noise=chip.adc.output_noise,
        input_range=chip.dac.input_range,
    )
    layers: dict[str, AnalogLayer] = {}
    for name, module in list(copy_.named_modules()):
        if not isinstance(module, (nn.Conv2d, nn.Linear)):
            continue
        if name not in blocks:
            raise MappingError(f"analog layer {name!r} has no crossbar blocks in the mapping")
        replicas = 1 + max(b.replica for b in blocks[name])
        layer = AnalogLayer(
            module,
            blocks[name],
            ctx,
            noise,
            g_max_usiemens=chip.device.g_max_usiemens,
            g_min_usiemens=chip.device.g_min_usiemens,
            weight_scale=chip.device.weight_scale,
            devices_per_polarity=chip.tiles.devices_per_weight // 2,
            generators=[
                _generator(device, seed, "program", name, *(("replica", k) if k else ()))
                for k in range(replicas)
            ],
        )
        if inherit is None and faults is not None and (faults.has_device_faults or faults.has_adc_faults):
            for group in layer.row_groups:
                replica = ("replica", group.replica) if group.replica else ()
                key = (fault_seed, "faults", name, group.row_start)
                if faults.has_device_faults:
                    group.crossbar.add_faults(faults, _generator(device, *key, *replica))
                if faults.has_adc_faults:
                    group.add_adc_faults(faults, _generator(device, *key, *replica, "adc"))
        if name:
            _replace(copy_, name, layer)
        else:  # the model is a single Conv2d or Linear
            copy_ = layer
        layers[name] = layer
    if inherit is not None:
        _inherit_faults(layers, *inherit)
    calibrate_converters(
        copy_,
        list(layers.values()),
        [batch.to(device) for batch in calibration],
        adc_headroom=chip.adc.range_headroom,
        run_headroom=bits.headroom,
    )
    for layer in layers.values():
        for group in layer.row_groups:
            group.gdc_reference = group.calibration_response(ctx)
    return AnalogChip(copy_, ctx, layers)


def _inherit_faults(layers: dict[str, AnalogLayer], old: AnalogChip, elapsed_s: float) -> None:
    """Give the new chip's row groups the old chip's faults (the same silicon, reprogrammed)."""
    if set(old.layers) != set(layers):
        raise MappingError(f"cannot inherit faults: layers {sorted(old.layers)} differ from {sorted(layers)}")
    for name, layer in layers.items():
        new_groups, old_groups = layer.row_groups, old.layers[name].row_groups
        shapes = [(g.replica, g.row_start, g.row_stop, g.col_blocks) for g in new_groups]
        if shapes != [(g.replica, g.row_start, g.row_stop, g.col_blocks) for g in old_groups]:
            raise MappingError(f"cannot inherit faults: layer {name!r} has other blocks than the old chip")
        for new, prev in zip(new_groups, old_groups, strict=True):
            new.crossbar.carry_faults(prev.crossbar, elapsed_s)
            new.adc_gain, new.adc_offset = prev.adc_gain, prev.adc_offset


def _generator(device: torch.device, seed: int, *key: object) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(derive_seed(seed, *key))


def _replace(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, new)
