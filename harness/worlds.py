"""The robustness study: the same comparison on several worlds (trace sets), with ranks and significance tests.

    python -m harness.worlds                                    # the worlds listed under `worlds` (conf/worlds.yaml)
    python -m harness.worlds 'worlds=[sim-v1,sim-w7-fx015]' seeds=3

A world is a shipped trace set (`traces: <conf/traces name>`), a simulated one made on the fly (`simulate:`
overrides of `python -m harness.sim`, generated into `cache_dir/<world>-<config digest>` and reused only while
the digest of its whole simulator config matches), or the authors' release (`import_from:`, imported into the cache
when the folder exists, else skipped with a message). Every method runs on every world's target models with the
tuned values of that world where `conf/method/tuned/<world>/` has them (defaults otherwise: the study says which).
A world whose split is leave-one-model-out (`split: lomo`, or `leave_one_model_out=true` for every world) runs
every model as a target, with method defaults (docs/protocol.md).
Writes `<results_dir>/report/summary.md` and `statistics.json`: per world and over all worlds, mean ranks at
6/15/30 trials, paired differences to the best method with bootstrap 95 % CIs, Friedman and Nemenyi tests.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import hydra
import pandas as pd
import yaml
from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf

from harness import stats
from harness.config import checked_entry_point, one_line_errors
from harness.hpo.tuned_values import tuned_file
from harness.import_release import import_release
from harness.job import JobError, compose_run, leave_one_out
from harness.paths import CONF_DIR, safe_name
from harness.report import MARKS, rank_figures, slo_scores_section
from harness.results import ResultsError, atomic_write_text, read_jobs, records_table
from harness.sim.opcost import PARAMS_FILE
from harness.space import load_space
from harness.sweep import plan, run_sweep
from harness.traces import sha256_file


class WorldError(ValueError):
    """A world that cannot be set up as configured; the message says why."""


@dataclass(frozen=True)
class World:
    """One trace set of the study, ready to sweep: its run overrides and how it came to be."""

    name: str
    overrides: tuple[str, ...]   # run keys that select its trace set, split and trial count
    origin: str


def _simulate(args: list[str], *extra: str) -> str:
    """Run `python -m harness.sim ARGS` (the command a user would type); returns its standard output."""
    done = subprocess.run([sys.executable, "-m", "harness.sim", *args, *extra], capture_output=True, text=True)
    if done.returncode != 0:
        raise WorldError(f"harness.sim {' '.join(args)} failed: {done.stderr.strip().splitlines()[-1:]}")
    return done.stdout


def simulated_world(name: str, overrides: dict, cache_dir: Path) -> Path:
    """The simulated trace set of a world: reused from the cache while the digest of its whole composed simulator
    config (and the operator cost parameters) matches, else made."""
    args = [f"{k}={v}" for k, v in overrides.items()]
    config = yaml.safe_load(_simulate(args, "--cfg", "job", "--resolve"))
    config = {k: v for k, v in config.items() if k not in ("out", "name", "replace")}
    digest = hashlib.sha256(json.dumps({"config": config, "op_cost": sha256_file(PARAMS_FILE)},
                                       sort_keys=True).encode()).hexdigest()[:16]
    folder = cache_dir / f"{name}-{digest}"
    if not (folder / "MANIFEST.json").is_file():
        started = time.perf_counter()
        _simulate(args, f"out={folder}", f"name={name}")
        print(f"{name}: simulated in {time.perf_counter() - started:.0f} s -> {folder}")
    return folder


def resolve(name: str, spec: DictConfig, cache_dir: Path, trials: int, split_name: str | None = None) -> World | None:
    """A world's run overrides (`split_name`, when given, replaces the world's split); None (with a message) for
    the release when its source folder is absent."""
    safe_name(name, "world name")
    split = ["split=" + str(split_name or spec.split)]
    limit = [f"trials={min(trials, int(spec.get('max_trials') or trials))}"]
    if spec.get("simulate") is not None:
        folder = simulated_world(name, OmegaConf.to_container(spec.simulate), cache_dir)
        return World(name, (f"traces.path={folder}", *split, *limit),
                     f"simulated: {OmegaConf.to_container(spec.simulate)}")
    if spec.get("import_from") is not None:
        src = Path(to_absolute_path(spec.import_from))
        folder = cache_dir / name
        if not (folder / "MANIFEST.json").is_file():
            if not src.exists():
                print(f"{name}: skipped, {src} is not there (the authors' release lives in ../shared)")
                return None
            import_release(src, folder, name, load_space("paper"))
        return World(name, (f"traces.path={folder}", *split, *limit),
                     f"imported from {spec.import_from}")
    if spec.get("traces") is None:
        raise WorldError(f"world {name!r}: give one of traces, simulate or import_from")
    return World(name, (f"traces={spec.traces}", *split, *limit), f"conf/traces/{spec.traces}.yaml")


def study_markdown(results: pd.DataFrame, worlds: list[World], methods: list[str], tuned: dict[str, list[str]],
                   seconds: float) -> tuple[str, dict]:
    lines = ["# Robustness study: the comparison on several worlds", "",
             "Blocks: the target models of a world (mean over seeds); a world with fewer than "
             f"{stats.MIN_TARGETS} targets contributes its (target, seed) runs. Differences: paired, to the method "
             "with the best mean rank, with percentile-bootstrap 95 % CIs over the blocks. Tests: Friedman over all "
             "methods, then Nemenyi (scikit-posthocs) against the best; `*` marks a difference significant by both "
             f"(p < {stats.ALPHA} and a CI below 0).", "",
             "| world | origin | targets | tuned values used for |", "| --- | --- | --- | --- |"]
    for w in worlds:
        sub = results[results["trace_set"] == w.name]
        lines.append(f"| {w.name} | {w.origin} | {sub['target'].nunique()} | "
                     f"{', '.join(tuned[w.name]) or 'none (defaults)'} |")
    found = {}
    for w in worlds:
        part, found[w.name] = stats.section(results[results["trace_set"] == w.name], methods, MARKS, "###")
        lines += ["", f"## {w.name}", "", *part]
    part, found["all"] = stats.section(results, methods, MARKS, "###")
    lines += ["", "## Over all worlds", "", *part, f"The whole study took {seconds / 60:.1f} min."]
    return "\n".join(lines) + "\n", found


def slo_scores_markdown(jobs: list, worlds: list[World]) -> tuple[str, dict]:
    """Under an SLO scenario: the SLO scores per world and method (`harness.report.slo_scores_section`)."""
    lines, found = ["", "## SLO scores per world", ""], {}
    for w in worlds:
        part, found[w.name] = slo_scores_section([j for j in jobs if j.job["trace_set"] == w.name])
        lines += [f"### {w.name}", *part, ""]
    return "\n".join(lines), found


def run_study(cfg: DictConfig) -> Path:
    results_dir = Path(to_absolute_path(cfg.results_dir))
    cache_dir = Path(to_absolute_path(cfg.cache_dir))
    unknown = [w for w in cfg.worlds if w not in cfg.available]
    if unknown:
        raise WorldError(f"worlds {unknown} are not defined under `available`: {list(cfg.available)}")
    started = time.perf_counter()
    # the study's constraints (an SLO scenario) apply on every world, resolved per target as in a run
    constraint_overrides = [f"constraints.{k}={v}" for k, v in (cfg.get("constraints") or {}).items() if v is not None]
    worlds, tuned = [], {}
    for name in cfg.worlds:
        world = resolve(name, cfg.available[name], cache_dir, int(cfg.trials),
                        "lomo" if cfg.leave_one_model_out else None)
        if world is None:
            continue
        worlds.append(world)
        # leave-one-model-out runs method defaults: tuned values saw some fold's target (docs/protocol.md)
        use_tuned = cfg.tuned and not leave_one_out(compose_run(list(world.overrides)).split)
        jobs = plan(list(cfg.methods), None, int(cfg.seeds), str(results_dir),
                    [*world.overrides, f"tuned={use_tuned}", *constraint_overrides])
        if jobs[0].traces.name != name:
            raise WorldError(f"world {name!r}: its trace set is named {jobs[0].traces.name!r}; name the world after "
                             "it")
        tuned[name] = [m for m in cfg.methods if use_tuned and tuned_file(name, m).is_file()]
        print(f"== {name}: {len(jobs)} searches ({world.origin})")
        run_sweep(jobs, int(cfg.n_jobs))
    jobs = [j for j in read_jobs(results_dir)
            if j.job["trace_set"] in {w.name for w in worlds} and j.job["method"] in cfg.methods]
    results = records_table(jobs)
    text, found = study_markdown(results, worlds, list(cfg.methods), tuned, time.perf_counter() - started)
    if constraint_overrides:
        slo_text, found["slo_scores"] = slo_scores_markdown(jobs, worlds)
        text += slo_text
    out = results_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "statistics.json", json.dumps(found, indent=1, sort_keys=True) + "\n")
    atomic_write_text(out / "summary.md", text)
    rank_figures(results, list(cfg.methods), out)  # CD diagrams and ranks vs trials, per world and over all
    return out / "summary.md"


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="worlds")
def hydra_main(cfg: DictConfig) -> None:
    with one_line_errors("worlds", (WorldError, JobError, ResultsError)):
        path = run_study(cfg)
    print(f"study: {path}")


main = checked_entry_point("worlds", hydra_main)

if __name__ == "__main__":
    main()
