"""The mapping table's rows of a mapping: one :class:`MappingRecord` per placed block replica."""

from __future__ import annotations

from chiptwin.mapping import Mapping, replica_share
from chiptwin.spec.chip import ChipSpec
from chiptwin.trace.mapping_table import MappingRecord

__all__ = ["mapping_records"]


def mapping_records(mapping: Mapping, chip: ChipSpec, kinds: dict[str, str]) -> list[MappingRecord]:
    """Flatten a mapping into mapping-table rows (``kinds``: layer name -> ``conv``/``linear``)."""
    order = {name: i for i, name in enumerate(dict.fromkeys(b.layer for b in mapping.blocks))}
    records = []
    for p in mapping.placements:
        b, replicas = p.block, mapping.replication[p.block.layer]
        start, stop = replica_share(b.mvms_per_inference, replicas, p.replica)
        row, col = mapping.positions[p.tile]
        records.append(
            MappingRecord(
                model=mapping.model,
                chip=mapping.chip,
                strategy=mapping.strategy,
                layer=b.layer,
                layer_index=order[b.layer],
                kind=kinds[b.layer],
                block=b.index,
                replica=p.replica,
                replicas=replicas,
                tile=p.tile,
                mesh_row=row,
                mesh_col=col,
                row_start=b.row_start,
                row_stop=b.row_stop,
                col_start=b.col_start,
                col_stop=b.col_stop,
                row_offset=p.row_offset,
                col_offset=p.col_offset,
                mvm_start=start,
                mvm_stop=stop,
                tile_rows=mapping.weight_rows,
                tile_cols=mapping.weight_cols,
                chip_tiles=chip.tiles.count,
                mesh_rows=chip.noc.mesh_rows,
                mesh_cols=chip.noc.mesh_cols,
            )
        )
    return records
