"""Run many searches: every (method, target, seed) job, in parallel worker processes, with a progress bar.

    python -m harness.sweep methods=[falcon,random] traces=falcon_release trials=30 seeds=10 n_jobs=2 results_dir=results
    python -m harness.sweep action=status methods=[falcon,random] trials=30 ...    # the same keys as the run
    python -m harness.sweep constraints.latency_p99_percentile=50 results_dir=results/slo   # under an SLO

Jobs are composed from conf/run.yaml exactly as `python -m harness.run` composes them and write to the same
deterministic folders, so finished jobs are skipped and an interrupted sweep resumes where it stopped. Before any
work every job is checked (values, target, trial count, searcher parameters, and that a finished job was made
under the same settings: see `harness.run.job_identity`). Jobs are independent of each other and of their order,
so serial and parallel sweeps give identical results. `action=status` describes the sweep the same keys describe.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, fields
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from joblib import Parallel, delayed
from omegaconf import DictConfig
from tqdm import tqdm

from harness.config import Action, ConfigError, RunConf, SweepConf, check_sweep, checked_entry_point, one_line_errors
from harness.paths import CONF_DIR, trace_set_path
from harness.results import ResultsError, read_job
from harness.run import JobError, check_job, compose_run, identity_changes, is_finished, make_searcher, run_job
from harness.traces import TraceSet

# Keys of the sweep itself; every other command-line key is a run key, passed to every job.
SWEEP_KEYS = {f.name for f in fields(SweepConf)} - {f.name for f in fields(RunConf)} | {"results_dir"}


@dataclass(frozen=True)
class Job:
    method: str
    target: str
    seed: int
    config: DictConfig  # the composed run config of this job


def plan(methods: list[str], targets: list[str] | None, seeds: int, results_dir: str,
         overrides: list[str]) -> tuple[list[Job], TraceSet]:
    """Every job of the sweep, in a fixed order; targets default to the split's target models."""
    jobs = []
    for method in methods:
        base = compose_run([f"method={method}", f"results_dir={results_dir}", "verbose=false", *overrides])
        for target in targets if targets is not None else list(base.split.target):
            for seed in range(seeds):
                cfg = base.copy()
                cfg.target, cfg.seed = target, seed
                jobs.append(Job(method, target, seed, cfg))
    if not jobs:
        raise ConfigError("the sweep has no jobs: the split names no target models; set targets=[...]")
    traces = TraceSet(trace_set_path(jobs[0].config.traces.path))
    return jobs, traces


def preflight(jobs: list[Job]) -> None:
    """Check every job before any work: its values and target, its searcher's parameters (once per method), and
    that a finished job in its folder was made under the same settings (refused otherwise, unless rerun)."""
    checked_methods = set()
    for job in jobs:
        _, folder, identity = check_job(job.config)
        if job.method not in checked_methods:
            make_searcher(job.config)
            checked_methods.add(job.method)
        is_finished(folder, identity, job.config.rerun)


def _run(cfg: DictConfig) -> None:
    run_job(cfg)


def run_sweep(jobs: list[Job], n_jobs: int) -> None:
    configs = [j.config for j in jobs]
    if n_jobs == 1:
        for cfg in tqdm(configs, desc="searches", unit="job"):
            run_job(cfg)
        return
    tasks = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(delayed(_run)(c) for c in configs)
    for _ in tqdm(tasks, total=len(configs), desc="searches", unit="job"):
        pass


def status(jobs: list[Job]) -> list[str]:
    """One line per job that is missing, broken (truncated, malformed) or finished under other settings."""
    problems = []
    for job in jobs:
        _, folder, identity = check_job(job.config)
        try:
            done, _ = read_job(folder)
        except ResultsError as e:
            problems.append(f"{job.method} {job.target} seed={job.seed}: {e}")
            continue
        changed = identity_changes(done, identity)
        if changed:
            problems.append(f"{job.method} {job.target} seed={job.seed}: {folder} finished under other settings "
                            f"({'; '.join(changed)})")
    return problems


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="sweep")
def hydra_main(cfg: DictConfig) -> None:
    with one_line_errors("sweep", (JobError, ResultsError)):
        check_sweep(cfg)
        targets = list(cfg.targets) if cfg.targets is not None else None
        # The command line's run keys (traces=..., trials=..., method.searcher.x=...) go to every job.
        forwarded = [o for o in HydraConfig.get().overrides.task
                     if o.split("=")[0].lstrip("+~") not in SWEEP_KEYS]
        # ... and the user's config folders (their own methods, spaces, trace sets), so that each job finds them too.
        forwarded += [o for o in HydraConfig.get().overrides.hydra if o.startswith("hydra.searchpath=")]
        jobs, traces = plan(list(cfg.methods), targets, cfg.seeds, hydra.utils.to_absolute_path(cfg.results_dir),
                            forwarded)
        if cfg.action == Action.status:
            problems = status(jobs)
            print("\n".join(problems) or f"all {len(jobs)} jobs finished")
            sys.exit(1 if problems else 0)
        preflight(jobs)
        run_sweep(jobs, cfg.n_jobs)
    print(f"{len(jobs)} jobs finished under {Path(cfg.results_dir) / traces.name}")


main = checked_entry_point("sweep", hydra_main)

if __name__ == "__main__":
    main()
