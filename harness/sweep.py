"""Run many searches: every (method, target, seed) job, in parallel worker processes, with a progress bar.

    python -m harness.sweep methods=[falcon,random] traces=falcon_release trials=30 seeds=10 n_jobs=2 results_dir=results
    python -m harness.sweep action=status results_dir=results      # list missing or broken jobs

Jobs are composed from conf/run.yaml exactly as `python -m harness.run` composes them and write to the same
deterministic folders, so finished jobs are skipped and an interrupted sweep resumes where it stopped. Jobs are
independent of each other and of their order, so serial and parallel sweeps give identical results.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from joblib import Parallel, delayed
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from harness.paths import CONF_DIR, trace_set_path
from harness.results import ResultsError, job_dir, read_job
from harness.run import compose_run, run_job
from harness.traces import TraceSet


SWEEP_KEYS = {"methods", "targets", "seeds", "n_jobs", "action", "results_dir"}


@dataclass(frozen=True)
class Job:
    method: str
    target: str
    seed: int
    config: DictConfig  # the composed run config of this job

    def folder(self, trace_set: str) -> Path:
        return job_dir(self.config.results_dir, trace_set, self.config.method.name, self.target, self.seed)


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
        raise ValueError("the sweep has no jobs: check methods, targets and seeds")
    traces = TraceSet(trace_set_path(jobs[0].config.traces.path))
    return jobs, traces


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


def status(jobs: list[Job], trace_set: str) -> list[str]:
    """One line per job that is missing or broken (truncated, malformed), naming its folder and the problem."""
    problems = []
    for job in jobs:
        folder = job.folder(trace_set)
        try:
            read_job(folder)
        except ResultsError as e:
            problems.append(f"{job.method} {job.target} seed={job.seed}: {e}")
    return problems


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="sweep")
def main(cfg: DictConfig) -> None:
    targets = list(cfg.targets) if cfg.targets is not None else None
    # The command line's run keys (traces=..., trials=..., method.searcher.x=...) go to every job.
    forwarded = [o for o in HydraConfig.get().overrides.task if o.split("=")[0].lstrip("+~") not in SWEEP_KEYS]
    jobs, traces = plan(list(cfg.methods), targets, cfg.seeds, hydra.utils.to_absolute_path(cfg.results_dir),
                        forwarded)
    if cfg.action == "status":
        problems = status(jobs, traces.name)
        print("\n".join(problems) or f"all {len(jobs)} jobs finished")
        sys.exit(1 if problems else 0)
    if cfg.action != "run":
        raise ValueError(f"action must be 'run' or 'status', not {cfg.action!r}")
    run_sweep(jobs, cfg.n_jobs)
    print(f"{len(jobs)} jobs finished under {Path(cfg.results_dir) / traces.name}")


if __name__ == "__main__":
    main()
