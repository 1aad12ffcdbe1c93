"""Traces: one model measured (or simulated, or imported) over one search space, and trace sets on disk.

A trace set is a folder:

    <set>/MANIFEST.json                 schema version, name, space, provenance, per-model metadata, SHA-256 per file
    <set>/<model>/measurements.parquet  one row per (configuration, repetition): knob columns, `rep`, measurements
    <set>/<model>/operators.parquet     operator profile: `config_index` (-1: every configuration), `op_type`,
                                        `time_ms`, `time_share`, `mem_mb`, `mem_share` (NaN where unknown)
    <set>/<model>/aux-<name>.parquet    auxiliary tables (e.g. the authors' operator curves)

Infeasible configurations (out of memory, crashes) are rows with `feasible = False` and objective 0, never
missing rows. Measurement fields a source does not have are absent columns, listed in the model's metadata
under `missing_fields`. No pickle: Parquet and JSON only, so traces from strangers are safe to load.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from harness.vocabulary import check_op_types
from harness.paths import UnsafeNameError, safe_name
from harness.space import SearchSpace, SpaceError, shown

SCHEMA_VERSION = 1
MANIFEST = "MANIFEST.json"

# Measurement fields a trace may carry per (configuration, repetition), besides the knobs, `rep` and `feasible`.
MEASUREMENT_FIELDS = ("objective", "rps", "latency_p50_ms", "latency_p99_ms", "price_per_hour",
                      "gpu_mem_used_gb", "power_w")
OPERATOR_COLUMNS = ("config_index", "op_type", "time_ms", "time_share", "mem_mb", "mem_share")
# The columns of a measurement table besides the knobs: no knob may be named like one.
TRACE_COLUMNS = ("config_index", "rep", "feasible", "reason") + MEASUREMENT_FIELDS


class TraceError(ValueError):
    """A trace or trace set that cannot be used as it is; the message names the problem."""


class OpStat(NamedTuple):
    """One operator type's share of a model's GPU time and memory at one configuration (NaN where unknown)."""

    time_share: float
    mem_share: float
    time_ms: float
    mem_mb: float


@dataclass
class Trace:
    """One model over one search space.

    `measurements` has one row per (configuration, repetition) with a column per knob, `rep`, `feasible`,
    `reason` (why infeasible, '' otherwise) and the fields of MEASUREMENT_FIELDS that the source provides.
    """

    model: str
    space: SearchSpace
    measurements: pd.DataFrame
    operators: pd.DataFrame | None = None
    metadata: dict = field(default_factory=dict)
    auxiliary: dict[str, pd.DataFrame] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _checked_name(self.model, "model")
        if not isinstance(self.space, SearchSpace):
            raise TraceError(f"trace {self.model!r}: space must be a SearchSpace, not {type(self.space).__name__}")
        clash = [n for n in self.space.names if n in TRACE_COLUMNS]
        if clash:
            raise TraceError(f"trace {self.model!r}: knob {clash[0]!r} is named like a measurement column; "
                             f"reserved: {list(TRACE_COLUMNS)}")
        self.measurements = _validate_measurements(self.model, self.space, self.measurements)
        if self.operators is not None:
            self.operators = _validate_operators(self.model, self.space, self.operators)
        self.metadata = dict(self.metadata)
        self.metadata.setdefault("schema_version", SCHEMA_VERSION)
        if self.metadata["schema_version"] != SCHEMA_VERSION:
            raise TraceError(f"trace {self.model!r}: schema version {self.metadata['schema_version']} is not "
                             f"known (this version reads {SCHEMA_VERSION})")
        self.metadata["missing_fields"] = [f for f in MEASUREMENT_FIELDS if f not in self.measurements.columns]
        self._build_tables()

    # -- fast views used by the oracle and by scoring -----------------------------------------------------
    def _build_tables(self) -> None:
        m = self.measurements
        n, reps = len(self.space), int(m["rep"].max()) + 1
        order = np.lexsort((m["rep"].to_numpy(), m["config_index"].to_numpy()))
        self.n_reps = reps
        self.fields = [f for f in MEASUREMENT_FIELDS if f in m.columns]
        self._values = {f: m[f].to_numpy(dtype=float)[order].reshape(n, reps) for f in self.fields}
        self._feasible = m["feasible"].to_numpy(dtype=bool)[order].reshape(n, reps)
        self._reasons = m["reason"].to_numpy(dtype=object)[order].reshape(n, reps)
        feasible_mean = self._feasible.all(axis=1)
        self.true_objective = np.where(feasible_mean, self._values["objective"].mean(axis=1), 0.0)
        self.feasible = feasible_mean
        self._op_cache: dict[int, dict[str, OpStat]] = {}

    def value(self, name: str, index: int, rep: int) -> float:
        return float(self._values[name][index, rep])

    def is_feasible(self, index: int, rep: int) -> bool:
        return bool(self._feasible[index, rep])

    def reason(self, index: int, rep: int) -> str:
        return str(self._reasons[index, rep])

    def op_profile(self, index: int) -> dict[str, OpStat] | None:
        """Operator profile at one configuration (the model-wide profile where only that is known)."""
        if self.operators is None:
            return None
        if index not in self._op_cache:
            ops = self.operators
            rows = ops[ops["config_index"] == index]
            if rows.empty:
                rows = ops[ops["config_index"] == -1]
            self._op_cache[index] = {
                r.op_type: OpStat(float(r.time_share), float(r.mem_share), float(r.time_ms), float(r.mem_mb))
                for r in rows.itertuples(index=False)}
        return self._op_cache[index]

    def objective_table(self) -> pd.DataFrame:
        """True (mean over repetitions) objective per configuration, with the knob columns."""
        table = pd.DataFrame(list(self.space))
        table["objective"] = self.true_objective
        table["feasible"] = self.feasible
        return table


# -- validation -------------------------------------------------------------------------------------------
def _validate_measurements(model: str, space: SearchSpace, m: pd.DataFrame) -> pd.DataFrame:
    where = f"trace {model!r}"
    if not isinstance(m, pd.DataFrame):
        raise TraceError(f"{where}: measurements must be a table (pandas DataFrame), not {type(m).__name__}")
    _refuse_duplicated_columns(where, m)
    missing_knobs = [k for k in space.names if k not in m.columns]
    if missing_knobs:
        raise TraceError(f"{where}: measurements lack knob columns {missing_knobs}")
    for col in ("objective", "feasible"):
        if col not in m.columns:
            raise TraceError(f"{where}: measurements lack the required column {col!r}")
    if m.empty:
        raise TraceError(f"{where}: measurements have no rows")
    m = m.reset_index(drop=True).copy()
    m["rep"] = _integers(where, "rep", m["rep"], minimum=0) if "rep" in m.columns else 0
    if "reason" not in m.columns:
        m["reason"] = ""
    binary = [v for v in m["reason"] if isinstance(v, (bytes, bytearray))]
    if binary:
        raise TraceError(f"{where}: column 'reason' holds {binary[0]!r}, which is not text")
    m["reason"] = m["reason"].fillna("").astype(str)
    m["feasible"] = _booleans(where, m["feasible"])
    m["config_index"] = _indices(where, space, m)
    feasible = m["feasible"].to_numpy()
    for f in MEASUREMENT_FIELDS:
        if f not in m.columns:
            continue
        values = _numbers(where, f, m[f])
        # NaN means "not measured", allowed only where the configuration failed; infinities never are.
        bad = (feasible & np.isnan(values)) | np.isinf(values) | (values < 0)
        if bad.any():
            i = np.flatnonzero(bad)[0]
            raise TraceError(f"{where}: {f} is {float(values[i])} (NaN, infinite or negative) at "
                             f"{_row_name(space, m, i)}")
        m[f] = values
    m.loc[~m["feasible"], "objective"] = 0.0
    dup = m.duplicated(["config_index", "rep"])
    if dup.any():
        raise TraceError(f"{where}: {_row_name(space, m, np.flatnonzero(dup.to_numpy())[0])} appears more than once")
    reps = sorted(m["rep"].unique())
    if reps != list(range(len(reps))):
        raise TraceError(f"{where}: repetitions must be numbered 0..n-1, found {reps[:10]}")
    counts = m.groupby("rep")["config_index"].nunique()
    for rep, count in counts.items():
        if count != len(space):
            present = set(m.loc[m["rep"] == rep, "config_index"])
            first_missing = next(i for i in range(len(space)) if i not in present)
            raise TraceError(f"{where}: {len(space) - count} configurations missing in repetition {rep}, "
                             f"the first being {space.config(first_missing)}")
    return m


def _row_name(space: SearchSpace, m: pd.DataFrame, i: int) -> str:
    return f"configuration {space.config(int(m['config_index'].iloc[i]))} repetition {int(m['rep'].iloc[i])}"


def _refuse_duplicated_columns(where: str, table: pd.DataFrame) -> None:
    names = [str(c) for c in table.columns]
    if len(set(names)) != len(names):
        raise TraceError(f"{where}: column names appear more than once: {sorted(names)}")


def _numbers(where: str, column: str, values: pd.Series) -> np.ndarray:
    """A column as floats; refuses values that are not numbers (missing values become NaN)."""
    if values.dtype == bool or (values.dtype == object and any(isinstance(v, (bool, np.bool_)) for v in values)):
        raise TraceError(f"{where}: column {column!r} holds true/false values where numbers are expected")
    numbers = pd.to_numeric(values, errors="coerce")
    not_numbers = numbers.isna() & values.notna()
    if not_numbers.any():
        raise TraceError(f"{where}: column {column!r} holds {shown(values[not_numbers].iloc[0])}, which is not a "
                         "number")
    return numbers.to_numpy(dtype=float)


def _integers(where: str, column: str, values: pd.Series, minimum: int) -> np.ndarray:
    numbers = _numbers(where, column, values)
    bad = ~np.isfinite(numbers) | (numbers != np.round(numbers)) | (numbers < minimum)
    if bad.any():
        raise TraceError(f"{where}: column {column!r} holds {shown(values[bad].iloc[0])}; allowed: whole numbers "
                         f">= {minimum}")
    return numbers.astype(np.int64)


def _booleans(where: str, values: pd.Series) -> np.ndarray:
    """`feasible` as booleans: true/false, or the numbers 1/0; anything else (a string, a missing value) refused."""
    if values.dtype == bool:
        return values.to_numpy()

    def is_flag(v: Any) -> bool:
        return isinstance(v, (bool, np.bool_)) or (isinstance(v, (int, float, np.integer, np.floating))
                                                   and v in (0, 1))
    bad = [v for v in values if not is_flag(v)]
    if bad:
        raise TraceError(f"{where}: column 'feasible' holds {shown(bad[0])}; allowed: true/false (or 1/0)")
    return values.to_numpy().astype(bool)


def _indices(where: str, space: SearchSpace, m: pd.DataFrame) -> np.ndarray:
    """Configuration index of every row; refuses knob values outside the space."""
    digits = np.empty((len(m), len(space.knobs)), dtype=np.int64)
    for j, knob in enumerate(space.knobs):
        column = m[knob.name]
        try:
            distinct = column.unique()
        except TypeError:  # unhashable cells (lists, dicts)
            raise TraceError(f"{where}: knob column {knob.name!r} holds values that are not single values, "
                             f"e.g. {shown(column.iloc[0])}") from None
        lookup = {}
        for value in distinct:
            try:
                lookup[value] = knob.position(value.item() if isinstance(value, np.generic) else value)
            except SpaceError as e:
                raise TraceError(f"{where}: {e}") from None
        digits[:, j] = column.map(lookup).to_numpy()
    return space.indices_of_digits(digits)


def _validate_operators(model: str, space: SearchSpace, ops: pd.DataFrame) -> pd.DataFrame:
    where = f"trace {model!r} operator profile"
    if not isinstance(ops, pd.DataFrame):
        raise TraceError(f"{where}: must be a table (pandas DataFrame), not {type(ops).__name__}")
    _refuse_duplicated_columns(where, ops)
    for col in ("config_index", "op_type"):
        if col not in ops.columns:
            raise TraceError(f"{where}: missing column {col!r}")
    ops = ops.reset_index(drop=True).copy()
    for col in OPERATOR_COLUMNS[2:]:
        if col not in ops.columns:
            ops[col] = np.nan
            continue
        values = _numbers(where, col, ops[col])
        bad = np.isinf(values) | (values < 0)
        if bad.any():
            raise TraceError(f"{where}: {col} is {float(values[bad][0])}; allowed: a finite number >= 0, or "
                             "missing")
        ops[col] = values
    ops["config_index"] = _integers(where, "config_index", ops["config_index"], minimum=-1)
    ops["op_type"] = ops["op_type"].astype(str)
    bad = ops["config_index"] > len(space) - 1
    if bad.any():
        raise TraceError(f"{where}: config_index {ops.loc[bad, 'config_index'].iloc[0]} is outside the space")
    try:
        check_op_types(ops["op_type"].unique(), where)
    except ValueError as e:
        raise TraceError(str(e)) from None
    if ops.duplicated(["config_index", "op_type"]).any():
        raise TraceError(f"{where}: an operator type appears twice at one configuration")
    return ops[list(OPERATOR_COLUMNS)]


# -- trace sets on disk -----------------------------------------------------------------------------------
def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    # Fixed writer settings so the same table gives the same bytes.
    table = pa.Table.from_pandas(df, preserve_index=False)
    pq.write_table(table, path, compression="zstd", write_statistics=False)


def _model_files(trace: Trace) -> dict[str, pd.DataFrame]:
    columns = trace.space.names + ["rep", "feasible", "reason"] + trace.fields
    files = {"measurements.parquet": trace.measurements[columns]}
    if trace.operators is not None:
        files["operators.parquet"] = trace.operators
    for name, table in sorted(trace.auxiliary.items()):
        files[f"aux-{name}.parquet"] = table
    return files


def write_trace_set(path: str | Path, traces: Iterable[Trace], name: str, info: dict | None = None) -> Path:
    """Write a whole trace set atomically: into a temporary sibling folder, then renamed into place.

    `path` may be absent, an empty folder or a trace set (see `check_replaceable`); an existing set is replaced
    only once the new one is complete, and a failure leaves it untouched.
    """
    path = Path(path)
    _checked_name(name, "trace set name")
    traces = list(traces)
    if not traces:
        raise TraceError("a trace set needs at least one trace")
    space = traces[0].space
    models = [t.model for t in traces]
    if len(set(models)) != len(models):
        raise TraceError(f"trace set {name!r}: a model appears more than once: {sorted(models)}")
    for t in traces:
        if t.space != space:
            raise TraceError(f"trace {t.model!r} is over another space than {traces[0].model!r}")
        for aux in t.auxiliary:
            _checked_name(aux, f"auxiliary table of trace {t.model!r}")
    check_replaceable(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; a trace set is for everyone to read
    try:
        manifest = {"schema_version": SCHEMA_VERSION, "name": name, "info": info or {},
                    "space": space.to_dict(), "models": {}, "files": {}}
        for t in sorted(traces, key=lambda t: t.model):
            (tmp / t.model).mkdir()
            for fname, table in _model_files(t).items():
                _write_parquet(table, tmp / t.model / fname)
                rel = f"{t.model}/{fname}"
                manifest["files"][rel] = sha256_file(tmp / rel)
            manifest["models"][t.model] = _jsonable(t.metadata)
        _write_json(tmp / MANIFEST, manifest)
        _fsync_tree(tmp)
        check_replaceable(path)  # again: something may have appeared there while the set was written
        _replace_dir(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def check_replaceable(path: str | Path) -> None:
    """Refuse (TraceError) unless `path` is absent, an empty folder, or a trace set whose files its manifest lists.

    Writers call this before any work, so that a user's folder (their files, a git clone) is never replaced.
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return
    if path.is_symlink() or not path.is_dir():
        raise TraceError(f"refusing to write a trace set at {path}: it exists and is not a folder")
    if not any(path.iterdir()):
        return
    if not (path / MANIFEST).is_file():
        raise TraceError(f"refusing to replace {path}: it is not empty and holds no {MANIFEST}, so it is not a trace "
                         "set; write to a new or empty folder")
    try:
        _read_manifest(path)
    except TraceError as e:
        raise TraceError(f"refusing to replace {path}: {e}") from None


def _replace_dir(new: Path, target: Path) -> None:
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        os.replace(new, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, target)


def _fsync_tree(root: Path) -> None:
    for p in sorted(root.rglob("*")):
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())
    for p in [root, *sorted(d for d in root.rglob("*") if d.is_dir())]:
        fsync_dir(p)


def fsync_dir(path: Path) -> None:
    """Make a folder's entries (a new or renamed file in it) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=lambda o: o.item() if isinstance(o, np.generic) else str(o)))


def _checked_name(name: object, what: str) -> str:
    """`harness.paths.safe_name`, refusing with a TraceError: in a trace set, every name becomes a path."""
    try:
        return safe_name(name, what)
    except UnsafeNameError as e:
        raise TraceError(str(e)) from None


def _read_manifest(folder: Path) -> dict:
    """The manifest of the trace set at `folder`, checked before anything in it is trusted: its names are safe
    path components, every file has a SHA-256, and it lists every file the folder holds."""
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        hint = " (run `python -m harness.import_release` or `python -m harness.sim` first?)"
        raise TraceError(f"no trace set at {folder}: {MANIFEST} not found{hint}")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise TraceError(f"{manifest_path} is not valid JSON: {e}") from None
    if not isinstance(manifest, dict) or not all(isinstance(manifest.get(k), dict)
                                                 for k in ("space", "models", "files")):
        raise TraceError(f"{manifest_path} is not a trace-set manifest of this project: it needs "
                         "'schema_version', 'name', 'space', 'models' and 'files'")
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise TraceError(f"{manifest_path}: schema version {version!r} is not known "
                         f"(this version reads {SCHEMA_VERSION})")
    _checked_name(manifest.get("name"), f"{manifest_path}: trace set name")
    models, files = manifest["models"], manifest["files"]
    for model, metadata in models.items():
        _checked_name(model, f"{manifest_path}: model")
        if not isinstance(metadata, dict):
            raise TraceError(f"{manifest_path}: the metadata of model {model!r} is not a mapping")
        if f"{model}/measurements.parquet" not in files:
            raise TraceError(f"{manifest_path}: model {model!r} has no measurements.parquet listed")
    for rel, digest in files.items():
        model, _, fname = rel.partition("/")
        if model not in models or not _SAFE_FILE.match(fname):
            raise TraceError(f"{manifest_path}: file entry {rel!r} is not <model>/<file>.parquet of a listed model")
        if not isinstance(digest, str) or not _SHA256.match(digest):
            raise TraceError(f"{manifest_path}: file {rel!r} has no SHA-256 (found {digest!r})")
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir()} - {MANIFEST}
    unlisted = sorted(present - set(files))
    if unlisted:
        raise TraceError(f"{manifest_path} lists {len(files)} files but the folder holds {len(unlisted)} more "
                         f"(e.g. {unlisted[0]!r}); a manifest must list every file with its SHA-256")
    return manifest


_SAFE_FILE = re.compile(r"^(measurements|operators|aux-[A-Za-z0-9][A-Za-z0-9._+-]*)\.parquet$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class TraceSet:
    """A trace set folder: its manifest (checked on opening), and its models loaded on demand with hash checks."""

    def __init__(self, path: str | Path):
        if not isinstance(path, (str, os.PathLike)) or not str(path):
            raise TraceError(f"a trace set is a folder path, not {path!r}")
        self.path = Path(path)
        self.manifest = _read_manifest(self.path)
        self.name: str = self.manifest["name"]
        try:
            self.space = SearchSpace.from_dict(self.manifest["space"])
        except SpaceError as e:
            raise TraceError(f"{self.path / MANIFEST}: {e}") from None
        self._cache: dict[str, Trace] = {}

    @property
    def models(self) -> list[str]:
        return sorted(self.manifest["models"])

    def digest(self) -> str:
        """SHA-256 over the manifest's file hashes: identifies this exact trace set."""
        return hashlib.sha256(json.dumps(self.manifest["files"], sort_keys=True).encode()).hexdigest()

    def verify(self, model: str) -> None:
        """Check every file of one model against the manifest's SHA-256."""
        for rel, expected in self.manifest["files"].items():
            if not rel.startswith(f"{model}/"):
                continue
            file = self.path / rel
            if not file.exists():
                raise TraceError(f"trace set {self.name!r}: file {file} listed in the manifest is missing")
            actual = sha256_file(file)
            if actual != expected:
                raise TraceError(f"trace set {self.name!r}: {file} has SHA-256 {actual[:12]}..., the manifest "
                                 f"says {expected[:12]}... (corrupted or modified)")

    def load(self, model: str) -> Trace:
        if model not in self.manifest["models"]:
            raise TraceError(f"trace set {self.name!r} has no model {model!r}; models: {self.models}")
        if model not in self._cache:
            self.verify(model)
            folder = self.path / model
            try:
                measurements = pd.read_parquet(folder / "measurements.parquet")
                ops_file = folder / "operators.parquet"
                operators = pd.read_parquet(ops_file) if ops_file.exists() else None
                aux = {p.stem[4:]: pd.read_parquet(p) for p in sorted(folder.glob("aux-*.parquet"))}
            except (OSError, pa.ArrowException) as e:
                raise TraceError(f"trace set {self.name!r}: cannot read {folder}: {e}") from None
            self._cache[model] = Trace(model, self.space, measurements, operators,
                                       self.manifest["models"][model], aux)
        return self._cache[model]

    def load_many(self, models: Iterable[str]) -> list[Trace]:
        return [self.load(m) for m in models]
