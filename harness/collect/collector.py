"""The collector: every configuration of a space measured in its own worker process, journaled durably, then
written as one model's trace into a trace set (atomically, next to the set's other models).

    <out>/                    the trace set (written by harness.traces.write_trace_set)
    <out>.collect/<model>.jsonl   the journal: what was measured so far (see harness.collect.journal)
    <out>.collect/collect.lock    held while a collector works on this set
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from harness.collect.actuators import thread_env
from harness.collect.backends import REPO, Backend, software
from harness.collect.journal import CollectError, CollectLock, Journal
from harness.collect.loadgen import __doc__ as LOADGEN_DOC
from harness.collect.models import resolve
from harness.space import SearchSpace
from harness.traces import Trace, TraceSet, write_trace_set

NOTE = ("Measured on a machine that may be shared: timings carry the noise of other processes (see each "
        "session's load average); repetitions are kept.")


@dataclass(frozen=True)
class Settings:
    """How each configuration is measured; a journal is only resumed with the same settings."""

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


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def work_dir(out: Path) -> Path:
    return out.with_name(out.name + ".collect")


class Collector:
    """Measures `model` over `space` with `backend` into the trace set at `out`."""

    def __init__(self, backend: Backend, model: str, space: SearchSpace, out: str | Path,
                 settings: Settings = Settings(), set_name: str | None = None, progress: bool = True):
        self.backend, self.model_ref, self.space = backend, model, space
        self.out = Path(out).resolve()
        self.work = work_dir(self.out)
        self.settings, self.progress = settings, progress
        self.set_name = set_name or self.out.name
        try:
            self.spec = resolve(model)[0]
        except ValueError as e:
            raise CollectError(str(e)) from None
        self.model = self.spec.name

    def run(self) -> Path:
        """Measure what the journal lacks, then write the trace set; returns its path."""
        self.backend.check(self.space)
        with CollectLock(self.work / "collect.lock"):
            existing = self._existing_set()  # read under the lock: no other collector changes the set now
            (self.work / ".gitignore").write_text("*\n")  # working state, not for version control
            journal = Journal(self.work / f"{self.model}.jsonl")
            records = self._resume(journal)
            done = {r["index"] for r in records if r["kind"] == "config"}
            todo = [i for i in measuring_order(len(self.space), self.settings.seed) if i not in done]
            bar = tqdm(todo, total=len(self.space), initial=len(done), unit="config", disable=not self.progress,
                       desc=f"{self.backend.name} {self.model}", dynamic_ncols=True)
            try:
                for index in bar:
                    config = self.space.config(index)
                    bar.set_postfix_str(" ".join(f"{k}={v}" for k, v in config.items()))
                    record = {"kind": "config", "index": index, "config": config, "date": _now(),
                              **self._measure(config)}
                    journal.append(record)
                    records.append(record)
            finally:
                bar.close()
                if self.backend.power_cap is not None:
                    self.backend.power_cap.restore()
            trace = build_trace(self.model, self.space, records, self.backend, self.settings)
            others = [existing.load(m) for m in existing.models if m != self.model] if existing else []
            info = {"provenance": "measured", "backend": self.backend.name}
            return write_trace_set(self.out, others + [trace], self.set_name, info)

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
        """Run one configuration in a fresh worker process; a crash or a timeout is an infeasible result."""
        s = self.settings
        request = {"model": self.model_ref, "config": config, "backend": self.backend.name,
                   "device": self.backend.device, **asdict(s)}
        env = {**os.environ, **thread_env(int(config.get("cpu_cores", os.cpu_count() or 1))),
               "OMP_WAIT_POLICY": s.omp_wait_policy,
               "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        if self.backend.power_cap is not None and "gpu_power_pct" in config:
            self.backend.power_cap.set(config["gpu_power_pct"])
        with tempfile.TemporaryDirectory(prefix="worker-", dir=self.work) as tmp:
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
    """The part of a header entry that must not change between sessions (the kernel version may)."""
    if key == "machine" and isinstance(value, dict):
        return {k: v for k, v in value.items() if k in ("cpu", "usable_cpus", "gpu_type")}
    return value


def crash_reason(returncode: int, stderr: str) -> str:
    if returncode < 0:
        sig = signal.Signals(-returncode).name
        hint = " (the kernel's out-of-memory killer?)" if sig == "SIGKILL" else ""
        return f"worker crashed: killed by {sig}{hint}"
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    return f"worker crashed (exit code {returncode}): {lines[-1][:300] if lines else 'no message'}"


# -- journal -> trace -------------------------------------------------------------------------------------
def build_trace(model: str, space: SearchSpace, records: list[dict], backend: Backend,
                settings: Settings) -> Trace:
    """The trace of one model from its journal records (every configuration of the space must be there)."""
    configs = {r["index"]: r for r in records if r["kind"] == "config"}
    missing = [i for i in range(len(space)) if i not in configs]
    if missing:
        raise CollectError(f"{len(missing)} configurations of {model!r} are not measured yet, the first "
                           f"being {space.config(missing[0])}")
    rows, ops, runs = [], [], []
    optional = ("gpu_mem_used_gb", "power_w")
    for index in range(len(space)):
        rec = configs[index]
        config = space.config(index)
        price = backend.price_per_hour(config)
        for rep in range(settings.reps):
            row = {**config, "rep": rep, "feasible": bool(rec["feasible"]), "reason": rec.get("reason", ""),
                   "price_per_hour": price, "objective": 0.0}
            if rec["feasible"]:
                m = rec["reps"][rep]
                row.update(rps=m["rps"], latency_p50_ms=m["latency_p50_ms"], latency_p99_ms=m["latency_p99_ms"],
                           objective=m["rps"] * 3600.0 / price)
                if "power_w" in m:
                    row["power_w"] = m["power_w"]
                if "gpu_mem_used_gb" in rec:
                    row["gpu_mem_used_gb"] = rec["gpu_mem_used_gb"]
                runs.append({"config_index": index, "rep": rep, "date": rec["date"], "batches": m["batches"],
                             "elapsed_s": m["elapsed_s"], "energy_j": m.get("energy_j", np.nan),
                             "host_mem_peak_mb": rec["host_mem_peak_mb"], "worker_s": rec["worker_s"]})
            rows.append(row)
        if rec["feasible"]:
            ops.extend(_op_rows(index, rec["operators"]))
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
        "operator_profile": "torch.profiler: aten operators called directly by the forward pass; time_ms is "
                            "inclusive time per batch (device time on a GPU), mem_mb the memory they allocate",
        "measuring_order": "a seeded random permutation of the configurations (settings.seed); each "
                           "configuration's repetitions are consecutive windows in one worker process",
        "note": NOTE, "seed": header["settings"]["seed"]}
    aux = {"runs": pd.DataFrame(runs)} if runs else {}
    operators = pd.DataFrame(ops) if ops else None
    return Trace(model, space, measurements, operators, metadata, aux)


def _op_rows(index: int, operators: list[dict]) -> list[dict]:
    time_total = sum(o["time_ms"] for o in operators)
    mem_total = sum(o["mem_mb"] for o in operators)
    return [{"config_index": index, "op_type": o["op_type"], "time_ms": o["time_ms"], "mem_mb": o["mem_mb"],
             "time_share": o["time_ms"] / time_total if time_total > 0 else np.nan,
             "mem_share": o["mem_mb"] / mem_total if mem_total > 0 else np.nan} for o in operators]
