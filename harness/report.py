"""Figures and summaries from a results folder.

    python -m harness.report results_dir=results

reads every finished job once (refusing runs of unequal length: one report compares runs of one length), checks
`out` and `path_knobs` before any work, and writes, under `<results_dir>/report/` (or `out=DIR`):
- `summary.json`: per method `accuracy_mean` and `accuracy_p10` (lists over t = 1..T, mean and 10th percentile
  over targets x seeds), `trials_to_90_median`, `ask_ms_median`, and the same per target model under `per_model`;
- `summary.md`: the same as tables, with the accuracy at 6, 15 and 30 trials, each method's tuned values, and mean
  ranks, paired differences to the best method and significance tests at 6/15/30 trials (harness/stats.py);
- `statistics.json`: those statistics;
- figures: accuracy vs trials (the paper's Figure 10), per-model accuracy at 6/15/30 trials (Figure 12), the
  search paths on one model over two knobs (Figure 13), KOP-threshold and PCA-cut-off sensitivity (Figures
  14-15, from ablation methods), and the trials each method spent per phase (Figure 11b);
- with `slo_results_dir=DIR` (the same trace set searched under constraints, e.g. by `scripts/reproduce`): an
  "SLO scenario" section in `summary.md` (per method accuracy at 1/6/15/30 trials under the SLO and the share of
  trials that missed it; per target the limit and the share of its feasible space the SLO rules out) and
  `slo_summary.json` with the same numbers.

It works from any folder: each job records where its trace set is (`harness.results.locate_trace_set`).
"""

from __future__ import annotations

import json
import math
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
from harness.slo import Constraints  # noqa: E402
from harness.metrics import SLO_MARKS, aggregate, slo_scores, summarise_slo, trials_to_target  # noqa: E402
from harness.paths import CONF_DIR  # noqa: E402
from harness.results import FinishedJob, ResultsError, locate_trace_set, read_jobs, records_table  # noqa: E402
from harness.traces import TraceSet  # noqa: E402

MARKS = (6, 15, 30)


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
    lines = [f"# Results on {trace_set}", "",
             "Accuracy = true objective of the recommended configuration / optimum, mean over targets x seeds.", "",
             "| method | runs | " + " | ".join(f"acc@{t}" for t in marks) + " | p10@6 | trials to 90 % (median) | "
             "ask ms (median) |", "|" + " --- |" * (len(marks) + 5)]
    # methods first, best at 6 trials on top; then the ablation variants
    for method, s in sorted(summary.items(), key=lambda kv: (kv[0] in ablations, -_value_at(kv[1], 6))):
        t90 = s["trials_to_90_median"]
        lines.append(f"| {method} | {s['runs']} | " + " | ".join(_at(s["accuracy_mean"], t) for t in marks)
                     + f" | {_at(s['accuracy_p10'], 6)} | {'never' if t90 is None else int(t90)} | "
                     f"{s['ask_ms_median']:.2f} |")
    for t in MARKS:
        ranked = sorted(((s["accuracy_mean"][t - 1], m) for m, s in summary.items()
                         if len(s["accuracy_mean"]) >= t and m not in ablations), reverse=True)
        if ranked:
            lines += ["", f"Best mean accuracy after {t} trials: **{ranked[0][1]}** ({ranked[0][0]:.3f})."]
    if ablations:
        lines += ["", f"Ablation variants ({', '.join(sorted(ablations))}) may have fewer runs than the methods."]
    lines += ["", "## Per model: mean accuracy after 6 / 15 / 30 trials", ""]
    targets = sorted({t for s in summary.values() for t in s["per_model"]})
    lines += ["| method | " + " | ".join(targets) + " |", "|" + " --- |" * (len(targets) + 1)]
    for method, s in sorted(summary.items()):
        cells = ["/".join(_at(s["per_model"][t]["accuracy_mean"], k) for k in MARKS) if t in s["per_model"]
                 else "-" for t in targets]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def protocol_markdown(jobs: dict[str, dict], methods: list[str]) -> str:
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
    lines += ["", "Mean ranks over the target models (mean over seeds), paired differences to the best method with "
              "percentile-bootstrap 95 % CIs over the targets, Friedman test and Nemenyi post-hoc test "
              "(harness/stats.py; `*`: significant by both).", ""]
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
    for mark in MARKS:
        ax.axvline(mark, color="grey", ls=":", lw=0.8)
    ax.axhline(0.9, color="black", ls="--", lw=0.6)
    ax.set(xlabel="trials", ylabel="search accuracy (recommended / optimum)", ylim=(0, 1.02),
           title="Accuracy vs trials (mean, 95 % CI)")
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    return _save(fig, out / "fig10_accuracy_vs_trials.png")


def plot_per_model(summary: dict, methods: list[str], out: Path) -> Path:
    """Figure 12: per-model mean accuracy at 6, 15 and 30 trials."""
    targets = sorted({t for m in methods for t in summary[m]["per_model"]})
    fig, axes = plt.subplots(len(MARKS), 1, figsize=(max(8, len(targets) * 0.9), 8), sharex=True)
    width = 0.8 / max(len(methods), 1)
    for ax, mark in zip(axes, MARKS):
        for i, method in enumerate(methods):
            values = [_value_at(summary[method]["per_model"].get(t), mark) for t in targets]
            ax.bar(np.arange(len(targets)) + i * width, values, width, label=method)
        ax.set(ylabel=f"acc@{mark}", ylim=(0, 1.05))
        ax.axhline(0.9, color="black", ls="--", lw=0.6)
    axes[-1].set_xticks(np.arange(len(targets)) + 0.4 - width / 2, targets, rotation=45, ha="right")
    axes[0].legend(fontsize=7, ncol=len(methods), loc="lower center", bbox_to_anchor=(0.5, 1.12))
    axes[0].set_title("Per-model mean accuracy after 6 / 15 / 30 trials")
    return _save(fig, out / "fig12_per_model.png")


def _value_at(summary: dict | None, t: int) -> float:
    """Mean accuracy after t trials (0 where the runs are shorter)."""
    if not summary or len(summary["accuracy_mean"]) < t:
        return 0.0
    return summary["accuracy_mean"][t - 1]


def plot_search_path(jobs: list[FinishedJob], traces: TraceSet, out: Path, model: str, methods: list[str],
                     knobs: tuple[str, str]) -> Path | None:
    """Figure 13: where each method's trials went over two knobs, on the model's best objective per cell."""
    runs = {j.job["method"]: j.records for j in jobs
            if j.job["method"] in methods and j.job["target"] == model and j.job["seed"] == 0}
    runs = {m: runs[m] for m in methods if m in runs}
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
        xs = [x_knob.position(r["config"][x_knob.name]) for r in records[:15]]
        ys = [y_knob.position(r["config"][y_knob.name]) for r in records[:15]]
        jitter = np.random.default_rng(0).uniform(-0.15, 0.15, size=(2, len(xs)))
        ax.plot(np.add(xs, jitter[0]), np.add(ys, jitter[1]), "-o", color="tab:red", ms=4, lw=0.8)
        for k, (x, y) in enumerate(zip(np.add(xs, jitter[0]), np.add(ys, jitter[1])), 1):
            ax.annotate(str(k), (x, y), fontsize=6, xytext=(2, 2), textcoords="offset points")
        ax.set_xticks(range(len(x_knob.values)), x_knob.values)
        ax.set_yticks(range(len(y_knob.values)), y_knob.values)
        ax.set(xlabel=x_knob.name, ylabel=y_knob.name, title=f"{method} on {model}: first 15 trials (seed 0)")
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


def prepare_out(out: Path) -> None:
    """Create the report folder and prove it writable, so a bad `out` fails before any work."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"out={out}: is a file; name a folder for the report")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as e:
        raise ConfigError(f"out={out}: cannot write the report there ({e.strerror})") from None


def report(results_dir: Path, out: Path, trace_set: str | None = None, path_model: str = "roberta",
           path_knobs: tuple[str, str] = ("gpu_mem_gb", "batch_size"), slo_results_dir: Path | None = None) -> dict:
    """Write the summary and figures of one trace set's results (and its SLO scenario's, from `slo_results_dir`);
    every check comes before any write.

    Returns the summary's path, the figures written, and notes on figures left out (and why).
    """
    jobs = read_jobs(results_dir)
    if not jobs:
        raise ResultsError(f"no finished jobs under {results_dir}")
    results = records_table(jobs)
    trace_set = pick_trace_set(results, trace_set)
    jobs = [j for j in jobs if j.job["trace_set"] == trace_set]
    results = results[results["trace_set"] == trace_set]
    check_comparable(jobs, trace_set)
    notes = []
    try:
        traces = locate_trace_set(jobs[0].job, jobs[0].folder)
        check_knobs(traces, path_knobs)
    except ResultsError as e:
        traces = None
        notes.append(f"fig13 left out: {e}")
    slo_text, slo_numbers = "", None
    if slo_results_dir is not None:
        slo_jobs = [j for j in read_jobs(slo_results_dir) if j.job["trace_set"] == trace_set]
        if not slo_jobs:
            raise ResultsError(f"slo_results_dir={slo_results_dir}: no finished jobs on trace set {trace_set!r}")
        slo_text, slo_numbers = slo_section(slo_jobs, trace_set)
    prepare_out(out)

    summary = summarise(results)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
    configs = {}  # method -> its config; ablation variants (`ablation: true`) only appear in the sensitivity figures
    for j in jobs:
        configs.setdefault(j.job["method"], j.job["method_config"])
    main_methods = sorted(m for m in summary if not configs[m].get("ablation", False))
    significance, statistics = stats.section(results, main_methods, MARKS, "###")
    (out / "statistics.json").write_text(json.dumps(statistics, indent=1, sort_keys=True) + "\n")
    (out / "summary.md").write_text(summary_markdown(summary, trace_set, set(summary) - set(main_methods))
                                    + protocol_markdown(configs, main_methods) + "\n".join(significance) + slo_text)
    if slo_numbers is not None:
        (out / "slo_summary.json").write_text(json.dumps(slo_numbers, indent=1, sort_keys=True) + "\n")
    path_methods = [m for m in ("falcon", "morphling") if m in summary]
    figures = [plot_accuracy(curves_of(results), main_methods, out), plot_per_model(summary, main_methods, out),
               plot_search_path(jobs, traces, out, path_model, path_methods, path_knobs) if traces else None,
               plot_sensitivity(results, configs, out, "threshold", "fig14_kop_threshold"),
               plot_sensitivity(results, configs, out, "cutoff", "fig15_pca_cutoff"),
               plot_phases(results, main_methods, out)]
    return {"summary": out / "summary.json", "figures": [f for f in figures if f is not None], "notes": notes}


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
