"""Stored inventories shipped with the package, readable with numpy/pandas/pyarrow only.

`data/<model>.parquet` holds the operator rows of one model at every paper batch size (a `batch_size` column
first); `data/summary.json` holds, per model and batch size, the activation peak, parameter bytes, total FLOPs
and operator count, plus the format version and the torch version that produced them.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from harness.models import spec
from harness.ops.inventory import COLUMNS, Inventory

FORMAT_VERSION = 1
BATCH_SIZES = (4, 8, 16, 32, 64, 128)
DATA_DIR = Path(__file__).parent / "data"


def model_path(model_name: str, data_dir: Path = DATA_DIR) -> Path:
    return Path(data_dir) / f"{model_name}.parquet"


def read_summary(data_dir: Path = DATA_DIR) -> dict:
    """The summary file; a missing file or another format version raises ValueError."""
    path = Path(data_dir) / "summary.json"
    if not path.exists():
        raise ValueError(f"no stored inventories at {data_dir}; run python -m harness.ops.make_inventories")
    summary = json.loads(path.read_text())
    if summary.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} has format version {summary.get('format_version')}, "
                         f"this code reads version {FORMAT_VERSION}; regenerate it")
    return summary


def load_inventory(model_name: str, batch_size: int, data_dir: Path = DATA_DIR) -> Inventory:
    """The stored inventory of a zoo model at one of the paper's batch sizes."""
    spec(model_name)
    entry = read_summary(data_dir)["models"].get(model_name, {}).get(str(batch_size))
    if entry is None:
        raise ValueError(f"no stored inventory for {model_name} at batch size {batch_size}; "
                         f"stored batch sizes: {', '.join(map(str, BATCH_SIZES))}")
    table = pd.read_parquet(model_path(model_name, data_dir), filters=[("batch_size", "==", batch_size)])
    ops = table[COLUMNS].reset_index(drop=True)
    if len(ops) != entry["op_count"]:
        raise ValueError(f"{model_path(model_name, data_dir)} has {len(ops)} rows at batch size {batch_size}, "
                         f"summary.json says {entry['op_count']}: the files are out of step; regenerate them")
    return Inventory(model_name, batch_size, ops, entry["activation_peak_bytes"], entry["param_bytes"])


def write_model(inventories: list[Inventory], data_dir: Path = DATA_DIR) -> dict:
    """Write one model's inventories (one per batch size) and return their summary entries."""
    frames = [inv.ops.assign(batch_size=inv.batch_size)[["batch_size", *COLUMNS]] for inv in inventories]
    table = pd.concat(frames, ignore_index=True)
    for column in ("op_type", "input_shapes", "output_shape"):
        table[column] = table[column].astype("category")  # few distinct strings, many rows
    table.to_parquet(model_path(inventories[0].model, data_dir), index=False, compression="zstd")
    return {str(inv.batch_size): {"activation_peak_bytes": inv.activation_peak_bytes,
                                  "param_bytes": inv.param_bytes, "total_flops": inv.total_flops,
                                  "op_count": len(inv.ops)} for inv in inventories}


def write_summary(models: dict, producer: dict, data_dir: Path = DATA_DIR) -> None:
    summary = {"format_version": FORMAT_VERSION, "batch_sizes": list(BATCH_SIZES), "producer": producer,
               "models": dict(sorted(models.items()))}
    (Path(data_dir) / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
