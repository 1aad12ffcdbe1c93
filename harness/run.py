"""Hydra app: one search per job; `-m` sweeps over methods x targets x seeds.

    python -m harness.run method=random target=vgg16 seed=0 trials=30 results_dir=results

    python -m harness.run method=falcon target=vgg16 constraints.latency_p99_ms=250      # under an SLO
    python -m harness.run method=falcon target=vgg16 constraints.latency_p99_percentile=50

Each job writes `<results_dir>/<trace set>/<method>/<target>/seed=<n>/`. A job is identified by
`job_identity`: everything that determines its records. A finished job is skipped when run again under the same
identity; under another identity it is refused with what differs (`rerun=true` redoes it). Values are checked
(`harness.config`) and the searcher is built before anything is written. Under `constraints` (the SLO), the job's
limits are resolved for its target (`harness.slo.job_slo`: a latency percentile becomes a limit in ms) and checked
against its trace before any work: a trace without a field a limit reads, or on which no configuration meets
them, is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

import hydra
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import InstantiationException
from hydra.utils import instantiate, to_absolute_path
from omegaconf import DictConfig, OmegaConf

from harness.config import ConfigError, check_run, checked_entry_point, one_line_errors
from harness.knowledge import code_version, select_knowledge
from harness.oracle import TRIAL_MINUTES
from harness.paths import CONF_DIR, trace_set_path
from harness.results import (ResultsError, atomic_write_text, differences, job_dir, read_job, trace_location,
                             write_job)
from harness.search import PROTOCOLS, Searcher, StatefulSearcher, TransferSearcher, run_search
from harness.slo import JobSLO, job_slo
from harness.traces import TraceSet
from harness.tuned import TunedError, apply_tuned


class JobError(ValueError):
    """A job that cannot run as configured; the message says why."""


def sources_for(cfg: DictConfig, traces: TraceSet) -> list[str]:
    """The split's source models; refuses a target that is also a source, or sources the set lacks."""
    source = list(cfg.split.source)
    if cfg.target in source:
        raise JobError(f"target {cfg.target!r} is a source model of split {cfg.split.name!r}: it would be "
                       "seen offline")
    missing = [m for m in source if m not in traces.models]
    if missing:
        raise JobError(f"split {cfg.split.name!r} names source models that trace set {traces.name!r} lacks: "
                       f"{missing}")
    return source


def fit_searcher(searcher: TransferSearcher, cfg: DictConfig, traces: TraceSet, cache_dir: Path) -> None:
    """Fit a transfer method on the knowledge the run allows, through a JSON cache for a `StatefulSearcher`.

    The knowledge is selected here by the method config's `protocol` (default strict; `harness.knowledge`).
    The cache key is (method config, source models, trace-set digest, protocol, code version), plus the target
    model under the "authors" protocol (its knowledge is the target's own curves). A fresh fit is also passed
    through JSON before use, so every job runs on exactly the state a cached job would load, whichever job
    fitted first.
    """
    sources = sources_for(cfg, traces)
    protocol = cfg.method.get("protocol", "strict")
    if protocol not in PROTOCOLS:
        raise JobError(f"method {cfg.method.name!r}: protocol={protocol!r} is not one of {list(PROTOCOLS)}")
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


def job_identity(cfg: DictConfig, traces: TraceSet, slo: JobSLO, code: str) -> dict:
    """Everything that determines a job's records; two runs are the same job exactly when these are equal.

    The method config is taken as composed but unresolved: its interpolations (`${target}`, `${traces.path}`)
    name keys that are themselves part of the identity (the trace set by its digest, not its path, so the same
    job run from another folder is still the same job). `code` is the version of the code that makes the
    records (`harness.knowledge.code_version`: the searcher's package, the harness modules a search runs on),
    so a job finished by other code is not taken for this one. The resolved constraints join it when any is set.
    """
    identity = {"method": OmegaConf.to_container(cfg.method, resolve=False), "code": code,
                "trace_set_digest": traces.digest(),
                "split": {"name": cfg.split.name, "source": list(cfg.split.source)},
                "target": cfg.target, "seed": cfg.seed, "trials": cfg.trials,
                "oracle": {"trial_minutes": TRIAL_MINUTES}}
    if slo.constraints.active:
        identity["constraints"] = {**slo.constraints.to_dict(),
                                   "latency_p99_percentile": slo.latency_p99_percentile}
    return identity


def identity_changes(job: dict, identity: dict) -> list[str]:
    """What differs (`key: old -> new`) between the identity a finished job records and `identity`."""
    if "identity" not in job:
        return ["job.json records no identity (made by an older version)"]
    return differences(job["identity"], identity)


def is_finished(folder: Path, identity: dict, rerun: bool) -> bool:
    """True when `folder` holds a finished job of this identity (and no rerun is asked); refuses a finished job
    of another identity unless `rerun`; False when the job is missing or broken (it is then run again)."""
    try:
        job, _ = read_job(folder)
    except ResultsError:
        return False
    if rerun:
        return False
    changed = identity_changes(job, identity)
    if changed:
        raise JobError(f"{folder} holds a finished job made under other settings ({'; '.join(changed)}): "
                       "rerun=true redoes it, replacing its results, or choose another results_dir")
    return True


def make_searcher(cfg: DictConfig) -> Searcher:
    """The method's searcher; a constructor that refuses its parameters becomes one JobError line."""
    try:
        return instantiate(cfg.method.searcher)
    except InstantiationException as e:
        if isinstance(e.__cause__, (ValueError, TypeError)):
            raise JobError(f"method {cfg.method.name!r} (method.searcher): {e.__cause__}") from None
        raise


def check_job(cfg: DictConfig) -> tuple[TraceSet, Path, dict]:
    """The job's trace set, folder and identity, once its values, target, trial count and constraints are
    checked."""
    check_run(cfg)
    traces = TraceSet(trace_set_path(cfg.traces.path))
    if cfg.target not in traces.models:
        raise JobError(f"trace set {traces.name!r} has no model {cfg.target!r}; models: {traces.models}")
    if cfg.trials > len(traces.space):
        raise ConfigError(f"trials={cfg.trials}: must be at most {len(traces.space)}, the number of configurations "
                          f"in trace set {traces.name!r}'s space")
    if cfg.tuned:
        try:
            apply_tuned(cfg, traces.name, traces.digest())
        except TunedError as e:
            raise JobError(str(e)) from None
    folder = job_dir(to_absolute_path(cfg.results_dir), traces.name, cfg.method.name, cfg.target, cfg.seed)
    return traces, folder, job_identity(cfg, traces, job_slo(cfg, traces), code_version(make_searcher(cfg)))


def run_job(cfg: DictConfig) -> Path:
    """Run one search and write its folder; every check (values, names, searcher parameters) comes first."""
    traces, folder, identity = check_job(cfg)
    if is_finished(folder, identity, cfg.rerun):
        if cfg.verbose:
            print(f"skip (finished): {folder}")
        return folder
    searcher = make_searcher(cfg)
    if isinstance(searcher, TransferSearcher):
        fit_searcher(searcher, cfg, traces, Path(to_absolute_path(cfg.results_dir)) / ".fits")
    slo = job_slo(cfg, traces)
    records = [r.to_dict() for r in run_search(searcher, traces.load(cfg.target), cfg.seed, cfg.trials,
                                               slo.constraints)]
    job = {**trace_location(traces, folder), "method": cfg.method.name, "target": cfg.target, "seed": cfg.seed,
           "trials": cfg.trials, "split": cfg.split.name, "identity": identity,
           "method_config": OmegaConf.to_container(cfg.method, resolve=True)}
    if slo.constraints.active:
        job["slo"] = slo.to_dict()
    write_job(folder, records, job)
    if cfg.verbose:
        under = f" under {slo.constraints}" if slo.constraints.active else ""
        print(f"{cfg.method.name} on {cfg.target} seed={cfg.seed}{under}: accuracy {records[-1]['accuracy']:.3f} "
              f"after {len(records)} trials -> {folder}")
    return folder


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


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="run")
def hydra_main(cfg: DictConfig) -> None:
    with one_line_errors("run", (JobError, ResultsError)):
        run_job(cfg)


main = checked_entry_point("run", hydra_main)

if __name__ == "__main__":
    main()
