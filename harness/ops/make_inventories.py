"""Regenerate the stored operator inventories (Hydra app, conf/make_inventories.yaml).

    python -m harness.ops.make_inventories                          # every zoo model, into harness/ops/data
    python -m harness.ops.make_inventories models=[dcgan] out=DIR   # named models, updated in DIR's summary
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import hydra
import torch
from hydra.utils import to_absolute_path
from omegaconf import DictConfig

from harness.config import ConfigError, one_line_errors
from harness.models import MODELS
from harness.ops.torch_inventory import inventories
from harness.ops.store import BATCH_SIZES, DATA_DIR, FORMAT_VERSION, write_model, write_summary
from harness.paths import CONF_DIR


def make_inventories(models: list[str], out: Path = DATA_DIR) -> None:
    """Export each model's inventories into `out`; no names: every zoo model, else update the existing summary."""
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ConfigError(f"models: no zoo model {unknown[0]!r}; models: {sorted(MODELS)}")
    out.mkdir(parents=True, exist_ok=True)
    summary_path = out / "summary.json"
    entries = {}
    if models and summary_path.exists():
        previous = json.loads(summary_path.read_text())
        if previous.get("format_version") == FORMAT_VERSION:
            entries = previous["models"]
    for name in models or list(MODELS):
        start = time.time()
        entries[name] = write_model(inventories(name, BATCH_SIZES), out)
        print(f"{name}: {entries[name]['4']['op_count']} operators, {time.time() - start:.0f} s", file=sys.stderr)
    write_summary(entries, {"front_end": "torch.export", "torch": torch.__version__.split("+")[0]}, out)


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="make_inventories")
def main(cfg: DictConfig) -> None:
    with one_line_errors("make_inventories"):
        make_inventories(list(cfg.models), Path(to_absolute_path(cfg.out)) if cfg.out else DATA_DIR)


if __name__ == "__main__":
    main()
