"""Run many searches: every (method, target, seed) job, in parallel worker processes, with a progress bar.

    python -m harness.sweep methods=[falcon,random] traces=falcon_release trials=30 seeds=10 n_jobs=2 results_dir=results
    python -m harness.sweep action=status methods=[falcon,random] trials=30 ...    # the same keys as the run
    python -m harness.sweep constraints.latency_p99_percentile=50 results_dir=results/slo   # under an SLO

Jobs are composed from conf/run.yaml exactly as `python -m harness.run` composes them and write to the same
deterministic folders, so finished jobs are skipped and an interrupted sweep resumes where it stopped. Before any
work every job is checked (values, target, trial count, searcher parameters, and that a finished job was made
under the same settings: see `harness.job.job_identity`). Jobs are independent of each other and of their order,
so serial and parallel sweeps give identical results. `action=status` describes the sweep the same keys describe.
"""

from __future__ import annotations

import os
import sys
from dataclasses import fields
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from joblib import Parallel, delayed
from omegaconf import DictConfig
from tqdm import tqdm

from harness.config import Action, ConfigError, RunConf, SweepConf, check_sweep, checked_entry_point, one_line_errors
from harness.job import Job, JobError, check_job, compose_run, identity_changes, is_finished, run_job, split_targets
from harness.paths import CONF_DIR
from harness.results import ResultsError, read_job

# Keys of the sweep itself; every other command-line key is a run key, passed to every job.
SWEEP_KEYS = {f.name for f in fields(SweepConf)} - {f.name for f in fields(RunConf)} | {"results_dir"}


def plan(methods: list[str], targets: list[str] | None, seeds: int, results_dir: str,
         overrides: list[str]) -> list[Job]:
    """Every job of the sweep, built and checked, in a fixed order; targets default to the split's target models
    (under leave-one-model-out, every model of the trace set)."""
    jobs = []
    for method in methods:
        base = compose_run([f"method={method}", f"results_dir={results_dir}", "verbose=false", *overrides])
        for target in targets if targets is not None else split_targets(base):
            for seed in range(seeds):
                cfg = base.copy()
                cfg.target, cfg.seed = target, seed
                jobs.append(check_job(cfg))
    if not jobs:
        raise ConfigError("the sweep has no jobs: the split names no target models; set targets=[...]")
    return jobs


def label(job: Job) -> str:
    return f"{job.cfg.method.name} {job.cfg.target} seed={job.cfg.seed}"


def workers(n_jobs: int, todo: int) -> int:
    """Worker processes for `todo` jobs: n_jobs (-1: one per core), never more than there are jobs."""
    wanted = (os.cpu_count() or 1) if n_jobs == -1 else n_jobs
    if wanted > max(todo, 1):
        print(f"n_jobs={n_jobs}: {max(todo, 1)} worker(s), one per job to run", file=sys.stderr)
    return max(1, min(wanted, todo))


def run_sweep(jobs: list[Job], n_jobs: int) -> None:
    """Run every job not finished yet (a finished job of other settings is refused first, before any work)."""
    todo = [job for job in jobs if not is_finished(job)]
    n_workers = workers(n_jobs, len(todo))
    if n_workers == 1:
        for job in tqdm(todo, desc="searches", unit="job"):
            run_job(job)
        return
    tasks = Parallel(n_jobs=n_workers, return_as="generator_unordered")(delayed(run_job)(job) for job in todo)
    for _ in tqdm(tasks, total=len(todo), desc="searches", unit="job"):
        pass


def status(jobs: list[Job]) -> list[str]:
    """One line per job that is missing, broken (truncated, malformed) or finished under other settings."""
    problems = []
    for job in jobs:
        try:
            done, _ = read_job(job.folder)
        except ResultsError as e:
            problems.append(f"{label(job)}: {e}")
            continue
        changed = identity_changes(done, job.identity)
        if changed:
            problems.append(f"{label(job)}: {job.folder} finished under other settings ({'; '.join(changed)})")
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
        jobs = plan(list(cfg.methods), targets, cfg.seeds, hydra.utils.to_absolute_path(cfg.results_dir), forwarded)
        if cfg.action == Action.status:
            problems = status(jobs)
            print("\n".join(problems) or f"all {len(jobs)} jobs finished")
            sys.exit(1 if problems else 0)
        try:
            run_sweep(jobs, cfg.n_jobs)
        except KeyboardInterrupt:
            done = sum(1 for job in jobs if (job.folder / "job.json").is_file())
            print(f"sweep: interrupted; {done} of {len(jobs)} jobs have results; the same command resumes the rest",
                  file=sys.stderr)
            raise SystemExit(130) from None
    print(f"{len(jobs)} jobs finished under {Path(cfg.results_dir) / jobs[0].traces.name}")


main = checked_entry_point("sweep", hydra_main)

if __name__ == "__main__":
    main()
