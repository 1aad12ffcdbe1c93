"""Live trials: the `harness.loop.Evaluator` of live tuning, which measures a configuration for real on this
machine, through the collector's worker (`harness.collect.collector.measure_configuration`).

Every measurement is appended durably to the tune's journal before the searcher learns it. A tune that starts
again replays its journal: the evaluator answers the trials it already measured from the journal, in order, and
refuses a proposal that differs from what was measured then (the method's code changed); only then does it
measure again. So a killed tune resumes without measuring anything twice, through the same loop as replay.
"""

from __future__ import annotations

import math
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from harness.collect.backends import Backend
from harness.collect.collector import MEASURED_FIELDS, Settings, measure_configuration, measurement_rows, profile_rows
from harness.collect.journal import Journal
from harness.loop import Evaluator
from harness.search import Observation
from harness.space import Config, SearchSpace
from harness.traces import MEASUREMENT_FIELDS, OpStat
from harness.vocabulary import canonical_profile


class JournalMismatch(ValueError):
    """A searcher that no longer proposes what the journal measured; the message says where."""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def observe(space: SearchSpace, record: dict, price: float, reps: int) -> Observation:
    """The observation of one measured journal record: the mean over its repetitions of what was measured (as a
    trace's true values are), requests per dollar as the collector computes it (`measurement_rows`); the loop
    judges it against the SLO."""
    index = int(record["index"])
    config = space.config(index)
    rows = measurement_rows(record, config, price, reps)
    metrics = {f: float(np.mean([r[f] for r in rows])) for f in MEASUREMENT_FIELDS
               if f != "objective" and all(f in r for r in rows)}
    profile = None
    if record["feasible"] and record.get("operators"):
        profile = {r["op_type"]: OpStat(r["time_share"], r["mem_share"], r["time_ms"], r["mem_mb"])
                   for r in profile_rows(index, canonical_profile(record["operators"]))}
    wall = float(record.get("wall_s", math.nan))
    return Observation(config, index, float(np.mean([r["objective"] for r in rows])), bool(record["feasible"]),
                       metrics, profile, price * wall / 3600.0, wall, record.get("reason", ""))


class LiveEvaluator(Evaluator):
    """Measures `model_ref` on `backend` at each configuration asked, appending each measurement to `journal`;
    the first trials are answered from `journaled` (the journal's records of an earlier start)."""

    def __init__(self, backend: Backend, model_ref: str, space: SearchSpace, settings: Settings, work_dir: Path,
                 journal: Journal, journaled: list[dict],
                 measuring: Callable[[Config], None] = lambda config: None):
        self.backend, self.model_ref, self.space = backend, model_ref, space
        self.settings, self.work_dir, self.journal = settings, work_dir, journal
        self._journaled = list(journaled)
        self._measuring = measuring  # told each configuration before it is measured (a progress display)
        self.records: list[dict] = []  # the journal record of every trial so far, in order

    @property
    def replayed(self) -> bool:
        """Whether the last trial was answered from the journal rather than measured."""
        return len(self.records) <= len(self._journaled)

    def trial(self, config: Mapping) -> Observation:
        index = self.space.index(config)
        trial = len(self.records) + 1
        if trial <= len(self._journaled):
            record = self._journaled[trial - 1]
            if record["index"] != index:
                raise JournalMismatch(f"{self.journal.path}: trial {trial} measured {record['config']}, but the "
                                      f"searcher now proposes {self.space.config(index)} with the same seed: the "
                                      "method's code changed since; tune into a new out")
        else:
            config = self.space.config(index)
            self._measuring(config)
            measured = measure_configuration(self.backend, self.model_ref, config, self.settings, self.work_dir)
            record = {"kind": "config", "trial": trial, "index": index, "config": config, "date": now(),
                      "load_avg": list(os.getloadavg()), **measured}
            self.journal.append(record)  # durable before the searcher learns it
        self.records.append(record)
        return observe(self.space, record, self.backend.price_per_hour(self.space.config(index)),
                       self.settings.reps)


def trial_entry(trial: int, obs: Observation, record: dict) -> dict:
    """One trial as tune.json records it (`obs` judged against the SLO)."""
    return {"trial": trial, "index": obs.index, "config": obs.config, "feasible": obs.feasible,
            "reason": obs.reason, **{f: obs.metrics.get(f) for f in MEASURED_FIELDS},
            "objective": obs.objective, "slo_met": obs.feasible and obs.slo_met,
            "slo_misses": list(obs.slo_misses), "wall_s": record.get("wall_s"), "date": record["date"],
            "load_avg": record["load_avg"]}
