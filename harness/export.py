"""A trace set in forms other benchmark libraries load: Syne Tune's blackbox repository, or a long CSV.

    python -m harness.export format=csv traces=sim_v1 out=DIR
    python -m harness.export format=syne_tune traces=sim_v1 out=DIR     # needs the peers extra

`csv` writes `DIR/<set>.csv`, one row per (model, configuration, repetition): `model`, the knob columns,
`config_index`, `rep`, `feasible`, `reason` and every measured field (empty where a model lacks it), with values
exactly as stored (each number in its shortest form that reads back the same: a knob value 0.8 is `0.8`), so that
`python -m harness.import_table src=DIR/<set>.csv model=NAME ...` imports each model back; and
`DIR/DATA_CARD.md`, which says what every column means and where the data come from.

`syne_tune` writes `DIR/<set>/` with Syne Tune's own `serialize` (`BlackboxTabular`): one task per model, one
hyperparameter row per configuration (in index order), one seed per repetition, a single fidelity `trial` = 1
(a trial is one whole stress test), and objectives `feasible` (1/0) followed by the measured fields. Syne Tune
stores float32 (use `csv` for exact values) and names the space with `choice`/`ordinal` domains
(`harness.syne_tune_mapping.syne_tune_space`, which the Syne Tune peers use too). Load it with
`syne_tune.blackbox_repository.blackbox_tabular.deserialize(DIR/<set>)`.

`out` must not exist yet: an export never replaces anything; it is written into a temporary sibling and renamed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import hydra
import numpy as np
import pandas as pd
from hydra.utils import to_absolute_path
from omegaconf import DictConfig

from harness.config import one_line_errors
from harness.paths import CONF_DIR, safe_name, trace_set_path
from harness.traces import MEASUREMENT_FIELDS, Trace, TraceSet

FORMATS = ("csv", "syne_tune")


class ExportError(ValueError):
    """An export that cannot be done as asked; the message says why."""


def present_fields(traces: list[Trace]) -> list[str]:
    """The measured fields any model of the set has, in MEASUREMENT_FIELDS order."""
    return [f for f in MEASUREMENT_FIELDS if any(f in t.fields for t in traces)]


def long_table(traces: list[Trace]) -> pd.DataFrame:
    fields = present_fields(traces)
    frames = []
    for t in traces:
        m = t.measurements.sort_values(["config_index", "rep"])
        frame = m[t.space.names + ["config_index", "rep", "feasible", "reason"]].copy()
        for f in fields:
            frame[f] = m[f].to_numpy(dtype=float) if f in m.columns else np.nan
        frame.insert(0, "model", t.model)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def data_card(traces: TraceSet, fields: list[str]) -> str:
    knobs = "\n".join(f"| `{k.name}` | knob ({'ordered' if k.ordered else 'categorical'}{', ' + k.unit if k.unit else ''})"
                      f": one of {list(k.values)} |" for k in traces.space.knobs)
    meaning = {"objective": "requests per dollar (higher is better; 0 where infeasible); for the authors' release, "
                            "their min-max normalised RPS/budget",
               "rps": "throughput, requests per second", "latency_p50_ms": "median latency, ms",
               "latency_p99_ms": "99th-percentile latency, ms", "price_per_hour": "price of the configuration, $/h",
               "gpu_mem_used_gb": "GPU memory used, GB", "power_w": "power draw, W"}
    rows = "\n".join(f"| `{f}` | {meaning[f]} |" for f in fields)
    missing = {m: traces.manifest["models"][m].get("missing_fields", []) for m in traces.models}
    missing_lines = "\n".join(f"- `{m}`: {', '.join(v)}" for m, v in missing.items() if v) or "- none"
    provenance = sorted({str(traces.manifest["models"][m].get("provenance", "unknown")) for m in traces.models})
    return f"""# Data card: trace set `{traces.name}`

Exported by falcon-bench (`python -m harness.export format=csv`). Trace-set digest `{traces.digest()}`.
Provenance: {', '.join(provenance)}; set info: {traces.manifest.get('info', {})}.
Space `{traces.space.name}`: {len(traces.space)} configurations; models: {', '.join(traces.models)}.

One row per (model, configuration, repetition). A repetition is one 15-minute stress test of the configuration.

| column | meaning |
| --- | --- |
| `model` | the model served |
{knobs}
| `config_index` | the configuration's index in the space (mixed radix over the knobs, last knob fastest) |
| `rep` | repetition 0..n-1 |
| `feasible` | false where the configuration failed (e.g. out of memory); its objective is 0 |
| `reason` | why infeasible, empty otherwise |
{rows}

Empty cells: a field the model's source does not provide. Fields missing per model:
{missing_lines}
"""


def export_csv(traces: TraceSet, tmp: Path) -> None:
    loaded = traces.load_many(traces.models)
    long_table(loaded).to_csv(tmp / f"{traces.name}.csv", index=False)  # repr: shortest exact form
    (tmp / "DATA_CARD.md").write_text(data_card(traces, present_fields(loaded)))


def export_syne_tune(traces: TraceSet, tmp: Path) -> None:
    try:
        from syne_tune.blackbox_repository.blackbox_tabular import BlackboxTabular, serialize
        from syne_tune.config_space import randint

        from harness.syne_tune_mapping import evaluations, hyperparameters, syne_tune_space
    except ImportError as e:
        raise ExportError(f"format=syne_tune needs the peers extra (pip install 'falcon-bench[peers]', or "
                          f"'.[peers]' in a checkout): {e}") from None
    loaded = traces.load_many(traces.models)
    fields = present_fields(loaded)
    space = traces.space
    blackboxes = {t.model: BlackboxTabular(hyperparameters(space), syne_tune_space(space), {"trial": randint(1, 1)},
                                           evaluations(t, ["feasible", *fields]), np.array([1]), ["feasible", *fields])
                  for t in loaded}
    if len({b.objectives_evaluations.shape for b in blackboxes.values()}) > 1:
        raise ExportError("format=syne_tune needs the same number of repetitions for every model")
    serialize(blackboxes, str(tmp / traces.name), metadata={"source": "falcon-bench", "trace_set": traces.name,
                                                            "digest": traces.digest(), "space": space.to_dict()})


def export(traces: TraceSet, fmt: str, out: Path) -> Path:
    if fmt not in FORMATS:
        raise ExportError(f"format must be one of {list(FORMATS)}, not {fmt!r}")
    safe_name(traces.name, "trace set name")  # it names the files written
    if out.exists() or out.is_symlink():
        raise ExportError(f"out: {out} already exists; an export never replaces anything, choose a new folder")
    blocking = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise ExportError(f"out={out}: {blocking} is a file, not a folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    except OSError as e:
        raise ExportError(f"out={out}: cannot write there ({e.strerror})") from None
    tmp.chmod(0o755)
    try:
        (export_csv if fmt == "csv" else export_syne_tune)(traces, tmp)
        for p in sorted(tmp.rglob("*")):
            if p.is_file():
                with open(p, "rb") as f:
                    os.fsync(f.fileno())
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="export")
def main(cfg: DictConfig) -> None:
    with one_line_errors("export", (ExportError,)):
        if cfg.out is None:
            raise ExportError("out=...: required (a folder that does not exist yet)")
        traces = TraceSet(trace_set_path(cfg.traces.path))
        out = export(traces, cfg.format, Path(to_absolute_path(cfg.out)))
    print(f"exported trace set {traces.name} ({len(traces.models)} models) as {cfg.format} to {out}")


if __name__ == "__main__":
    main()
