"""The operator inventory of one model at one batch size: what the simulator and Falcon read (no torch)."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

COLUMNS = ["op_type", "input_shapes", "output_shape", "flops", "bytes_read", "bytes_written", "param_bytes"]


@dataclass(frozen=True)
class Inventory:
    """One row per operator instance in execution order (`ops`, columns `COLUMNS`), plus the activation
    peak (largest sum of live intermediate tensors, inputs included, parameters excluded) and the bytes of
    all parameters and buffers, both in bytes."""

    model: str
    batch_size: int
    ops: pd.DataFrame
    activation_peak_bytes: float
    param_bytes: float

    @property
    def total_flops(self) -> float:
        return float(self.ops["flops"].sum())

    def by_type(self) -> pd.DataFrame:
        """Per operator type: count, FLOPs, bytes read and written, parameter bytes; largest FLOPs first."""
        grouped = self.ops.groupby("op_type").agg(
            count=("flops", "size"), flops=("flops", "sum"), bytes_read=("bytes_read", "sum"),
            bytes_written=("bytes_written", "sum"), param_bytes=("param_bytes", "sum"))
        return grouped.sort_values(["flops", "count"], ascending=False)


def shapes_text(shapes) -> str:
    """The authors' notation: a tuple of shapes, e.g. '((4, 3, 224, 224), (64, 3, 7, 7))'."""
    return str(tuple(tuple(int(d) for d in s) for s in shapes))
