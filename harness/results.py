"""Results of searches on disk: one folder per job, written atomically, read back with clear errors.

    <results_dir>/<trace set>/<method>/<target>/seed=<n>/trials.jsonl   one JSON line per trial
    <results_dir>/<trace set>/<method>/<target>/seed=<n>/job.json       the job's parameters; written last

A job is finished when both files exist and `trials.jsonl` holds the number of trials `job.json` names, so a
sweep that is killed and started again skips finished jobs and redoes the rest.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

import pandas as pd

from harness.paths import safe_name

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


def is_done(folder: Path) -> bool:
    try:
        read_job(folder)
    except ResultsError:
        return False
    return True


def job_folders(results_dir: str | Path) -> Iterator[Path]:
    """Every job folder under a results folder (finished or not), in sorted order."""
    root = Path(results_dir)
    yield from sorted(p.parent for p in root.glob(f"*/*/*/seed=*/{TRIALS}"))


def load_results(results_dir: str | Path) -> pd.DataFrame:
    """All trial records of all finished jobs: one row per (job, trial), with the job's parameters."""
    rows = []
    for folder in job_folders(results_dir):
        job, records = read_job(folder)
        for r in records:
            rows.append({"trace_set": job["trace_set"], "method": job["method"], "target": job["target"],
                         "seed": job["seed"], **r})
    return pd.DataFrame(rows)
