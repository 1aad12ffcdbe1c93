"""What a job is: one replay search of one method on one target model of a trace set, with one seed, under the
target's SLO; built once, checked before any work, then run.

`check_job(cfg)` takes a composed run config (`compose_run`, or the Hydra app's) and returns a frozen `Job`: the
trace set, the SLO resolved on the target (`harness.slo`), the searcher (made once, its parameters checked), the
job's identity and its folder. Every check comes first: values, names, trial count, tuned values, searcher
parameters, constraints. `run_job(job)` only consumes it: it skips a finished job of the same identity, refuses
one of another identity (what differs, in one line), else fits the searcher (through the JSON fit cache) and
replays the search (`replay_search`: `harness.loop.run_search` against the `harness.oracle.Oracle`).

A job is identified by everything that determines its records (`job_identity`): the method config as composed,
the trace set's digest, the split, the target, the seed, the number of trials, the oracle's settings, the code
version of what makes the records (`code_version`) and, when any is set, the constraints resolved for the target.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import importlib.metadata
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Iterator

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import InstantiationException
from hydra.utils import instantiate, to_absolute_path
from omegaconf import DictConfig, OmegaConf

from harness.collect.journal import CollectError, CollectLock
from harness.config import ConfigError, check_run, check_split
from harness.hpo.tuned_values import TunedError, apply_tuned, tuned_file, tuned_source
from harness.knowledge import select_knowledge
from harness.loop import TrialRecord, run_search
from harness.oracle import TRIAL_MINUTES, Oracle, Scorer
from harness.paths import CONF_DIR, trace_set_path
from harness.results import (ResultsError, atomic_write_text, differences, job_dir, read_job, trace_location,
                             write_job)
from harness.search import KNOWLEDGE_PROTOCOLS, Searcher, StatefulSearcher, TransferSearcher
from harness.slo import NO_CONSTRAINTS, Constraints, ResolvedSLO, resolve_slo
from harness.traces import Trace, TraceSet

LOCK_FILE = "job.lock"  # held while a process runs the job
# harness modules every searcher may depend on (DESIGN, layering); their code shapes every fitted state and record
_SEARCH_MODULES = ("harness.search", "harness.space", "harness.traces", "harness.ops.kops", "harness.knowledge",
                   "harness.oracle", "harness.slo", "harness.loop")


class JobError(ValueError):
    """A job that cannot run as configured; the message says why."""


@dataclass(frozen=True)
class Job:
    """One checked job, ready to run. `cfg` is the composed run config with the tuned values applied; `searcher`
    is made and parameter-checked, and is fitted only when the job runs."""

    cfg: DictConfig
    traces: TraceSet
    slo: ResolvedSLO
    searcher: Searcher
    identity: dict
    folder: Path

    @property
    def fits_dir(self) -> Path:
        """Where the fitted states of a results folder are cached (JSON)."""
        return Path(to_absolute_path(self.cfg.results_dir)) / ".fits"


# -- building a job ------------------------------------------------------------------------------------------
def compose_run(overrides: list[str]) -> DictConfig:
    """The job config exactly as `python -m harness.run OVERRIDES` composes it, for use from Python."""
    import hydra_plugins.falcon_bench.split_sweeper  # noqa: F401  (registers hydra/sweeper=split)

    # Hydra's compose API needs an initialised Hydra: the running app's (inside a sweep), or one made here.
    if GlobalHydra.instance().is_initialized():
        context = contextlib.nullcontext()
    else:
        context = initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3")
    with context:
        return compose("run", overrides=overrides)


def make_searcher(method: DictConfig) -> Searcher:
    """The method's searcher; a constructor that refuses its parameters becomes one JobError line."""
    try:
        return instantiate(method.searcher)
    except InstantiationException as e:
        if isinstance(e.__cause__, (ValueError, TypeError)):
            raise JobError(f"method {method.name!r} (method.searcher): {e.__cause__}") from None
        raise


def check_job(cfg: DictConfig) -> Job:
    """The job `cfg` describes, once every value, name, tuned value, searcher parameter and constraint is checked;
    nothing is written."""
    check_run(cfg)
    check_split(cfg.split)
    traces = TraceSet(trace_set_path(cfg.traces.path))
    if cfg.target not in traces.models:
        raise JobError(f"trace set {traces.name!r} has no model {cfg.target!r}; models: {traces.models}")
    if cfg.trials > len(traces.space):
        raise ConfigError(f"trials={cfg.trials}: must be at most {len(traces.space)}, the number of configurations "
                          f"in trace set {traces.name!r}'s space")
    if cfg.tuned:
        refuse_tuned_under_leave_one_out(cfg, traces)
        try:
            apply_tuned(cfg, traces.name, traces.digest())
        except TunedError as e:
            raise JobError(str(e)) from None
    slo = resolve_slo(cfg.constraints, traces, cfg.target)
    searcher = make_searcher(cfg.method)
    if isinstance(searcher, TransferSearcher):
        sources_for(cfg, traces)
    check_writable(Path(to_absolute_path(cfg.results_dir)))
    folder = job_dir(to_absolute_path(cfg.results_dir), traces.name, cfg.method.name, cfg.target, cfg.seed)
    return Job(cfg, traces, slo, searcher, job_identity(cfg, traces, slo, code_version(searcher)), folder)


@functools.lru_cache(maxsize=None)  # a sweep checks every job of one results folder
def check_writable(results_dir: Path) -> None:
    """Refuse a results folder that is a file, or one that cannot be made or written here, before any work. A folder
    that does not exist yet is probed with a temporary folder made and removed in its nearest existing ancestor."""
    existing = results_dir
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"results_dir={results_dir}: {existing} is a file, not a folder")
    if existing == results_dir:
        if not os.access(results_dir, os.W_OK | os.X_OK):
            raise ConfigError(f"results_dir={results_dir}: cannot write there")
        return
    try:
        Path(tempfile.mkdtemp(prefix=".falcon-bench-check-", dir=existing)).rmdir()
    except OSError as e:
        raise ConfigError(f"results_dir={results_dir}: cannot write in {existing} ({e.strerror})") from None


def leave_one_out(split: DictConfig) -> bool:
    """Whether the split is leave-one-model-out (`conf/split/lomo.yaml`)."""
    return bool(split.get("leave_one_out", False))


def split_targets(cfg: DictConfig) -> list[str]:
    """The target models of the run config's split: every model of its trace set under leave-one-model-out."""
    if leave_one_out(cfg.split):
        return TraceSet(trace_set_path(cfg.traces.path)).models
    return list(cfg.split.target)


def refuse_tuned_under_leave_one_out(cfg: DictConfig, traces: TraceSet) -> None:
    """Leave-one-model-out runs method defaults: tuned values were chosen on source models that are other folds'
    targets, so applying them would be inconsistent across folds and leak a fold's target into some of them."""
    if not leave_one_out(cfg.split):
        return
    path = tuned_file(traces.name, tuned_source(cfg.method)[0])
    if path.is_file():
        raise JobError(f"split {cfg.split.name!r} is leave-one-model-out: every model is a target once, and {path} "
                       "was tuned with some folds' targets among its source models; set tuned=false (method defaults)")


def sources_for(cfg: DictConfig, traces: TraceSet) -> list[str]:
    """The split's source models (under leave-one-model-out, every model of the set but the target); refuses a
    target that is also a source, or sources the set lacks."""
    if leave_one_out(cfg.split):
        return [m for m in traces.models if m != cfg.target]
    source = list(cfg.split.source)
    if cfg.target in source:
        raise JobError(f"target {cfg.target!r} is a source model of split {cfg.split.name!r}: it would be "
                       "seen offline")
    missing = [m for m in source if m not in traces.models]
    if missing:
        raise JobError(f"split {cfg.split.name!r} names source models that trace set {traces.name!r} lacks: "
                       f"{missing}")
    return source


# -- identity -------------------------------------------------------------------------------------------------
def job_identity(cfg: DictConfig, traces: TraceSet, slo: ResolvedSLO, code: str) -> dict:
    """Everything that determines a job's records; two runs are the same job exactly when these are equal.

    The method config is taken as composed but unresolved: its interpolations (`${target}`, `${traces.path}`)
    name keys that are themselves part of the identity (the trace set by its digest, not its path, so the same
    job run from another folder is still the same job). The resolved constraints join it when any is set. The
    split is its name and its sources (under leave-one-model-out, every model but the target).
    """
    sources = sources_for(cfg, traces) if leave_one_out(cfg.split) else list(cfg.split.source)
    identity = {"method": OmegaConf.to_container(cfg.method, resolve=False), "code": code,
                "trace_set_digest": traces.digest(),
                "split": {"name": cfg.split.name, "source": sources},
                "target": cfg.target, "seed": cfg.seed, "trials": cfg.trials,
                "oracle": {"trial_minutes": TRIAL_MINUTES}}
    if slo.constraints.active:
        identity["constraints"] = {**slo.constraints.to_dict(),
                                   "latency_p99_percentile": slo.latency_p99_percentile}
    return identity


def code_version(searcher: Searcher) -> str:
    """Package version plus a SHA-256 over the source files of the searcher's package (or its module, for a
    searcher in a module of its own, e.g. a user's), of the harness modules a search runs on, and of every other
    module that the searcher's class (and its base classes) import names from (e.g. `harness.surrogate` for the GP
    baselines): a fitted state cached, or a job finished, under another version of that code is not reused."""
    return _code_version(type(searcher))


@functools.lru_cache(maxsize=None)
def _code_version(cls: type) -> str:
    top = importlib.import_module(cls.__module__.split(".")[0])
    top_file = Path(top.__file__)
    files = set(top_file.parent.rglob("*.py")) if hasattr(top, "__path__") else {top_file}
    files |= {Path(importlib.import_module(m).__file__) for m in _SEARCH_MODULES}
    for klass in cls.__mro__:
        for obj in vars(sys.modules[klass.__module__]).values():
            module = sys.modules.get(obj.__name__ if isinstance(obj, ModuleType) else getattr(obj, "__module__", ""))
            if module is not None and getattr(module, "__file__", None):
                files.add(Path(module.__file__))
    digest = hashlib.sha256()
    for file in sorted(files):
        digest.update(str(file.name).encode())
        digest.update(file.read_bytes())
    return f"{importlib.metadata.version('falcon-bench')}+{digest.hexdigest()[:16]}"


def identity_changes(job: dict, identity: dict) -> list[str]:
    """What differs (`key: old -> new`) between the identity a finished job records and `identity`."""
    if "identity" not in job:
        return ["job.json records no identity (made by an older version)"]
    return differences(job["identity"], identity)


def is_finished(job: Job) -> bool:
    """True when the job's folder holds a finished job of its identity (and no rerun is asked); refuses a
    finished job of another identity unless `rerun`; False when the job is missing or broken (it is then run)."""
    try:
        done, _ = read_job(job.folder)
    except ResultsError:
        return False
    if job.cfg.rerun:
        return False
    changed = identity_changes(done, job.identity)
    if changed:
        raise JobError(f"{job.folder} holds a finished job made under other settings ({'; '.join(changed)}): "
                       "rerun=true redoes it, replacing its results, or choose another results_dir")
    return True


# -- running ----------------------------------------------------------------------------------------------------
def fit_searcher(searcher: TransferSearcher, cfg: DictConfig, traces: TraceSet, cache_dir: Path) -> None:
    """Fit a transfer method on the knowledge the run allows, through a JSON cache for a `StatefulSearcher`.

    The knowledge is selected by the method config's knowledge `protocol` (default strict; `harness.knowledge`).
    The cache key is (method config, source models, trace-set digest, protocol, code version), plus the target
    model under the "authors" protocol (its knowledge is the target's own curves). A fresh fit is also passed
    through JSON before use, so every job runs on exactly the state a cached job would load, whichever job
    fitted first.
    """
    sources = sources_for(cfg, traces)
    protocol = cfg.method.get("protocol", "strict")
    if protocol not in KNOWLEDGE_PROTOCOLS:
        raise JobError(f"method {cfg.method.name!r}: protocol={protocol!r} is not one of {list(KNOWLEDGE_PROTOCOLS)}")
    if not isinstance(searcher, StatefulSearcher):
        searcher.fit(select_knowledge(traces, sources, cfg.target, protocol))
        return
    key = json.dumps({"method": OmegaConf.to_container(cfg.method, resolve=True), "sources": sources,
                      "traces": traces.digest(), "protocol": protocol, "code": code_version(searcher),
                      "target": cfg.target if protocol == "authors" else None}, sort_keys=True)
    path = cache_dir / f"{cfg.method.name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"
    try:
        state = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        searcher.fit(select_knowledge(traces, sources, cfg.target, protocol))
        text = json.dumps(searcher.get_state(), sort_keys=True)
        state = json.loads(text)
        atomic_write_text(path, text)
    searcher.set_state(state)


def replay_search(searcher: Searcher, trace: Trace, seed: int, trials: int,
                  constraints: Constraints = NO_CONSTRAINTS) -> Iterator[TrialRecord]:
    """One search of `trace` replayed by the oracle with `seed`, every recommendation scored under `constraints`."""
    scorer = Scorer(trace, constraints)
    yield from run_search(searcher, Oracle(trace, seed), seed, trials, constraints, scorer.accuracy)


def run_job(job: Job) -> Path:
    """Run a checked job and write its folder (or skip it when it is finished). A job is run by one process at a
    time: a second run of the same job while one runs is refused (its folder's lock)."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(CollectLock(job.folder / LOCK_FILE))
        except CollectError:
            raise JobError(f"another run of this job is writing {job.folder} (pid "
                           f"{(job.folder / LOCK_FILE).read_text().strip() or '?'}): wait for it to finish") from None
        return _run_locked(job)


def _run_locked(job: Job) -> Path:
    cfg = job.cfg
    if is_finished(job):
        if cfg.verbose:
            print(f"skip (finished): {job.folder}")
        return job.folder
    if isinstance(job.searcher, TransferSearcher):
        fit_searcher(job.searcher, cfg, job.traces, job.fits_dir)
    records = [r.to_dict() for r in replay_search(job.searcher, job.traces.load(cfg.target), cfg.seed, cfg.trials,
                                                  job.slo.constraints)]
    summary = {**trace_location(job.traces, job.folder), "method": cfg.method.name, "target": cfg.target,
               "seed": cfg.seed, "trials": cfg.trials, "split": cfg.split.name, "identity": job.identity,
               "method_config": OmegaConf.to_container(cfg.method, resolve=True)}
    if job.slo.constraints.active:
        summary["slo"] = job.slo.to_dict()
    write_job(job.folder, records, summary)
    if cfg.verbose:
        under = f" under {job.slo.constraints}" if job.slo.constraints.active else ""
        print(f"{cfg.method.name} on {cfg.target} seed={cfg.seed}{under}: accuracy {records[-1]['accuracy']:.3f} "
              f"after {len(records)} trials -> {job.folder}")
    return job.folder
