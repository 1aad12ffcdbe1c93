"""Regenerate the stored inventories: `python -m harness.ops.make_inventories [model ...] [--out DIR]`.

With no model names every zoo model is regenerated; named models are updated in an existing summary.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch

from harness.models import MODELS
from harness.ops.export import inventories
from harness.ops.store import BATCH_SIZES, DATA_DIR, FORMAT_VERSION, write_model, write_summary


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="model names (default: all)")
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="data folder (default: the package's)")
    args = parser.parse_args(argv)
    names = args.models or list(MODELS)
    args.out.mkdir(parents=True, exist_ok=True)
    summary_path = args.out / "summary.json"
    entries = {}
    if args.models and summary_path.exists():
        previous = json.loads(summary_path.read_text())
        if previous.get("format_version") == FORMAT_VERSION:
            entries = previous["models"]
    for name in names:
        start = time.time()
        entries[name] = write_model(inventories(name, BATCH_SIZES), args.out)
        print(f"{name}: {entries[name]['4']['op_count']} operators, {time.time() - start:.0f} s", file=sys.stderr)
    write_summary(entries, {"front_end": "torch.export", "torch": torch.__version__.split("+")[0]}, args.out)


if __name__ == "__main__":
    main()
