"""The hyperparameter-tuning protocol: one procedure and budget for every method, on the trace set's source
models only (the app is `python -m harness.hpo`).

Each method declares what it tunes in its config: a top-level `tuning: {params: {KEY: RANGE}}` block, KEY a
dotted key of the method config (`searcher.cp`), RANGE `{low, high}` (floats; `log: true` for a log scale,
`int: true` for integers) or `{choices: [...]}`, with `online: true` where only the search uses the value (not
the offline fit: those candidates share one fitted state); a method with nothing to tune declares `params: {}`. Every method
gets the same budget: `budget` Optuna trials with a seeded TPE sampler, the configured defaults enqueued as the
first candidate (so tuning never returns something worse on the protocol than the defaults).

A candidate is scored by grouped k-fold cross-validation over the split's *source* models: the sources are dealt
round-robin into `folds` groups; each group in turn plays the unseen targets while the method learns offline from
the other groups; `folds` = number of sources is leave-one-source-out. The score is the mean over held-out
models x `seeds` of the mean accuracy over t = 1..`trials`. Target models are never loaded.

`write_record` writes `conf/method/tuned/<trace set>/<method>.yaml` (or under `out`): the chosen values, every
trial's values and score, the protocol and the trace-set digest; runs and sweeps apply it
(`harness.hpo.tuned_values`).

Under `constraints` (the run's SLO keys; a latency percentile resolves on each held-out source's own trace) every
candidate is scored by constrained searches. Such values are tuned for that scenario, so they are written only
under an explicit `out` (never over the unconstrained values in conf/method/tuned), and the record names the
constraints.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from joblib import Parallel, delayed
from omegaconf import DictConfig, OmegaConf

from harness.hpo.tuned_values import has_key, tuned_file
from harness.job import compose_run, fit_searcher, leave_one_out, make_searcher, replay_search
from harness.paths import trace_set_path
from harness.results import atomic_write_text
from harness.search import TransferSearcher
from harness.slo import check_slo, resolve_slo
from harness.traces import TraceSet


class TuningError(ValueError):
    """A tuning request or a `tuning:` block that cannot be used; the message says why."""


@dataclass
class HPOProtocol:
    """How every candidate is scored; the same for every method."""

    budget: int = 8        # Optuna trials per method, the defaults included
    folds: int = 3         # grouped k-fold over the source models (number of sources: leave-one-source-out)
    seeds: int = 1         # search seeds 0 .. seeds-1 per held-out source
    trials: int = 10       # trials per search; the score is the mean accuracy over t = 1..trials
    seed: int = 0          # seeds the TPE sampler

    def check(self, n_sources: int) -> None:
        for key in ("budget", "folds", "seeds", "trials"):
            if getattr(self, key) < 1:
                raise TuningError(f"{key}={getattr(self, key)}: must be at least 1")
        if not 2 <= self.folds <= n_sources:
            raise TuningError(f"folds={self.folds}: must be between 2 and the number of source models "
                              f"({n_sources})")


@dataclass(frozen=True)
class Param:
    """One tunable hyperparameter: a dotted key of the method config and its range."""

    key: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: tuple | None = None
    online: bool = False   # only the search uses it, not the offline fit: candidates share one fitted state

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.choices is not None:
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.integer:
            return trial.suggest_int(self.key, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.key, self.low, self.high, log=self.log)

    def contains(self, value: Any) -> bool:
        if self.choices is not None:
            return value in self.choices
        return isinstance(value, (int, float)) and self.low <= value <= self.high and \
            (not self.integer or float(value).is_integer())


def params_of(method_cfg: DictConfig) -> list[Param]:
    """The method's `tuning.params`, validated against its config; refuses anything it cannot use."""
    name = method_cfg.name
    tuning = method_cfg.get("tuning")
    if tuning is not None and tuning.get("of"):
        raise TuningError(f"method {name!r} is a variant of {tuning.of!r} and uses its tuned values: tune "
                          f"{tuning.of!r} instead")
    if tuning is None or "params" not in tuning:
        raise TuningError(f"method {name!r} has no `tuning: {{params: ...}}` block in conf/method/{name}.yaml "
                          "(declare `params: {}` if it has nothing to tune)")
    params = []
    for key, spec in OmegaConf.to_container(tuning.params, resolve=True).items():
        where = f"method {name!r}: tuning.params.{key}"
        if not has_key(method_cfg, key):
            raise TuningError(f"{where}: {key!r} is not a key of the method config")
        unknown = set(spec) - {"low", "high", "log", "int", "choices", "online"}
        if unknown:
            raise TuningError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: low, high, log, int, choices, "
                              "online")
        online = bool(spec.get("online", False))
        if "choices" in spec:
            param = Param(key, choices=tuple(spec["choices"]), online=online)
            if not param.choices:
                raise TuningError(f"{where}: choices must not be empty")
        else:
            low, high = spec.get("low"), spec.get("high")
            if not (isinstance(low, (int, float)) and isinstance(high, (int, float)) and low < high):
                raise TuningError(f"{where}: needs numbers low < high, not low={low!r} high={high!r}")
            if spec.get("log") and low <= 0:
                raise TuningError(f"{where}: a log range needs low > 0, not {low!r}")
            param = Param(key, float(low), float(high), bool(spec.get("log", False)), bool(spec.get("int", False)),
                          online=online)
        default = OmegaConf.select(method_cfg, key)
        if not param.contains(default):
            raise TuningError(f"{where}: the configured value {default!r} is outside the range; the defaults "
                              "must be a candidate")
        params.append(param)
    return params


def source_folds(sources: list[str], folds: int) -> list[list[str]]:
    """The sources dealt round-robin into `folds` groups, in the split's order."""
    return [sources[k::folds] for k in range(folds)]


def score_fold(method: str, overrides: list[str], values: dict, online: set[str], traces_path: str,
               train: list[str], held_out: list[str], protocol: HPOProtocol, fit_dir: str) -> list[float]:
    """Mean accuracy over t = 1..trials of every (held-out source, seed) search, fitted on `train` only.

    The fit goes through the run's JSON fit cache (in `fit_dir`), keyed by the method config without the `online`
    keys, so candidates that differ only in what the search uses share one fitted state.
    """
    traces = TraceSet(traces_path)
    scores = []
    for model in held_out:
        cfg = compose_run([f"method={method}", f"target={model}", *overrides])
        cfg.split.source = train
        constraints = resolve_slo(cfg.constraints, traces, model).constraints
        fit_cfg = cfg.copy()
        for key, value in values.items():
            OmegaConf.update(cfg.method, key, value, merge=False)
            if key not in online:
                OmegaConf.update(fit_cfg.method, key, value, merge=False)
        for seed in range(protocol.seeds):
            searcher = make_searcher(cfg.method)
            if isinstance(searcher, TransferSearcher):
                fit_searcher(searcher, fit_cfg, traces, Path(fit_dir))
            curve = [r.accuracy for r in replay_search(searcher, traces.load(model), seed, protocol.trials,
                                                       constraints)]
            scores.append(float(np.mean(curve)))
    return scores


def check(methods: list[str], overrides: list[str], protocol: HPOProtocol, out: str | None = None) -> None:
    """Refuse a bad protocol, `tuning:` block or constraints (for every source model) before anything is run."""
    if not methods:
        raise TuningError("methods=[]: name at least one method")
    for method in methods:
        base = compose_run([f"method={method}", *overrides])
        if leave_one_out(base.split):
            raise TuningError(f"split={base.split.name} is leave-one-model-out: it names no source models to tune on "
                              "(its runs use method defaults); tune on a split with sources, e.g. split=paper")
        protocol.check(len(base.split.source))
        params_of(base.method)
    limits, percentile = check_slo(base.constraints)
    if limits.active or percentile is not None:
        if out is None:
            raise TuningError("tuning under constraints needs out=DIR: its values are for that scenario and must "
                              "not replace the unconstrained ones in conf/method/tuned")
        traces = TraceSet(trace_set_path(base.traces.path))
        for model in base.split.source:
            resolve_slo(base.constraints, traces, model)


def tune_method(method: str, overrides: list[str], protocol: HPOProtocol, n_jobs: int = 1) -> dict:
    """Tune one method; returns the record that `write_record` stores."""
    base = compose_run([f"method={method}", *overrides])
    traces = TraceSet(trace_set_path(base.traces.path))  # shipped sets are found from any folder
    sources = list(base.split.source)
    protocol.check(len(sources))
    params = params_of(base.method)
    folds = source_folds(sources, protocol.folds)
    started = time.perf_counter()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=protocol.seed, n_startup_trials=max(1, protocol.budget // 2))
    study = optuna.create_study(direction="maximize", sampler=sampler)
    defaults = {p.key: OmegaConf.select(base.method, p.key) for p in params}
    study.enqueue_trial(defaults)
    online = {p.key for p in params if p.online}
    budget = protocol.budget if params else 1  # nothing to tune: the defaults are the only candidate
    with tempfile.TemporaryDirectory(prefix="tune-fits-") as fit_dir:
        for k in range(budget):
            trial = study.ask()
            values = {p.key: p.suggest(trial) for p in params}
            runs = Parallel(n_jobs=n_jobs)(
                delayed(score_fold)(method, overrides, values, online, str(traces.path),
                                    [s for s in sources if s not in fold], fold, protocol, fit_dir)
                for fold in folds)
            score = float(np.mean([s for fold_scores in runs for s in fold_scores]))
            study.tell(trial, score)
            print(f"{method} {k + 1}/{budget}: {values} -> {score:.4f} ({time.perf_counter() - started:.0f} s)",
                  flush=True)
    best = study.best_trial
    # an unconstrained record stays as it was before constraints existed (its protocol is part of job identities)
    constrained = {} if all(v is None for v in base.constraints.values()) else {
        "constraints": OmegaConf.to_container(base.constraints)}
    return {"method": method, "trace_set": traces.name, "trace_set_digest": traces.digest(),
            "split": base.split.name, "sources": sources, "folds": folds,
            "protocol": {**protocol.__dict__, "sampler": "optuna TPESampler", **constrained,
                         "objective": f"mean accuracy over t = 1..{protocol.trials}, mean over held-out sources "
                                      f"x {protocol.seeds} seed(s), grouped {protocol.folds}-fold over sources"},
            "values": {p.key: best.params[p.key] for p in params},
            "defaults": defaults, "best_objective": best.value,
            "trials": [{"number": t.number, "values": t.params, "objective": t.value} for t in study.trials],
            "seconds": round(time.perf_counter() - started, 1)}


def write_record(record: dict, root: Path) -> Path:
    path = tuned_file(record["trace_set"], record["method"], root)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = ("# Written by `python -m harness.hpo` (harness/hpo/); applied by runs with "
            "tuned=true.\n# `seconds` is a measured time: the only field that differs between two runs.\n"
            + OmegaConf.to_yaml(OmegaConf.create(record)))
    atomic_write_text(path, text)
    return path
