"""Results of searches on disk: one folder per job, written atomically, read back with clear errors.

    <results_dir>/<trace set>/<method>/<target>/seed=<n>/trials.jsonl   one JSON line per trial
    <results_dir>/<trace set>/<method>/<target>/seed=<n>/job.json       the job's parameters; written last

A job is finished when both files exist and `trials.jsonl` holds the number of trials `job.json` names, so a
sweep that is killed and started again skips finished jobs and redoes the rest. `job.json` also records the job's
identity (`harness.job.job_identity`): a finished job is reused only under the same identity, and `differences`
says what changed otherwise. It records where the job's trace set was (absolute, and relative to the job folder)
with the set's digest, so `locate_trace_set` finds the set from any working directory, even after the results
and the traces moved together.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pandas as pd

from harness.paths import safe_name
from harness.traces import TraceError, TraceSet

TRIALS, JOB = "trials.jsonl", "job.json"


class ResultsError(ValueError):
    """A results file that cannot be read; the message names the file."""


def job_dir(results_dir: str | Path, trace_set: str, method: str, target: str, seed: int) -> Path:
    """A job's folder; the names in it must be single safe path components (nothing lands outside results_dir)."""
    parts = [safe_name(trace_set, "trace set name"), safe_name(method, "method name"), safe_name(target, "target")]
    return Path(results_dir).joinpath(*parts, f"seed={seed}")


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a temporary sibling, fsync, then rename into place: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes files private; results are for everyone to read
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_job(folder: Path, records: list[dict], job: dict) -> None:
    atomic_write_text(folder / TRIALS, "".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
    atomic_write_text(folder / JOB, json.dumps({**job, "n_trials": len(records)}, sort_keys=True, indent=1) + "\n")


def read_job(folder: Path) -> tuple[dict, list[dict]]:
    """The job's parameters and its trial records; ResultsError naming the file when anything is off."""
    job_path, trials_path = folder / JOB, folder / TRIALS
    try:
        job = json.loads(job_path.read_text())
    except FileNotFoundError:
        raise ResultsError(f"{job_path}: missing (the job did not finish)") from None
    except json.JSONDecodeError as e:
        raise ResultsError(f"{job_path}: not valid JSON ({e})") from None
    if not trials_path.exists():
        raise ResultsError(f"{trials_path}: missing")
    records = []
    for n, line in enumerate(trials_path.read_text().splitlines(), 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise ResultsError(f"{trials_path}, line {n}: malformed record ({e})") from None
        if not isinstance(record, dict) or "accuracy" not in record or "trial" not in record:
            raise ResultsError(f"{trials_path}, line {n}: not a trial record")
        records.append(record)
    if len(records) != job.get("n_trials"):
        raise ResultsError(f"{trials_path}: {len(records)} records, {job_path} says {job.get('n_trials')} "
                           "(truncated?)")
    return job, records


def differences(old: dict, new: dict) -> list[str]:
    """`key: old -> new` for every dotted key whose value differs between two nested dicts, in key order."""
    flat_old, flat_new = _flatten(old), _flatten(new)
    unset = "<unset>"
    return [f"{key}: {flat_old.get(key, unset)} -> {flat_new.get(key, unset)}"
            for key in sorted(flat_old.keys() | flat_new.keys())
            if flat_old.get(key, unset) != flat_new.get(key, unset)]


def _flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = json.dumps(value, sort_keys=True)
    return flat


def trace_location(traces: TraceSet, folder: Path) -> dict:
    """What a job records to find its trace set again: name, digest, absolute path, path from the job folder."""
    path = traces.path.resolve()
    return {"trace_set": traces.name, "trace_set_digest": traces.digest(), "trace_path": str(path),
            "trace_path_from_job": os.path.relpath(path, folder.resolve())}


def locate_trace_set(job: dict, folder: Path) -> TraceSet:
    """The job's trace set: at its absolute path, else relative to the job folder; its digest must match."""
    candidates = [Path(job["trace_path"])]
    if "trace_path_from_job" in job:
        candidates.append(folder / job["trace_path_from_job"])
    for path in candidates:
        try:
            traces = TraceSet(path)
        except TraceError:
            continue
        if traces.digest() == job["trace_set_digest"]:
            return traces
    raise ResultsError(f"{folder / JOB}: trace set {job['trace_set']!r} (digest {job['trace_set_digest'][:12]}...) "
                       f"is not at {' nor '.join(str(p) for p in candidates)}")


@dataclass(frozen=True)
class FinishedJob:
    folder: Path
    job: dict  # the job's parameters (job.json)
    records: list[dict]  # its trial records, in trial order


def job_folders(results_dir: str | Path) -> Iterator[Path]:
    """Every job folder under a results folder (finished or not), in sorted order."""
    root = Path(results_dir)
    yield from sorted(p.parent for p in root.glob(f"*/*/*/seed=*/{TRIALS}"))


def read_jobs(results_dir: str | Path) -> list[FinishedJob]:
    """Every job under a results folder, each read once; ResultsError naming the file of a broken one."""
    return [FinishedJob(folder, *read_job(folder)) for folder in job_folders(results_dir)]


def records_table(jobs: list[FinishedJob]) -> pd.DataFrame:
    """All trial records of the jobs: one row per (job, trial), with the job's parameters."""
    return pd.DataFrame([{"trace_set": j.job["trace_set"], "method": j.job["method"], "target": j.job["target"],
                          "seed": j.job["seed"], **r} for j in jobs for r in j.records])
