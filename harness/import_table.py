"""Your own measurements as a trace set: a CSV or Parquet table -> one validated model of a trace set.

    python -m harness.import_table src=FILE space=SPACE model=NAME out=DIR [operators=FILE] [name=SET]

`src` has one row per (configuration, repetition): a column per knob of `space` (a space in conf/space/, or one of
your own in DIR/space/NAME.yaml with `hydra.searchpath=[file://DIR]`), optionally `rep` (repetition 0..n-1; without it every configuration must appear
exactly once), `feasible` (default true) and `reason`, and the measured fields of `MEASUREMENT_FIELDS`
(`objective` required). `operators` is an optional operator-profile table: `op_type`, `time_share` and/or
`time_ms`, `mem_share`, `mem_mb`, plus either every knob column (a profile per configuration) or none (one
profile for the whole model). A table exported by `python -m harness.export format=csv` imports back as it is:
its `model` column selects the rows of `model=NAME`, and its `config_index` column must agree with the knobs.
A table whose configurations are all infeasible (or all of objective 0) is refused: replay could score nothing.
Knobs may not be named like a column of the table (`objective`, `rep`, ...). Every problem found is reported,
one line each, before anything is written; a failed import writes nothing. `out` may be an existing trace set
over the same space: the model is added to it (never replacing a model already there); anything else already
at `out` is refused.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import hydra
import numpy as np
import pandas as pd
import pyarrow as pa
from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf

from harness.config import ConfigError, one_line_errors
from harness.paths import CONF_DIR, safe_name
from harness.space import SearchSpace, SpaceError, shown
from harness.traces import (MANIFEST, MEASUREMENT_FIELDS, OPERATOR_COLUMNS, TRACE_COLUMNS, Trace, TraceError,
                            TraceSet, write_trace_set)

FLAG_COLUMNS = ("rep", "feasible", "reason")
EXPORT_COLUMNS = ("model", "config_index")  # what `harness.export` adds to a table


class TableError(ValueError):
    """The table cannot be imported; `problems` lists every reason, one line each."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise TableError([f"src: no file {path}"])
    kind = path.suffix.lower()
    if kind not in (".csv", ".parquet", ".pq"):
        raise TableError([f"src: {path.name} is neither .csv nor .parquet"])
    try:
        if kind == ".csv":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise TableError([f"src: {path} is empty (no header row)"]) from None
    except (UnicodeDecodeError, ValueError, OSError, pa.ArrowException) as e:
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise TableError([f"src: {path} cannot be read as {'CSV' if kind == '.csv' else 'Parquet'} ({reason})"]) \
            from None


def check_space(space: SearchSpace) -> list[str]:
    """Knobs named like a column the table has besides the knobs: the two could not be told apart."""
    clash = [n for n in space.names if n in TRACE_COLUMNS + EXPORT_COLUMNS]
    return [f"space {space.name!r}: knob {clash[0]!r} is named like a column of the table; rename the knob "
            f"(reserved: {list(TRACE_COLUMNS + EXPORT_COLUMNS)})"] if clash else []


def rows_of_model(table: pd.DataFrame, model: str) -> tuple[pd.DataFrame, list[str]]:
    """A table with a `model` column (an exported set): the rows of `model`, without the column."""
    if "model" not in table.columns:
        return table, []
    names = table["model"].astype(str)
    if not (names == model).any():
        found = sorted(names.unique())
        return table.iloc[:0], [f"model: the table's model column has no rows of {model!r}; models: {found[:20]}"]
    return table[names == model].drop(columns="model").reset_index(drop=True), []


def check_measurements(table: pd.DataFrame, space: SearchSpace) -> list[str]:
    """Every problem of a measurement table, one line each (empty: the table is a complete trace)."""
    problems = []
    allowed = set(space.names) | set(FLAG_COLUMNS) | set(MEASUREMENT_FIELDS) | {"config_index"}
    unknown = [c for c in table.columns if c not in allowed]
    if unknown:
        problems.append(f"unknown columns {unknown}; allowed: the knobs {space.names}, {list(FLAG_COLUMNS)} and "
                        f"the measured fields {list(MEASUREMENT_FIELDS)}")
    missing = [c for c in space.names + ["objective"] if c not in table.columns]
    if missing:
        return problems + [f"missing columns {missing}"]
    bad_rows = np.zeros(len(table), dtype=bool)
    for knob in space.knobs:
        unknown_values = []
        for value in table[knob.name].unique():
            try:
                knob.position(value.item() if isinstance(value, np.generic) else value)
            except SpaceError:
                unknown_values.append(value.item() if isinstance(value, np.generic) else value)
        if unknown_values:
            problems.append(f"knob {knob.name!r}: unknown values {shown(unknown_values)}; allowed: "
                            f"{list(knob.values)}")
            bad_rows |= table[knob.name].isin(unknown_values).to_numpy()
    feasible = _feasible(table, problems)
    for field in [f for f in MEASUREMENT_FIELDS if f in table.columns]:
        values = pd.to_numeric(table[field], errors="coerce").to_numpy(dtype=float)
        bad = feasible & ~(np.isfinite(values) & (values >= 0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            problems.append(f"{field}: {int(bad.sum())} feasible rows are not finite non-negative numbers, the first "
                            f"{shown(table[field].iloc[i])} at {_where(table, i, space)}")
    if "rep" in table.columns:
        reps = pd.to_numeric(table["rep"], errors="coerce")
        if reps.isna().any() or (reps != reps.round()).any() or (reps < 0).any():
            return problems + ["rep: must be whole numbers 0..n-1"]
    if bad_rows.any():
        return problems  # configurations with unknown values cannot be placed: the grid checks would only echo
    good = table.assign(rep=table["rep"].astype(int) if "rep" in table.columns else 0)
    good["config_index"] = space.indices_of_digits(
        np.column_stack([good[k.name].map(lambda v, k=k: k.position(v)).to_numpy() for k in space.knobs]))
    if "config_index" in table.columns:
        given = pd.to_numeric(table["config_index"], errors="coerce").to_numpy(dtype=float)
        wrong = given != good["config_index"].to_numpy()
        if wrong.any():
            i = int(np.flatnonzero(wrong)[0])
            problems.append(f"config_index: {int(wrong.sum())} rows do not match their knob values, the first "
                            f"{shown(table['config_index'].iloc[i])} at {_where(good, i, space)} "
                            f"(index {int(good['config_index'].iloc[i])})")
    dup = good.duplicated(["config_index", "rep"], keep="first")
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        problems.append(f"{int(dup.sum())} duplicate rows (same configuration and rep), the first at "
                        f"{_where(good, i, space)}" + ("" if "rep" in table.columns else
                                                       "; add a `rep` column to import repetitions"))
    reps = sorted(good["rep"].unique())
    if reps != list(range(len(reps))):
        problems.append(f"rep: repetitions must be numbered 0..n-1, found {reps[:10]}")
    for rep in reps:
        present = set(good.loc[good["rep"] == rep, "config_index"])
        if len(present) < len(space):
            first = next(i for i in range(len(space)) if i not in present)
            problems.append(f"repetition {rep}: {len(space) - len(present)} of {len(space)} configurations "
                            f"missing, the first {space.config(first)}")
    return problems


def _feasible(table: pd.DataFrame, problems: list[str]) -> np.ndarray:
    if "feasible" not in table.columns:
        return np.ones(len(table), dtype=bool)
    column = table["feasible"]
    if column.dtype == bool:
        return column.to_numpy()
    text = column.astype(str).str.strip().str.lower()
    known = text.isin(["true", "false", "1", "0", "1.0", "0.0"])
    if not known.all():
        problems.append(f"feasible: values must be true/false or 1/0, found {shown(column[~known].iloc[0])}")
    return text.isin(["true", "1", "1.0"]).to_numpy()


def _where(table: pd.DataFrame, i: int, space: SearchSpace) -> str:
    """Row `i` of a table, named by its knob values (and rep), for a message."""
    rep = f" rep {shown(table['rep'].iloc[i])}" if "rep" in table.columns else ""
    return shown({k: table[k].iloc[i] for k in space.names}) + rep


def read_operators(path: Path, space: SearchSpace) -> pd.DataFrame:
    """An operator-profile table with knob columns (per configuration) or without (model-wide)."""
    ops = read_table(path)
    knobs = [k for k in space.names if k in ops.columns]
    problems = []
    if "op_type" not in ops.columns:
        problems.append(f"operators: missing column 'op_type' (columns: {list(ops.columns)})")
    if knobs and len(knobs) != len(space.names):
        problems.append(f"operators: has knob columns {knobs} but not {sorted(set(space.names) - set(knobs))}: "
                        "give every knob (a profile per configuration) or none (one profile for the model)")
    extra = [c for c in ops.columns if c not in set(space.names) | set(OPERATOR_COLUMNS[1:])]
    if extra:
        problems.append(f"operators: unknown columns {extra}; allowed: {list(OPERATOR_COLUMNS[1:])} and the knobs")
    if problems:
        raise TableError(problems)
    if knobs:
        try:
            index = [space.index({k: r[k] for k in space.names}) for _, r in ops.iterrows()]
        except SpaceError as e:
            raise TableError([f"operators: {e}"]) from None
        ops = ops.drop(columns=space.names).assign(config_index=index)
    else:
        ops = ops.assign(config_index=-1)
    return ops


def import_table(src: Path, space: SearchSpace, model: str, out: Path, operators: Path | None = None,
                 name: str | None = None) -> Trace:
    """Validate `src` (and `operators`) completely, then add the model to the trace set at `out` atomically."""
    safe_name(model, "model")
    if check_space(space):
        raise TableError(check_space(space))
    existing = _existing_set(out, space, model)
    table, problems = rows_of_model(read_table(src), model)
    if not problems:
        problems = check_measurements(table, space)
    ops = None
    if operators is not None:
        try:
            ops = read_operators(operators, space)
        except TableError as e:
            problems += e.problems
    if problems:
        raise TableError(problems)
    table = table.drop(columns=[c for c in EXPORT_COLUMNS if c in table.columns])
    table["feasible"] = _feasible(table, [])
    metadata = {"provenance": "imported", "source": src.name, "source_sha256": _sha256(src)}
    if operators is not None:
        metadata["operators_source"] = operators.name
    try:
        trace = Trace(model, space, table, ops, metadata)
    except TraceError as e:  # whatever the checks above did not foresee, still one line and nothing written
        raise TableError([str(e)]) from None
    if not trace.feasible.any():
        raise TableError([f"no configuration is feasible in every repetition ({len(space)} configurations): a "
                          "replay could score nothing"])
    if not (trace.true_objective > 0).any():
        raise TableError(["every feasible configuration has objective 0: a replay could score nothing (accuracy "
                          "is the recommendation's objective over the best one)"])
    traces = ([existing.load(m) for m in existing.models] if existing else []) + [trace]
    info = existing.manifest["info"] if existing else {"provenance": "imported"}
    write_trace_set(out, traces, name or (existing.name if existing else out.name), info)
    return trace


def _existing_set(out: Path, space: SearchSpace, model: str) -> TraceSet | None:
    if not out.exists():
        return None
    if not (out / MANIFEST).is_file():
        raise TableError([f"out: {out} exists and is not a trace set; choose a new folder"])
    existing = TraceSet(out)
    if existing.space != space:
        raise TableError([f"out: trace set {existing.name!r} at {out} is over space {existing.space.name!r}, "
                            f"not {space.name!r}"])
    if model in existing.models:
        raise TableError([f"model: {model!r} is already in trace set {existing.name!r}; choose another name"])
    return existing


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="import_table")
def main(cfg: DictConfig) -> None:
    with one_line_errors("import_table"):
        for key in ("src", "model", "out"):
            if cfg[key] is None:
                raise ConfigError(f"{key}=...: required (see conf/import_table.yaml)")
        space = SearchSpace.from_dict(OmegaConf.to_container(cfg.space, resolve=True))
        out = Path(to_absolute_path(cfg.out))
        try:
            trace = import_table(Path(to_absolute_path(cfg.src)), space, cfg.model, out,
                                 Path(to_absolute_path(cfg.operators)) if cfg.operators else None, cfg.name)
        except TableError as e:
            print("\n".join(f"import_table: {p}" for p in e.problems), file=sys.stderr)
            raise SystemExit(1) from None
    print(f"imported {trace.model} ({len(space)} configurations x {trace.n_reps} repetitions) into {out}")


if __name__ == "__main__":
    main()
