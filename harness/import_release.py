"""Import the Falcon authors' released data as a trace set.

    python -m harness.import_release src=../shared/data/falcon-release out=traces/falcon-release [space=paper]

`src` is the converted release or a checkout of the authors' repository (its `data/` folder is found). The
30 model tables (`models/{sources,targets}/reg-<model>.csv`) become one trace each. The release has only the
min-max normalised objective: raw requests/s, latency, price, power and memory are absent (and listed under
`missing_fields`), not invented. The operator time shares of the target models (`model-operator/<m>/
operators.csv`) become their (configuration-independent) operator profile, and the operator resource curves
next to them are kept as the auxiliary table `kop_curves`.
"""

from __future__ import annotations

import re
from pathlib import Path

import hydra
import pandas as pd
from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf

from harness.config import one_line_errors
from harness.paths import CONF_DIR
from harness.space import SearchSpace
from harness.traces import Trace, TraceError, check_replaceable, write_trace_set

RELEASE_COLUMNS = {"cpus": "cpu_cores", "gputype": "gpu_type", "gpumem": "gpu_mem_gb", "batchsize": "batch_size",
                   "gpupower": "gpu_power_pct", "norm.(rps/budget)": "objective"}
# Knob names in the curve file names, and the codes the files use for their values.
CURVE_KNOBS = {"batchsize": "batch_size", "GPU": "gpu_type", "CPUcores": "cpu_cores", "GPUmem": "gpu_mem_gb",
               "power": "gpu_power_pct"}
GPU_CODES = {1: "M60", 2: "K80", 3: "T4", 4: "V100"}
POWER_CODES = {1: 50, 2: 75, 3: 100}
OP_ALIASES = {"concat": "concatenate"}
CURVE_FILE = re.compile(r"(\d+)-([A-Za-z]+)-([A-Za-z]+)-(slope|convex|concave|plane)\.csv")


def release_root(src: Path) -> Path:
    """The folder holding `models/`: `src` itself, or `src/data` in a checkout of the authors' repository."""
    for candidate in (src, src / "data"):
        if (candidate / "models" / "sources").is_dir():
            return candidate
    raise TraceError(f"{src} does not look like the Falcon release: no models/sources/ folder in it or in "
                     f"{src / 'data'}")


def read_model_table(path: Path, space: SearchSpace) -> pd.DataFrame:
    table = pd.read_csv(path)
    missing = [c for c in RELEASE_COLUMNS if c not in table.columns]
    if missing:
        raise TraceError(f"{path}: columns {missing} are missing (found {list(table.columns)})")
    table = table.rename(columns=RELEASE_COLUMNS)[list(RELEASE_COLUMNS.values())]
    table["feasible"] = True
    return table


def read_operator_shares(path: Path) -> pd.DataFrame:
    shares = pd.read_csv(path)
    shares.columns = [c.strip() for c in shares.columns]
    ops = pd.DataFrame({"op_type": shares["op_name"].str.strip().replace(OP_ALIASES),
                        "time_share": pd.to_numeric(shares["running time percentage"]) / 100.0})
    ops = ops.groupby("op_type", as_index=False, sort=True)["time_share"].sum()
    ops.insert(0, "config_index", -1)
    return ops


def read_curves(folder: Path, space: SearchSpace) -> pd.DataFrame:
    """All operator resource curves of one model: one row per (curve, point), values as knob positions too."""
    rows = []
    for op_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        rank, _, op = op_dir.name.partition("-") if op_dir.name[:2].isdigit() else ("0", "", op_dir.name)
        for file in sorted(op_dir.glob("*.csv")):
            m = CURVE_FILE.fullmatch(file.name)
            if not m:
                raise TraceError(f"{file}: unexpected curve file name")
            curve, knob_a, knob_b, shape = int(m[1]), CURVE_KNOBS[m[2]], CURVE_KNOBS[m[3]], m[4]
            points = pd.read_csv(file, header=None, names=["a", "b", "value"])
            for a, b, value in points.itertuples(index=False):
                rows.append({"op_rank": int(rank), "op_type": OP_ALIASES.get(op, op), "curve": curve,
                             "knob_a": knob_a, "knob_b": knob_b, "shape": shape, "a_raw": float(a),
                             "b_raw": float(b), "a_pos": _position(space, knob_a, a, file),
                             "b_pos": _position(space, knob_b, b, file), "value": float(value)})
    return pd.DataFrame(rows)


def _position(space: SearchSpace, knob: str, raw: float, file: Path) -> int:
    value: object = raw
    if knob == "gpu_type":
        value = GPU_CODES[int(raw)]
    elif knob == "gpu_power_pct" and raw in POWER_CODES:
        value = POWER_CODES[int(raw)]
    elif knob in ("cpu_cores", "batch_size", "gpu_power_pct"):
        value = int(raw)
    try:
        return space.knob(knob).position(value)
    except ValueError as e:
        raise TraceError(f"{file}: {e}") from None


def import_release(src: Path, out: Path, name: str, space: SearchSpace) -> list[Trace]:
    """Read the release at `src` and write it as the trace set `name` at `out` (refused before any reading
    unless `out` is new, empty or a trace set)."""
    check_replaceable(out)
    root = release_root(src) / "models"
    traces = []
    for role in ("sources", "targets"):
        for path in sorted((root / role).glob("reg-*.csv")):
            model = path.stem[len("reg-"):]
            op_folder = root / "model-operator" / model
            operators, auxiliary = None, {}
            if (op_folder / "operators.csv").exists():
                operators = read_operator_shares(op_folder / "operators.csv")
                auxiliary["kop_curves"] = read_curves(op_folder, space)
            metadata = {"provenance": "imported", "source": "dos-lab/Falcon data/", "file": path.name,
                        "role": role[:-1]}
            traces.append(Trace(model, space, read_model_table(path, space), operators, metadata, auxiliary))
    if not traces:
        raise TraceError(f"no reg-<model>.csv tables under {root}")
    write_trace_set(out, traces, name, info={"provenance": "imported", "source": str(src),
                                             "note": "objective is the authors' min-max normalised RPS/Budget"})
    return traces


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="import_release")
def main(cfg: DictConfig) -> None:
    out = Path(to_absolute_path(cfg.out))
    with one_line_errors("import_release"):
        space = SearchSpace.from_dict(OmegaConf.to_container(cfg.space, resolve=True))
        traces = import_release(Path(to_absolute_path(cfg.src)), out, cfg.name, space)
    print(f"imported {len(traces)} models into {out}")


if __name__ == "__main__":
    main()
