"""Figures and summaries from a results folder.

    python -m harness.report results_dir=results

reads every finished job once (refusing runs of unequal length: one report compares runs of one length), checks
`out` and `path_knobs` before any work, and writes, under `<results_dir>/report/` (or `out=DIR`):
- `REPORT.json`: the files of the report with their SHA-256. `out` must be absent, an empty folder, or a report
  folder with this manifest whose files are all listed and unchanged (`check_out`): anything else (a user's
  files, a git checkout, a trace set) is refused before any work. The report is written into a temporary
  sibling folder and then put in place;
- `summary.json`: per method `accuracy_mean` and `accuracy_p10` (lists over t = 1..T, mean and 10th percentile
  over targets x seeds), `trials_to_90_median`, `ask_ms_median`, the same per target model under `per_model`, and
  `digest`, the SHA-256 of its trial records without measured times (harness/digest.py);
- `summary.md`: the same as tables, with the accuracy at 6, 15 and 30 trials, each method's tuned values, and mean
  ranks, paired differences to the best method and significance tests at 6/15/30 trials (harness/stats.py), and
  the digests;
- `statistics.json`: those statistics;
- figures: critical-difference diagrams at 6/15/30 trials (`cd_<t>trials.png`, from the mean ranks and Nemenyi
  tests of the statistics tables) and mean rank vs trials (`rank_vs_trials.png`); accuracy vs trials (the paper's
  Figure 10), per-model accuracy at 6/15/30 trials (Figure 12), the
  search paths on one model over two knobs (Figure 13), KOP-threshold and PCA-cut-off sensitivity (Figures
  14-15, from ablation methods), and the trials each method spent per phase (Figure 11b);
- with `slo_results_dir=DIR` (the same trace set searched under constraints, e.g. by `scripts/reproduce`): an
  "SLO scenario" section in `summary.md` (per method accuracy at 1/6/15/30 trials under the SLO and the share of
  trials that missed it; per target the limit and the share of its feasible space the SLO rules out) and
  `slo_summary.json` with the same numbers.

It works from any folder: each job records where its trace set is (`harness.results.locate_trace_set`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import hydra
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from hydra.utils import to_absolute_path  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from harness import stats  # noqa: E402
from harness.config import ConfigError, check_report, one_line_errors  # noqa: E402
from harness.digest import markdown as digest_markdown, method_digests  # noqa: E402
from harness.metrics import SLO_MARKS, aggregate, slo_scores, summarise_slo, trials_to_target  # noqa: E402
from harness.paths import CONF_DIR  # noqa: E402
from harness.results import FinishedJob, ResultsError, locate_trace_set, read_jobs, records_table  # noqa: E402
from harness.slo import Constraints  # noqa: E402
from harness.traces import MANIFEST, TraceSet  # noqa: E402

MARKS = (6, 15, 30)
REPORT_MANIFEST = "REPORT.json"


# -- summary ----------------------------------------------------------------------------------------------
def curves_of(results: pd.DataFrame) -> dict[tuple[str, str, int], np.ndarray]:
    """Accuracy curve of every (method, target, seed) run."""
    ordered = results.sort_values(["method", "target", "seed", "trial"])
    return {key: group["accuracy"].to_numpy(dtype=float)
            for key, group in ordered.groupby(["method", "target", "seed"], sort=True)}


def _summarise(curves: list[np.ndarray], ask_ms: np.ndarray) -> dict:
    stacked = np.stack(curves)  # runs of one length: `report` refuses others
    reached = np.array([trials_to_target(c) for c in stacked])
    median = float(np.median(np.where(np.isnan(reached), np.inf, reached)))
    return {**aggregate(stacked), "trials_to_90_median": median if math.isfinite(median) else None,
            "ask_ms_median": float(np.median(ask_ms)), "runs": len(curves)}


def summarise(results: pd.DataFrame) -> dict:
    curves = curves_of(results)
    summary = {}
    for method, rows in results.groupby("method", sort=True):
        runs = [c for (m, _, _), c in curves.items() if m == method]
        summary[method] = _summarise(runs, rows["ask_ms"].to_numpy())
        summary[method]["per_model"] = {
            target: _summarise([c for (m, t, _), c in curves.items() if m == method and t == target],
                               model_rows["ask_ms"].to_numpy())
            for target, model_rows in rows.groupby("target", sort=True)}
    return summary


def _at(curve: list[float], t: int) -> str:
    return f"{curve[t - 1]:.3f}" if len(curve) >= t else "-"


def summary_markdown(summary: dict, trace_set: str, ablations: set[str] = frozenset()) -> str:
    marks = [t for t in (1, 3, *MARKS) if any(len(s["accuracy_mean"]) >= t for s in summary.values())]
    p10_at = 6 if 6 in marks else marks[-1]  # the 10th percentile at a mark the table shows
    lines = [f"# Results on {trace_set}", "",
             "Accuracy = true objective of the recommended configuration / optimum, mean over the (target, seed) "
             f"runs; p10@{p10_at}: its 10th percentile over those runs.", "",
             "| method | runs | " + " | ".join(f"acc@{t}" for t in marks) + f" | p10@{p10_at} | trials to 90 % "
             "(median) | ask ms (median) |", "|" + " --- |" * (len(marks) + 5)]
    # methods first, best at 6 trials on top; then the ablation variants
    for method, s in sorted(summary.items(), key=lambda kv: (kv[0] in ablations, -_value_at(kv[1], 6))):
        t90 = s["trials_to_90_median"]
        lines.append(f"| {method} | {s['runs']} | " + " | ".join(_at(s["accuracy_mean"], t) for t in marks)
                     + f" | {_at(s['accuracy_p10'], p10_at)} | {'never' if t90 is None else int(t90)} | "
                     f"{s['ask_ms_median']:.2f} |")
    for t in MARKS:
        ranked = sorted(((s["accuracy_mean"][t - 1], m) for m, s in summary.items()
                         if len(s["accuracy_mean"]) >= t and m not in ablations), reverse=True)
        if ranked:
            lines += ["", f"Best mean accuracy after {t} trials: **{ranked[0][1]}** ({ranked[0][0]:.3f})."]
    if ablations:
        lines += ["", f"Ablation variants ({', '.join(sorted(ablations))}) may have fewer runs than the methods."]
    per_model_marks = [t for t in MARKS if t in marks] or marks[-1:]
    lines += ["", f"## Per model: mean accuracy after {' / '.join(map(str, per_model_marks))} trials", ""]
    targets = sorted({t for s in summary.values() for t in s["per_model"]})
    lines += ["| method | " + " | ".join(targets) + " |", "|" + " --- |" * (len(targets) + 1)]
    for method, s in sorted(summary.items()):
        cells = ["/".join(_at(s["per_model"][t]["accuracy_mean"], k) for k in per_model_marks) if t in s["per_model"]
                 else "-" for t in targets]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def protocol_markdown(jobs: dict[str, dict], methods: list[str], n_targets: int) -> str:
    """How each method's hyperparameters were set (harness.hpo), and the statistics that follow."""
    lines = ["", "## Tuning protocol and significance", "",
             "Hyperparameters: `python -m harness.hpo` (docs/protocol.md) tunes every method with the same "
             "Optuna budget on the split's source models only (grouped k-fold: held-out sources play the target); "
             "runs apply the chosen values.", "", "| method | tuned values | budget, folds, seeds, trials |",
             "| --- | --- | --- |"]
    for method in methods:
        applied = (jobs[method].get("tuning") or {}).get("applied")
        if applied is None:
            lines.append(f"| {method} | configured defaults (no tuned file) | - |")
            continue
        values = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in applied["values"].items()) or "nothing to tune"
        p = applied.get("protocol") or {}
        lines.append(f"| {method} | {values} | " + ", ".join(str(p.get(k, "?")) for k in
                                                              ("budget", "folds", "seeds", "trials")) + " |")
    blocks = ("the target models (each the mean over its seeds)" if n_targets >= stats.MIN_TARGETS else
              f"the (target, seed) blocks (with fewer than {stats.MIN_TARGETS} targets, each run is a block)")
    lines += ["", f"Mean ranks over {blocks}, paired differences to the best method with percentile-bootstrap 95 % "
              "CIs over those blocks, Friedman test and Nemenyi post-hoc test (harness/stats.py; `*`: significant "
              "by both).", ""]
    return "\n".join(lines) + "\n"


def slo_section(jobs: list[FinishedJob], trace_set: str) -> tuple[str, dict]:
    """The SLO scenario section of summary.md, and its numbers: the constrained runs of one trace set."""
    check_comparable(jobs, trace_set)
    unconstrained = sorted({j.job["method"] for j in jobs if "slo" not in j.job})
    if unconstrained:
        raise ResultsError(f"slo_results_dir holds runs without constraints ({', '.join(unconstrained)}): keep the "
                           "SLO scenario's runs in a folder of their own")
    results = records_table(jobs)
    summary = summarise(results)
    missed = results.groupby("method")["slo_met"].apply(lambda met: float((~met.astype(bool)).mean()))
    last = results[results["trial"] == results["trial"].max()]
    zero = last.groupby("method")["accuracy"].apply(lambda acc: float((acc == 0).mean()))
    targets = {j.job["target"]: j.job["slo"] for j in jobs}
    numbers = {"methods": {m: {"accuracy_mean": s["accuracy_mean"], "runs": s["runs"],
                               "trials_missing_slo": missed[m], "final_recommendation_scores_0": zero[m]}
                           for m, s in summary.items()},
               "targets": targets}
    marks = [t for t in (1, *MARKS) if any(len(s["accuracy_mean"]) >= t for s in summary.values())]
    percentiles = sorted({slo["latency_p99_percentile"] for slo in targets.values()} - {None})
    scenario = (f"a p99 latency limit per target at percentile {', '.join(f'{p:g}' for p in percentiles)} of its own "
                "mean p99 latencies over its feasible configurations" if percentiles else "the limits below")
    tuned = sorted({j.job["method"] for j in jobs if (j.job["method_config"].get("tuning") or {}).get("applied")})
    lines = ["", "## SLO scenario", "",
             f"Searches on {trace_set} under a service-level objective (`constraints`: {scenario}). A "
             "trial that misses the SLO is told as objective 0; accuracy is the true objective of the recommendation "
             "over the best configuration that meets the SLO on its mean measured values, and 0 for a recommendation "
             "that misses it (docs/protocol.md). Hyperparameters: the tuned values of the unconstrained comparison "
             f"({', '.join(tuned) or 'none'}), not retuned under the SLO.", "",
             "| method | runs | " + " | ".join(f"acc@{t}" for t in marks) + " | trials missing the SLO | final "
             "recommendations scoring 0 |", "|" + " --- |" * (len(marks) + 4)]
    for method, s in sorted(summary.items(), key=lambda kv: -_value_at(kv[1], 6)):
        lines.append(f"| {method} | {s['runs']} | " + " | ".join(_at(s["accuracy_mean"], t) for t in marks)
                     + f" | {100 * missed[method]:.0f} % | {100 * zero[method]:.0f} % |")
    lines += ["", "A final recommendation scores 0 when it misses the SLO on its mean values (or is infeasible): the "
              "best trial a search saw can meet the limit in its repetition and miss it on average."]
    score_lines, numbers["scores"] = slo_scores_section(jobs)
    lines += score_lines
    lines += ["", "| target | limits | feasible configurations the SLO rules out |", "| --- | --- | --- |"]
    for target, slo in sorted(targets.items()):
        lines.append(f"| {target} | {Constraints(**slo['constraints'])} | {100 * slo['ruled_out']:.0f} % |")
    return "\n".join(lines) + "\n", numbers


def slo_scores_section(jobs: list[FinishedJob]) -> tuple[list[str], dict]:
    """The SLO scores per method over its (target, seed) runs (`harness.metrics.slo_scores`), with 95 % bootstrap
    CIs: accuracy at 1/3/6/15/30 trials, how often the first trial meets the SLO, trials until one does, the
    share of trials and of final recommendations that miss it. Markdown lines and the numbers."""
    runs: dict[str, list[dict]] = {}
    for j in jobs:
        runs.setdefault(j.job["method"], []).append(slo_scores(j.records))
    numbers = {m: {k: list(v) for k, v in summarise_slo(r).items()} for m, r in sorted(runs.items())}
    marks = [t for t in SLO_MARKS if all(f"acc@{t}" in n for n in numbers.values())]
    shown = [f"acc@{t}" for t in marks] + ["first_trial_met", "trials_to_slo", "miss_share", "final_missed"]
    names = {"first_trial_met": "first trial meets", "trials_to_slo": "trials to the first that meets",
             "miss_share": "trials missing", "final_missed": "final recommendation misses"}
    lines = ["", "SLO scores per method: mean over its (target, seed) runs [95 % bootstrap CI]; trials to the first "
             "trial that meets the SLO over the runs where one did.", "",
             "| method | " + " | ".join(names.get(k, k) for k in shown) + " |", "|" + " --- |" * (len(shown) + 1)]
    for method, n in sorted(numbers.items(), key=lambda kv: -kv[1].get("acc@6", kv[1][f"acc@{marks[-1]}"])[0]):
        lines.append(f"| {method} | " + " | ".join(f"{n[k][0]:.3f} [{n[k][1]:.2f}, {n[k][2]:.2f}]" for k in shown) + " |")
    return lines, numbers


# -- figures ----------------------------------------------------------------------------------------------
def plot_accuracy(curves: dict, methods: list[str], out: Path) -> Path:
    """Figure 10: mean accuracy vs trials with 95 % confidence bands; marks at 6, 15 and 30 trials."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method in methods:
        runs = [c for (m, _, _), c in curves.items() if m == method]
        stacked = np.stack(runs)
        t = np.arange(1, stacked.shape[1] + 1)
        mean = stacked.mean(axis=0)
        half = 1.96 * stacked.std(axis=0, ddof=1) / np.sqrt(len(runs)) if len(runs) > 1 else 0 * mean
        ax.plot(t, mean, label=method, lw=2 if method.startswith("falcon") else 1.2)
        ax.fill_between(t, mean - half, mean + half, alpha=0.15)
    trials = max(len(c) for c in curves.values())
    for mark in MARKS:
        if mark <= trials:
            ax.axvline(mark, color="grey", ls=":", lw=0.8)
    ax.axhline(0.9, color="black", ls="--", lw=0.6)
    ax.set(xlabel="trials", ylabel="search accuracy (recommended / optimum)", ylim=(0, 1.02), xlim=(1, trials),
           title="Accuracy vs trials (mean, 95 % CI)")
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    return _save(fig, out / "fig10_accuracy_vs_trials.png")


def plot_per_model(summary: dict, methods: list[str], out: Path, marks: list[int]) -> Path:
    """Figure 12: per-model mean accuracy at each of `marks` trials (6, 15 and 30 where the runs are as long)."""
    targets = sorted({t for m in methods for t in summary[m]["per_model"]})
    fig, axes = plt.subplots(len(marks), 1, figsize=(max(8, len(targets) * 0.9), 2 + 2 * len(marks)), sharex=True,
                             squeeze=False)
    axes = axes[:, 0]
    width = 0.8 / max(len(methods), 1)
    for ax, mark in zip(axes, marks):
        for i, method in enumerate(methods):
            values = [_value_at(summary[method]["per_model"].get(t), mark) for t in targets]
            ax.bar(np.arange(len(targets)) + i * width, values, width, label=method)
        ax.set(ylabel=f"acc@{mark}", ylim=(0, 1.05))
        ax.axhline(0.9, color="black", ls="--", lw=0.6)
    axes[-1].set_xticks(np.arange(len(targets)) + 0.4 - width / 2, targets, rotation=45, ha="right")
    axes[0].legend(fontsize=7, ncol=len(methods), loc="lower center", bbox_to_anchor=(0.5, 1.12))
    axes[0].set_title(f"Per-model mean accuracy after {' / '.join(map(str, marks))} trials")
    return _save(fig, out / "fig12_per_model.png")


def _value_at(summary: dict | None, t: int) -> float:
    """Mean accuracy after t trials (0 where the runs are shorter)."""
    if not summary or len(summary["accuracy_mean"]) < t:
        return 0.0
    return summary["accuracy_mean"][t - 1]


PATH_TRIALS = 15  # Figure 13 draws the first trials of a search


def search_path_runs(jobs: list[FinishedJob], model: str, methods: list[str]) -> dict[str, list[dict]]:
    """The seed-0 runs on `model` of the methods whose search paths Figure 13 draws, in `methods` order."""
    runs = {j.job["method"]: j.records for j in jobs
            if j.job["method"] in methods and j.job["target"] == model and j.job["seed"] == 0}
    return {m: runs[m] for m in methods if m in runs}


def plot_search_path(jobs: list[FinishedJob], traces: TraceSet, out: Path, model: str, methods: list[str],
                     knobs: tuple[str, str]) -> Path | None:
    """Figure 13: where each method's trials went over two knobs, on the model's best objective per cell."""
    runs = search_path_runs(jobs, model, methods)
    if not runs:
        return None
    trace = traces.load(model)
    x_knob, y_knob = (trace.space.knob(k) for k in knobs)
    table = trace.objective_table()
    cell = table.groupby([y_knob.name, x_knob.name])["objective"].max().unstack()
    cell = cell.loc[list(y_knob.values), list(x_knob.values)] / trace.true_objective.max()
    fig, axes = plt.subplots(1, len(runs), figsize=(5 * len(runs), 4), squeeze=False)
    for ax, (method, records) in zip(axes[0], runs.items()):
        image = ax.imshow(cell.to_numpy(), origin="lower", cmap="Greens", vmin=0, vmax=1, aspect="auto")
        fig.colorbar(image, ax=ax, label="best objective in the cell / optimum")
        shown = records[:PATH_TRIALS]
        xs = [x_knob.position(r["config"][x_knob.name]) for r in shown]
        ys = [y_knob.position(r["config"][y_knob.name]) for r in shown]
        jitter = np.random.default_rng(0).uniform(-0.15, 0.15, size=(2, len(xs)))
        ax.plot(np.add(xs, jitter[0]), np.add(ys, jitter[1]), "-o", color="tab:red", ms=4, lw=0.8)
        for k, (x, y) in enumerate(zip(np.add(xs, jitter[0]), np.add(ys, jitter[1])), 1):
            ax.annotate(str(k), (x, y), fontsize=6, xytext=(2, 2), textcoords="offset points")
        ax.set_xticks(range(len(x_knob.values)), x_knob.values)
        ax.set_yticks(range(len(y_knob.values)), y_knob.values)
        ax.set(xlabel=x_knob.name, ylabel=y_knob.name,
               title=f"{method} on {model}: first {len(shown)} trials (seed 0)")
    return _save(fig, out / "fig13_search_path.png")


def plot_sensitivity(results: pd.DataFrame, configs: dict[str, dict], out: Path, parameter: str,
                     name: str) -> Path | None:
    """Figures 14-15: Falcon's accuracy at 6/15/30 trials and trials to 90 % against one parameter's value.

    The points are Falcon and its variants that differ from it in `parameter` alone, each scored on the
    (target, seed) runs that all of them have, so that a variant swept with fewer seeds is compared fairly.
    """
    if "falcon" not in configs:
        return None
    base = {k: v for k, v in configs["falcon"]["searcher"].items() if k != parameter}
    points = []
    for method, config in configs.items():
        searcher = config.get("searcher", {})
        if parameter in searcher and {k: v for k, v in searcher.items() if k != parameter} == base:
            points.append((float(searcher[parameter]), method))
    if len({v for v, _ in points}) < 2:
        return None
    points.sort()
    curves = curves_of(results[results["method"].isin([m for _, m in points])])
    common = set.intersection(*({(t, s) for (m, t, s) in curves if m == method} for _, method in points))
    scores = {method: _summarise([c for (m, t, s), c in curves.items() if m == method and (t, s) in common],
                                 np.zeros(1)) for _, method in points}
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    values = [v for v, _ in points]
    for mark in MARKS:
        ax.plot(values, [_value_at(scores[m], mark) for _, m in points], "-o", label=f"{mark} trials")
    t90 = [scores[m]["trials_to_90_median"] for _, m in points]
    ax2.bar(range(len(values)), [t if t is not None else 0 for t in t90], tick_label=[f"{v:g}" for v in values])
    ax.set(xlabel=parameter, ylabel="mean accuracy", ylim=(0, 1.02),
           title=f"Falcon: {parameter} ({len(common)} runs each)")
    ax.legend(fontsize=7)
    ax2.set(xlabel=parameter, ylabel="trials to 90 % (median; 0 = never)")
    return _save(fig, out / f"{name}.png")


def plot_phases(results: pd.DataFrame, methods: list[str], out: Path) -> Path | None:
    """Figure 11b: mean number of trials each method spent per phase, as the methods name their phases."""
    phased = results[results["method"].isin(methods)].dropna(subset=["phase"])
    if phased.empty:
        return None
    runs = phased.groupby("method")[["target", "seed"]].apply(lambda g: len(g.drop_duplicates()))
    counts = phased.groupby(["method", "phase"]).size().unstack(fill_value=0).div(runs, axis=0)
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(counts) + 1.5))
    counts.plot.barh(stacked=True, ax=ax, colormap="tab20")
    ax.set(xlabel="trials per search (mean)", ylabel="", title="Trials spent per phase")
    ax.legend(title="phase", fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _save(fig, out / "fig11b_phases.png")


def plot_critical_differences(results: pd.DataFrame, methods: list[str], out: Path, label: str = "") -> list[Path]:
    """A critical-difference diagram (`stats.plot_critical_difference`: the tables' mean ranks and Nemenyi
    p-values) at each of 6, 15 and 30 trials that has a table with 3+ methods and 2+ blocks:
    `cd_<label>_<t>trials.png` (`cd_<t>trials.png` without a label)."""
    figures = []
    for t in MARKS:
        table = stats.score_table(results, t, methods)
        if table.shape[0] < 2 or table.shape[1] < 3:
            continue
        fig, ax = plt.subplots(figsize=(7, 0.6 + 0.3 * len(methods)))
        stats.plot_critical_difference(table, ax)
        ax.set_title(f"{label + ': ' if label else ''}mean rank after {t} trials ({len(table)} blocks; bars: "
                     f"Nemenyi p >= {stats.ALPHA})", fontsize=9)
        path = out / f"cd_{label + '_' if label else ''}{t}trials.png"
        fig.savefig(path, dpi=120, bbox_inches="tight", metadata={"Software": None})  # the labels lie outside the axes
        plt.close(fig)
        figures.append(path)
    return figures


def plot_rank_curves(results: pd.DataFrame, methods: list[str], out: Path, label: str = "") -> Path | None:
    """Mean rank (1 = best) of each method over the blocks after every number of trials (`stats.rank_curves`):
    `rank_vs_trials[_<label>].png`; None with fewer than 2 methods."""
    curves = stats.rank_curves(results, methods, int(results["trial"].max()))
    if curves.empty or len(methods) < 2:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method in methods:
        ax.plot(curves.index, curves[method], label=method, lw=2 if method.startswith("falcon") else 1.2)
    for mark in MARKS:
        ax.axvline(mark, color="grey", ls=":", lw=0.8)
    ax.set(xlabel="trials", ylabel="mean rank over blocks (1 = best)", ylim=(len(methods) + 0.5, 0.5),
           title=f"{label + ': ' if label else ''}mean rank vs trials")
    ax.legend(fontsize=7, ncol=2, loc="upper right")
    return _save(fig, out / f"rank_vs_trials{'_' + label if label else ''}.png")


def rank_figures(results: pd.DataFrame, methods: list[str], out: Path) -> list[Path]:
    """Critical-difference diagrams and the rank-versus-trials plot of one results table; where it holds several
    trace sets (the worlds study), one set per trace set (labelled by its name) and one over all of them (blocks:
    every trace set's), labelled "all"."""
    worlds = sorted(results["trace_set"].unique())
    parts = [(w, results[results["trace_set"] == w]) for w in worlds] if len(worlds) > 1 else []
    parts.append(("all" if parts else "", results))
    figures = []
    for label, part in parts:
        figures += plot_critical_differences(part, methods, out, label)
        figures.append(plot_rank_curves(part, methods, out, label))
    return [f for f in figures if f is not None]


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120, metadata={"Software": None})
    plt.close(fig)
    return path


# -- entry point ------------------------------------------------------------------------------------------
def pick_trace_set(results: pd.DataFrame, requested: str | None) -> str:
    sets = sorted(results["trace_set"].unique())
    if requested is not None:
        if requested not in sets:
            raise ResultsError(f"no results for trace set {requested!r}; found {sets}")
        return requested
    if len(sets) > 1:
        raise ResultsError(f"results for several trace sets {sets}: choose one with trace_set=NAME")
    return sets[0]


def check_comparable(jobs: list[FinishedJob], trace_set: str) -> None:
    """Refuse runs on different versions of the trace set, or of unequal length: curves are compared trial by
    trial, and cutting them to the shortest would hide it."""
    digests = sorted({j.job["trace_set_digest"][:12] for j in jobs})
    if len(digests) > 1:
        raise ResultsError(f"runs on different versions of trace set {trace_set!r} (digests {', '.join(digests)}): "
                           "a report compares runs on one version; keep each in its own results_dir")
    by_length: dict[int, set[str]] = {}
    for j in jobs:
        by_length.setdefault(j.job["n_trials"], set()).add(j.job["method"])
    if len(by_length) > 1:
        found = "; ".join(f"{n} trials: {', '.join(sorted(methods))}" for n, methods in sorted(by_length.items()))
        raise ResultsError(f"runs of unequal length on trace set {trace_set!r} ({found}): a report compares runs "
                           "of one length; keep each trial count in its own results_dir")


def check_knobs(traces: TraceSet, knobs: tuple[str, str]) -> None:
    unknown = [k for k in knobs if k not in traces.space.names]
    if unknown:
        raise ConfigError(f"path_knobs={list(knobs)}: trace set {traces.name!r} has no knob {unknown[0]!r}; "
                          f"knobs: {traces.space.names}")


def check_path_knobs(knobs: tuple[str, str]) -> None:
    if len(knobs) != 2 or knobs[0] == knobs[1]:
        raise ConfigError(f"path_knobs={list(knobs)}: must name two different knobs (x, y)")


def check_out(out: Path) -> None:
    """Refuse (ConfigError) unless `out` is absent, an empty folder, or a report folder this app wrote: its
    REPORT.json lists every file in it, each unchanged. Never inside a trace set (which would then not load)."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise ConfigError(f"out={out}: is a file; name a folder for the report")
    inside = next((p for p in (out, *out.parents) if _is_trace_set(p)), None)
    if inside is not None:
        raise ConfigError(f"out={out}: {inside} is a trace set ({MANIFEST}); write the report elsewhere")
    if not out.exists() or not any(out.iterdir()):
        return
    refusal = f"out={out}: refusing to replace it: it is not empty and is not a report folder"
    try:
        files = json.loads((out / REPORT_MANIFEST).read_text())["files"]
        assert isinstance(files, dict)
    except (OSError, ValueError, KeyError, TypeError, AssertionError):
        raise ConfigError(f"{refusal} (no valid {REPORT_MANIFEST}); name a new or empty folder") from None
    for path in sorted(out.rglob("*")):
        name = path.relative_to(out).as_posix()
        if name == REPORT_MANIFEST:
            continue
        if name not in files or path.is_dir() or path.is_symlink():
            raise ConfigError(f"{refusal}: {name} is not one of the report's files; name a new or empty folder")
        if _sha256(path) != files[name]:
            raise ConfigError(f"{refusal}: {name} was changed after the report wrote it; name a new or empty folder")


def _is_trace_set(folder: Path) -> bool:
    """Whether `folder` holds a trace-set manifest of this project (not another tool's MANIFEST.json)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and {"schema_version", "space", "models", "files"} <= manifest.keys()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def writable_folder(out: Path) -> Path:
    """A new temporary folder beside `out` to write the report into; ConfigError if nothing can be written there."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    except OSError as e:
        raise ConfigError(f"out={out}: cannot write the report there ({e.strerror})") from None
    tmp.chmod(0o755)  # mkdtemp makes it private; a report is for everyone to read
    return tmp


def put_in_place(tmp: Path, out: Path) -> None:
    """Write the manifest of the report in `tmp`, then make `tmp` the report at `out` (checked again first)."""
    files = {p.name: _sha256(p) for p in sorted(tmp.iterdir())}
    (tmp / REPORT_MANIFEST).write_text(json.dumps({"written_by": "python -m harness.report", "files": files},
                                                  indent=1, sort_keys=True) + "\n")
    check_out(out)
    if out.exists() and not any(out.iterdir()):  # an empty folder the user made: keep it, fill it
        for p in sorted(tmp.iterdir()):
            os.replace(p, out / p.name)
        tmp.rmdir()
    elif out.exists():  # an earlier report
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


def report(results_dir: Path, out: Path, trace_set: str | None = None, path_model: str = "roberta",
           path_knobs: tuple[str, str] = ("gpu_mem_gb", "batch_size"), slo_results_dir: Path | None = None) -> dict:
    """Write the summary and figures of one trace set's results (and its SLO scenario's, from `slo_results_dir`);
    every check comes before any write.

    Returns the summary's path, the figures written, and notes on figures left out (and why).
    """
    check_path_knobs(path_knobs)
    check_out(out)
    jobs = read_jobs(results_dir)
    if not jobs:
        raise ResultsError(f"no finished jobs under {results_dir}")
    results = records_table(jobs)
    trace_set = pick_trace_set(results, trace_set)
    jobs = [j for j in jobs if j.job["trace_set"] == trace_set]
    results = results[results["trace_set"] == trace_set]
    check_comparable(jobs, trace_set)
    notes = []
    path_methods = [m for m in ("falcon", "morphling") if m in set(results["method"])]
    targets = sorted(set(results["target"]))
    try:
        traces = locate_trace_set(jobs[0].job, jobs[0].folder)
        check_knobs(traces, path_knobs)
    except ResultsError as e:
        traces = None
        notes.append(f"fig13 left out: {e}")
    else:
        if not path_methods:
            notes.append("fig13 left out: it draws the searches of falcon and morphling; these results have neither")
        elif not search_path_runs(jobs, path_model, path_methods):
            notes.append(f"fig13 left out: path_model={path_model} has no seed-0 run of "
                         f"{' or '.join(path_methods)}; targets: {', '.join(targets)}")
    trials = int(results["trial"].max())
    marks = [m for m in MARKS if m <= trials] or [trials]
    if len(marks) < len(MARKS):
        notes.append(f"fig12 shows the accuracy after {' / '.join(map(str, marks))} trials only: the runs have "
                     f"{trials} trials, so its {' / '.join(str(m) for m in MARKS if m not in marks)} trial panels "
                     "are left out")
    slo_text, slo_numbers = "", None
    if slo_results_dir is not None:
        slo_jobs = [j for j in read_jobs(slo_results_dir) if j.job["trace_set"] == trace_set]
        if not slo_jobs:
            raise ResultsError(f"slo_results_dir={slo_results_dir}: no finished jobs on trace set {trace_set!r}")
        slo_text, slo_numbers = slo_section(slo_jobs, trace_set)
    tmp = writable_folder(out)
    try:
        figures = write_report(tmp, jobs, results, trace_set, traces, path_model, path_methods, path_knobs, marks,
                               slo_text, slo_numbers)
        put_in_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"summary": out / "summary.json", "figures": [out / f.name for f in figures], "notes": notes}


def write_report(out: Path, jobs: list[FinishedJob], results: pd.DataFrame, trace_set: str, traces: TraceSet | None,
                 path_model: str, path_methods: list[str], path_knobs: tuple[str, str], marks: list[int],
                 slo_text: str, slo_numbers: dict | None) -> list[Path]:
    """The report's files in `out`; returns the figures written."""
    summary = summarise(results)
    digests = method_digests(jobs)
    for (_, method), (_, digest) in digests.items():
        summary[method]["digest"] = digest
    (out / "summary.json").write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
    configs = {}  # method -> its config; ablation variants (`ablation: true`) only appear in the sensitivity figures
    for j in jobs:
        configs.setdefault(j.job["method"], j.job["method_config"])
    main_methods = sorted(m for m in summary if not configs[m].get("ablation", False))
    significance, statistics = stats.section(results, main_methods, MARKS, "###")
    (out / "statistics.json").write_text(json.dumps(statistics, indent=1, sort_keys=True) + "\n")
    (out / "summary.md").write_text(summary_markdown(summary, trace_set, set(summary) - set(main_methods))
                                    + protocol_markdown(configs, main_methods, results["target"].nunique())
                                    + "\n".join(significance) + digest_markdown(digests) + slo_text)
    if slo_numbers is not None:
        (out / "slo_summary.json").write_text(json.dumps(slo_numbers, indent=1, sort_keys=True) + "\n")
    figures = [plot_accuracy(curves_of(results), main_methods, out), plot_per_model(summary, main_methods, out, marks),
               plot_search_path(jobs, traces, out, path_model, path_methods, path_knobs) if traces else None,
               plot_sensitivity(results, configs, out, "threshold", "fig14_kop_threshold"),
               plot_sensitivity(results, configs, out, "cutoff", "fig15_pca_cutoff"),
               plot_phases(results, main_methods, out), *rank_figures(results, main_methods, out)]
    return [f for f in figures if f is not None]


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="report")
def main(cfg: DictConfig) -> None:
    results_dir = Path(to_absolute_path(cfg.results_dir))
    out = Path(to_absolute_path(cfg.out)) if cfg.out else results_dir / "report"
    with one_line_errors("report", (ResultsError,)):
        check_report(cfg)
        slo_dir = Path(to_absolute_path(cfg.slo_results_dir)) if cfg.slo_results_dir else None
        written = report(results_dir, out, cfg.trace_set, cfg.path_model, tuple(cfg.path_knobs), slo_dir)
    for note in written["notes"]:
        print(f"note:    {note}")
    print(f"summary: {written['summary']}")
    for figure in written["figures"]:
        print(f"figure:  {figure}")


if __name__ == "__main__":
    main()
