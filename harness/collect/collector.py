"""The collector: every configuration of a space (or of one shard of it) measured in its own worker process,
journaled durably, then written as one model's trace into a trace set (atomically, next to its other models).

    <out>/                              the trace set (written by harness.traces.write_trace_set)
    <out>.collect/<key>.jsonl           the journal of one (model, shard): what was measured so far
    <out>.collect/<key>.lock            held while a collector measures that (model, shard)
    <out>.collect/set.lock              held for the short moment a collector writes the set

`<key>` is the model's name, or `<model>.shard-<i>-of-<n>` when the model's configurations are split over n
writers (`Shard`). Writers of different models or shards work at the same time; each finishing writer reads
the set as it is under the set lock and replaces only its own model, so no finished work of another is lost.

`measure_configuration` is the unit every writer repeats (and `harness.tune` reuses): one configuration of
one model on one backend, measured in a fresh worker process, returned as one journal record.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
from tqdm import tqdm

from harness.collect.actuators import thread_env
from harness.collect.backends import REPO, Backend, software
from harness.collect.journal import CollectError, CollectLock, Journal
from harness.collect.loadgen import __doc__ as LOADGEN_DOC
from harness.collect.models import resolve
from harness.config import ConfigError
from harness.paths import safe_name
from harness.vocabulary import canonical_profile
from harness.space import SearchSpace
from harness.traces import Trace, TraceSet, write_trace_set

NOTE = ("Measured on a machine that may be shared: timings carry the noise of other processes (see each "
        "session's load average); repetitions are kept.")
OPERATOR_PROFILE = (
    "torch.profiler: aten operators called directly by the forward pass; time_ms is inclusive time per batch "
    "(device time on a GPU), mem_mb the memory they allocate. Operator types are Relay names "
    "(harness.vocabulary.canonical_profile); the aten names as measured are in the auxiliary table "
    "operators_raw")
SET_LOCK_WAIT_S = 600.0  # finishing writers take the set lock in turn; each holds it for one set write


@dataclass(frozen=True)
class Settings:
    """How each configuration is measured; a journal is only resumed with the same settings.

    Every value is checked on construction (`check`: ConfigError naming `settings.KEY`), so the collector and the
    live tuner refuse a bad setting before measuring anything; `from_mapping` also refuses unknown keys."""

    reps: int = 3
    warmup_s: float = 1.0
    measure_s: float = 2.0
    min_batches: int = 3
    profile_batches: int = 2
    seed: int = 0
    timeout_s: float = 300.0
    # OpenMP threads that sleep instead of spinning at barriers: on a machine shared with other processes a
    # spinning team whose one thread is preempted runs several times slower (measured here: resnet-18 on 2
    # cores at load average 9, 0.6-1.3 vs 7.5-7.9 images/s).
    omp_wait_policy: str = "PASSIVE"

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        for key, (kind, minimum, strict) in SETTING_RULES.items():
            value = getattr(self, key)
            number = not isinstance(value, bool) and isinstance(value, (int, float) if kind is float else int)
            if not (number and math.isfinite(value) and (value > minimum if strict else value >= minimum)):
                what = "a whole number" if kind is int else "a number"
                raise ConfigError(f"settings.{key}={value!r}: must be {what} {'>' if strict else '>='} {minimum}")
        if self.omp_wait_policy not in OMP_WAIT_POLICIES:
            raise ConfigError(f"settings.omp_wait_policy={self.omp_wait_policy!r}: must be one of "
                              f"{', '.join(OMP_WAIT_POLICIES)}")

    @classmethod
    def from_mapping(cls, values: Any) -> "Settings":
        """Settings from a mapping of some of its keys (a preset of conf/collect/settings/, overridden)."""
        if not isinstance(values, Mapping):
            raise ConfigError(f"settings={values!r}: must be a mapping of {', '.join(f.name for f in fields(cls))}")
        unknown = sorted(str(k) for k in values if k not in {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError(f"settings.{unknown[0]} is not a setting; settings: "
                              f"{', '.join(f.name for f in fields(cls))}")
        return cls(**values)


# Per numeric setting: its type, its bound, and whether the bound itself is excluded.
SETTING_RULES = {"reps": (int, 1, False), "warmup_s": (float, 0, False), "measure_s": (float, 0, True),
                 "min_batches": (int, 1, False), "profile_batches": (int, 0, False), "seed": (int, 0, False),
                 "timeout_s": (float, 0, True)}
OMP_WAIT_POLICIES = ("PASSIVE", "ACTIVE")


@dataclass(frozen=True)
class Shard:
    """The configurations one writer measures: those whose index is `index` modulo `count`."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not (isinstance(self.count, int) and self.count >= 1 and isinstance(self.index, int)
                and 0 <= self.index < self.count):
            raise CollectError(f"shard.index={self.index!r} shard.count={self.count!r}: need a whole count >= 1 "
                               "and 0 <= index < count")

    def key(self, model: str) -> str:
        return model if self.count == 1 else f"{model}.shard-{self.index}-of-{self.count}"

    def owns(self, index: int) -> bool:
        return index % self.count == self.index

    def siblings(self) -> list["Shard"]:
        return [Shard(i, self.count) for i in range(self.count)]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def work_dir(out: Path) -> Path:
    return out.with_name(out.name + ".collect")


class Collector:
    """Measures `model` over `space` (the configurations of `shard`) with `backend` into the set at `out`."""

    def __init__(self, backend: Backend, model: str, space: SearchSpace, out: str | Path,
                 settings: Settings = Settings(), set_name: str | None = None, progress: bool = True,
                 shard: Shard = Shard()):
        self.backend, self.model_ref, self.space = backend, model, space
        self.out = Path(out).resolve()
        self.work = work_dir(self.out)
        self.settings, self.progress, self.shard = settings, progress, shard
        self.set_name = safe_name(set_name or self.out.name, "trace set name")  # before anything is measured
        self.model = self._model_name(model)

    def run(self) -> Path | None:
        """Measure what this shard's journal lacks, then write the model into the set once all its shards are
        measured; returns the set's path, or None while other shards of the model are still to be measured."""
        self.backend.check(self.space)
        self._existing_set()  # refuse a set over another space before measuring anything
        self.work.mkdir(parents=True, exist_ok=True)
        (self.work / ".gitignore").write_text("*\n")  # working state, not for version control
        key = self.shard.key(self.model)
        with CollectLock(self.work / f"{key}.lock"):
            journal = Journal(self.work / f"{key}.jsonl")
            records = self._resume(journal)
            done = {r["index"] for r in records if r["kind"] == "config"}
            mine = [i for i in measuring_order(len(self.space), self.settings.seed) if self.shard.owns(i)]
            todo = [i for i in mine if i not in done]
            bar = tqdm(todo, total=len(mine), initial=len(mine) - len(todo), unit="config",
                       disable=not self.progress, desc=f"{self.backend.name} {key}", dynamic_ncols=True)
            try:
                for index in bar:
                    config = self.space.config(index)
                    bar.set_postfix_str(" ".join(f"{k}={v}" for k, v in config.items()))
                    record = {"kind": "config", "index": index, "config": config, "date": _now(),
                              **self._measure(config)}
                    journal.append(record)
            finally:
                bar.close()
                if self.backend.power_cap is not None:
                    self.backend.power_cap.restore()
        return self.finish()

    def finish(self) -> Path | None:
        """Under the set lock: if every shard of the model is measured, write the model into the set as the set
        is now (other writers' models kept); None if a shard is still missing configurations."""
        with CollectLock(self.work / "set.lock", wait_s=SET_LOCK_WAIT_S):
            records = self._model_records()
            measured = {r["index"] for r in records if r["kind"] == "config"}
            if len(measured) < len(self.space):
                return None
            existing = self._existing_set()
            trace = self._build_trace(records)
            others = [existing.load(m) for m in existing.models if m != self.model] if existing else []
            return write_trace_set(self.out, others + [trace], self.set_name, self._set_info())

    # -- what a backend of another kind (harness.collect.llm) replaces --------------------------------------
    def _model_name(self, model: str) -> str:
        """The trace's name of `model` (a name of the model zoo or `package.module:SPEC`)."""
        try:
            return resolve(model)[0].name
        except ValueError as e:
            raise CollectError(str(e)) from None

    def _build_trace(self, records: list[dict]) -> Trace:
        return build_trace(self.model, self.space, records, self.backend, self.settings)

    def _set_info(self) -> dict:
        return {"provenance": "measured", "backend": self.backend.name}

    def _model_records(self) -> list[dict]:
        """The records of every shard of this model: one header (all shards' headers must agree), then the
        sessions and configurations of all shards."""
        headers, rest = [], []
        for shard in self.shard.siblings():
            journal = Journal(self.work / f"{shard.key(self.model)}.jsonl")
            records = journal.read(repair=shard == self.shard)  # another writer may be appending to its own
            if records:
                headers.append((journal.path, records[0]))
                rest.extend(records[1:])
        for path, header in headers[1:]:
            for key in ("model", "backend", "space", "settings", "machine"):
                if _same_key(key, header.get(key)) != _same_key(key, headers[0][1].get(key)):
                    raise CollectError(f"journals {headers[0][0].name} and {path.name} of one model were started "
                                       f"with another {key}: the model's shards must be measured alike")
        sessions = sorted((r for r in rest if r["kind"] == "session"), key=lambda r: r["date"])
        return [headers[0][1]] + sessions + [r for r in rest if r["kind"] == "config"]

    def _existing_set(self) -> TraceSet | None:
        if not (self.out / "MANIFEST.json").exists():
            return None
        existing = TraceSet(self.out)
        if existing.space != self.space:
            raise CollectError(f"trace set {self.out} is over space {existing.space.name!r}, not "
                               f"{self.space.name!r}: collect into another folder")
        return existing

    def _resume(self, journal: Journal) -> list[dict]:
        header = {"kind": "header", "model": self.model, "model_ref": self.model_ref,
                  "backend": self.backend.name, "space": self.space.to_dict(), "settings": asdict(self.settings),
                  "machine": self.backend.machine()}
        records = journal.read()
        if not records:
            journal.append(header)
            records = [header]
        else:
            old = records[0]
            for key in ("model", "backend", "space", "settings", "machine"):
                if _same_key(key, old.get(key)) != _same_key(key, json.loads(json.dumps(header[key]))):
                    raise CollectError(f"journal {journal.path} was started with another {key} "
                                       f"({old.get(key)!r}); collect into another folder or delete the journal")
        seen: set[int] = set()
        for r in records:
            if r["kind"] == "config":
                if r["index"] in seen:
                    raise CollectError(f"journal {journal.path} records configuration {r['config']} twice: two "
                                       "collectors wrote to it (was its folder deleted under a running one?)")
                seen.add(r["index"])
        session = {"kind": "session", "date": _now(), "pid": os.getpid(), "load_avg": list(os.getloadavg()),
                   "software": software()}
        journal.append(session)
        return records + [session]

    def _measure(self, config: dict) -> dict:
        return measure_configuration(self.backend, self.model_ref, config, self.settings, self.work)


def measure_configuration(backend: Backend, model_ref: str, config: dict, settings: Settings,
                          scratch: Path) -> dict:
    """Measure one configuration of one model on `backend` (already `check`ed) in a fresh worker process.

    Returns the fields of one journal record (feasible, reason, reps, operators, ...); a crash or a timeout
    is an infeasible result with its reason, never an exception. `scratch` is a folder for the request and
    result files. The caller appends the record (`Journal.append`) before measuring the next configuration.
    """
    s = settings
    request = {"model": model_ref, "config": config, "backend": backend.name, "device": backend.device,
               **asdict(s)}
    env = {**os.environ, **thread_env(int(config.get("cpu_cores", os.cpu_count() or 1))),
           "OMP_WAIT_POLICY": s.omp_wait_policy,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    if backend.power_cap is not None and "gpu_power_pct" in config:
        backend.power_cap.set(config["gpu_power_pct"])
    with tempfile.TemporaryDirectory(prefix="worker-", dir=scratch) as tmp:
        req_path, res_path = Path(tmp) / "request.json", Path(tmp) / "result.json"
        req_path.write_text(json.dumps(request))
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, "-m", "harness.collect.worker", str(req_path),
                                   str(res_path)], env=env, capture_output=True, text=True,
                                  timeout=s.timeout_s)
        except subprocess.TimeoutExpired:
            return {"feasible": False, "reason": f"timed out after {s.timeout_s:.0f} s"}
        wall = time.perf_counter() - t0
        if proc.returncode == 0 and res_path.exists():
            return {**json.loads(res_path.read_text()), "wall_s": wall}
    return {"feasible": False, "reason": crash_reason(proc.returncode, proc.stderr), "wall_s": wall}


def measuring_order(n: int, seed: int) -> list[int]:
    """Configurations in a seeded random order, so that a drift in the machine's load (others' jobs starting
    and stopping) is not confounded with the knobs, as it would be in index order."""
    return [int(i) for i in np.random.default_rng([seed, 0xC0]).permutation(n)]


def _same_key(key: str, value):
    """The part of a header entry that must not change between sessions (the kernel version may). A journal
    started before machines had labels has none: a GPU machine's is its GPU type, a CPU machine's None."""
    if key == "machine" and isinstance(value, dict):
        return {"cpu": value.get("cpu"), "usable_cpus": value.get("usable_cpus"), "gpu_type": value.get("gpu_type"),
                "label": value.get("label", value.get("gpu_type"))}
    return value


def crash_reason(returncode: int, stderr: str) -> str:
    if returncode < 0:
        sig = signal.Signals(-returncode).name
        hint = " (the kernel's out-of-memory killer?)" if sig == "SIGKILL" else ""
        return f"worker crashed: killed by {sig}{hint}"
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    return f"worker crashed (exit code {returncode}): {lines[-1][:300] if lines else 'no message'}"


# -- journal -> trace -------------------------------------------------------------------------------------
# What every backend measures for a feasible configuration (power and GPU memory only where NVML and a GPU are).
MEASURED_FIELDS = ("rps", "latency_p50_ms", "latency_p99_ms", "price_per_hour")


def measurement_rows(record: dict, config: dict, price: float, reps: int) -> list[dict]:
    """The trace rows (one per repetition) of one measured journal record at `price` $/h: the one place that
    turns a measurement into trace values (`build_trace`) and into a live trial's metrics (`harness.tune`).
    Objective = requests per dollar = rps x 3600 / price; 0 where the configuration is infeasible."""
    rows = []
    for rep in range(reps):
        row = {**config, "rep": rep, "feasible": bool(record["feasible"]), "reason": record.get("reason", ""),
               "price_per_hour": price, "objective": 0.0}
        if record["feasible"]:
            m = record["reps"][rep]
            row.update(rps=m["rps"], latency_p50_ms=m["latency_p50_ms"], latency_p99_ms=m["latency_p99_ms"],
                       objective=m["rps"] * 3600.0 / price)
            if "power_w" in m:
                row["power_w"] = m["power_w"]
            if "gpu_mem_used_gb" in record:
                row["gpu_mem_used_gb"] = record["gpu_mem_used_gb"]
        rows.append(row)
    return rows


def build_trace(model: str, space: SearchSpace, records: list[dict], backend: Backend,
                settings: Settings) -> Trace:
    """The trace of one model from its journal records (every configuration of the space must be there)."""
    configs = {r["index"]: r for r in records if r["kind"] == "config"}
    missing = [i for i in range(len(space)) if i not in configs]
    if missing:
        raise CollectError(f"{len(missing)} configurations of {model!r} are not measured yet, the first "
                           f"being {space.config(missing[0])}")
    rows, ops, raw_ops, runs = [], [], [], []
    optional = ("gpu_mem_used_gb", "power_w")
    for index in range(len(space)):
        rec = configs[index]
        config = space.config(index)
        rows.extend(measurement_rows(rec, config, backend.price_per_hour(config), settings.reps))
        if rec["feasible"]:
            runs.extend({"config_index": index, "rep": rep, "date": rec["date"], "batches": m["batches"],
                         "elapsed_s": m["elapsed_s"], "energy_j": m.get("energy_j", np.nan),
                         "host_mem_peak_mb": rec["host_mem_peak_mb"], "worker_s": rec["worker_s"]}
                        for rep, m in enumerate(rec["reps"][:settings.reps]))
            ops.extend(profile_rows(index, canonical_profile(rec["operators"])))
            raw_ops.extend({"config_index": index, **o} for o in rec["operators"])
    measurements = pd.DataFrame(rows)
    feasible = measurements["feasible"].to_numpy()
    for field in optional:  # a field is kept only where every feasible measurement has it: absent, not zero
        if field in measurements and measurements.loc[feasible, field].isna().any():
            measurements = measurements.drop(columns=field)
    sessions = [r for r in records if r["kind"] == "session"]
    header = next(r for r in records if r["kind"] == "header")
    metadata = {
        "provenance": "measured", "backend": backend.name, "model_ref": header["model_ref"],
        "machine": header["machine"], "settings": header["settings"], "price_model": backend.price_model(),
        "objective": "requests per dollar = rps x 3600 / price_per_hour",
        "date_start": sessions[0]["date"] if sessions else None,
        "date_end": max(r["date"] for r in configs.values()),
        "sessions": [{k: s[k] for k in ("date", "load_avg", "software")} for s in sessions],
        "software": sessions[-1]["software"] if sessions else software(),
        "load_generator": " ".join(LOADGEN_DOC.split()),
        "operator_profile": OPERATOR_PROFILE,
        "measuring_order": "a seeded random permutation of the configurations (settings.seed); each "
                           "configuration's repetitions are consecutive windows in one worker process",
        "note": NOTE, "seed": header["settings"]["seed"]}
    aux = {"runs": pd.DataFrame(runs)} if runs else {}
    if raw_ops:
        aux["operators_raw"] = pd.DataFrame(raw_ops, columns=["config_index", "op_type", "time_ms", "mem_mb"])
    operators = pd.DataFrame(ops) if ops else None
    return Trace(model, space, measurements, operators, metadata, aux)


def profile_rows(index: int, operators: list[dict]) -> list[dict]:
    time_total = sum(o["time_ms"] for o in operators)
    mem_total = sum(o["mem_mb"] for o in operators)
    return [{"config_index": index, "op_type": o["op_type"], "time_ms": o["time_ms"], "mem_mb": o["mem_mb"],
             "time_share": o["time_ms"] / time_total if time_total > 0 else np.nan,
             "mem_share": o["mem_mb"] / mem_total if mem_total > 0 else np.nan} for o in operators]
