"""Constrained search in replay (issue 14, item 1): the oracle judges each repetition against the SLO, the scorer
judges a configuration by its mean values, and a constrained search never gets credit for a recommendation that
misses the SLO."""

from __future__ import annotations

import json
import re
import sys

import numpy as np
import pandas as pd
import pytest
from hydra.utils import instantiate

from baselines.random_search import RandomSearch
from harness.config import check_run
from harness.slo import (ConstraintError, Constraints, check_slo, constrained_objective, percentile_limit, ruled_out,
                         slo_met)
from harness.knowledge import select_knowledge
from harness.oracle import Oracle, Scorer
from harness.paths import CONF_DIR, TRACES_DIR
from harness.report import report
from harness.results import ResultsError, read_job
from harness.job import JobError, check_job, compose_run, run_job
from harness.search import Searcher, TransferSearcher
from harness.job import replay_search
from harness.space import Knob, SearchSpace
from harness.sweep import plan, run_sweep, status
from harness.traces import Trace, TraceSet

SIM = TRACES_DIR / "sim-v1"
SPACE = SearchSpace([Knob("cores", (1, 2)), Knob("batch", (1, 2, 4, 8, 16))], name="slo-tiny")
LIMIT = Constraints(latency_p99_ms=50.0)


def slo_trace(latency_by_rep=None, reps: int = 1) -> Trace:
    """Objective grows with the batch (the unconstrained optimum: cores=2, batch=16), and so does the p99 latency
    (10 ms per request of the batch): under a 50 ms limit only batches 1-4 meet it."""
    rows = []
    for config in SPACE:
        for rep in range(reps):
            latency = 10.0 * config["batch"]
            if latency_by_rep and (config["cores"], config["batch"]) in latency_by_rep:
                latency = latency_by_rep[(config["cores"], config["batch"])][rep]
            rows.append({**config, "rep": rep, "feasible": True, "objective": config["batch"] * config["cores"],
                         "rps": 100.0 * config["batch"], "latency_p99_ms": latency, "price_per_hour": 1.0})
    return Trace("handmade", SPACE, pd.DataFrame(rows))


class Scripted(Searcher):
    """Tries configurations in a fixed order; recommends as the base class does (the best objective told)."""

    name = "scripted"

    def __init__(self, order=(), recommend_first=False):
        self.order, self.recommend_first = list(order), recommend_first

    def ask(self):
        return self.order[len(self.history_)]

    def recommend(self):
        return self.history_[0].config if self.recommend_first else super().recommend()


UNCONSTRAINED_BEST = {"cores": 2, "batch": 16}
CONSTRAINED_BEST = {"cores": 2, "batch": 4}


def test_the_scorer_optimum_is_the_best_configuration_that_meets_the_slo():
    trace = slo_trace()
    free, bound = Scorer(trace), Scorer(trace, LIMIT)
    assert SPACE.config(free.optimum_index) == UNCONSTRAINED_BEST
    assert SPACE.config(bound.optimum_index) == CONSTRAINED_BEST and bound.optimum == 8.0
    assert bound.accuracy(UNCONSTRAINED_BEST) == 0.0 and free.accuracy(UNCONSTRAINED_BEST) == 1.0
    assert bound.accuracy(CONSTRAINED_BEST) == 1.0
    assert ruled_out(trace, LIMIT) == pytest.approx(4 / 10)  # batches 8 and 16, at both core counts


def test_a_constrained_search_never_gets_credit_for_the_unconstrained_optimum():
    trace = slo_trace()
    order = [UNCONSTRAINED_BEST, {"cores": 1, "batch": 2}, CONSTRAINED_BEST, {"cores": 1, "batch": 16}]
    # a searcher that keeps recommending the unconstrained optimum scores 0 at every trial under the SLO ...
    stubborn = list(replay_search(Scripted(order, recommend_first=True), trace, seed=0, trials=4, constraints=LIMIT))
    assert [r.accuracy for r in stubborn] == [0.0] * 4
    assert [r.to_dict()["slo_met"] for r in stubborn] == [False, True, True, False]
    assert stubborn[0].objective == 0.0 and stubborn[0].to_dict()["slo_misses"] == ["latency_p99_ms 160 > 50"]
    # ... and full credit without it
    assert [r.accuracy for r in replay_search(Scripted(order, recommend_first=True), trace, 0, 4)] == [1.0] * 4
    # the generic rule: the miss is worth 0, so the recommendation moves to what meets the SLO
    records = list(replay_search(Scripted(order), trace, seed=0, trials=4, constraints=LIMIT))
    assert [r.recommended for r in records] == [UNCONSTRAINED_BEST, {"cores": 1, "batch": 2}] + [CONSTRAINED_BEST] * 2
    assert [r.accuracy for r in records] == [0.0, 0.25, 1.0, 1.0]
    # an exhaustive search ends on the constrained optimum
    last = list(replay_search(RandomSearch(), trace, seed=3, trials=len(SPACE), constraints=LIMIT))[-1]
    assert last.recommended == CONSTRAINED_BEST and last.accuracy == 1.0


def test_each_repetition_is_judged_and_the_scorer_judges_the_mean():
    trace = slo_trace({(1, 4): (40.0, 60.0, 45.0)}, reps=3)  # mean 48.3 ms: meets 50 ms on average
    oracle = Oracle(trace, seed=0)
    seen = {}
    for _ in range(3):  # the loop judges every trial (one repetition) with the one rule
        obs = oracle.trial({"cores": 1, "batch": 4})
        seen[obs.metrics["latency_p99_ms"]] = (obs, *LIMIT.judge(obs.objective, obs.metrics))
    assert sorted(seen) == [40.0, 45.0, 60.0]
    missed, objective, misses = seen[60.0]
    assert objective == 0.0 and missed.feasible and misses == ("latency_p99_ms 60 > 50",)
    assert missed.metrics["rps"] == 400.0  # what was measured is kept
    assert all(seen[v][1] == 4.0 and seen[v][2] == () for v in (40.0, 45.0))
    scorer, near_the_limit = Scorer(trace, LIMIT), {"cores": 1, "batch": 4}
    assert slo_met(trace, LIMIT)[SPACE.index(near_the_limit)] and scorer.true_objective(near_the_limit) == 4
    assert Oracle(trace, seed=0).trial({"cores": 1, "batch": 16}).slo_misses == ()  # the oracle never judges


def test_a_trace_that_cannot_judge_or_meet_the_slo_is_refused(make_trace, small_space):
    no_latency = make_trace(small_space, lambda c: c["batch"])
    for build in (lambda: constrained_objective(no_latency, LIMIT), lambda: Scorer(no_latency, LIMIT)):
        with pytest.raises(ConstraintError, match="constraints.latency_p99_ms cannot be judged: trace 'synthetic'"):
            build()
    with pytest.raises(ConstraintError, match="latency_p99_percentile cannot be resolved: trace 'synthetic'"):
        percentile_limit(no_latency, 50)
    with pytest.raises(ConstraintError, match="no feasible configuration of trace 'handmade' meets the constraints"):
        Scorer(slo_trace(), Constraints(latency_p99_ms=5.0))


def test_the_percentile_limit_is_of_the_targets_own_feasible_latencies():
    trace = slo_trace()
    latencies = 10.0 * np.array([c["batch"] for c in SPACE])
    assert percentile_limit(trace, 50) == np.percentile(latencies, 50) == 40.0
    assert ruled_out(trace, Constraints(latency_p99_ms=percentile_limit(trace, 50))) == pytest.approx(0.4)


@pytest.mark.parametrize("node, message", [
    ({"min_rps": -1}, "constraints.min_rps=-1 is not allowed"),
    ({"foo": 1}, "constraints.foo is not a constraint"),
    ({"latency_p99_ms": "abc"}, "constraints.latency_p99_ms='abc' is not allowed"),
    ({"latency_p99_percentile": 0}, "constraints.latency_p99_percentile=0 is not allowed"),
    ({"latency_p99_percentile": 101}, "constraints.latency_p99_percentile=101 is not allowed"),
    ({"latency_p99_percentile": 50, "latency_p99_ms": 3}, "both set"),
])
def test_bad_constraint_nodes_are_refused_with_one_line(node, message):
    with pytest.raises(ConstraintError, match=message) as e:
        check_slo(node)
    assert "\n" not in str(e.value)


def test_composed_constraints_are_checked_before_any_write(tmp_path):
    with pytest.raises(ConstraintError, match="constraints.min_rps=-1.0 is not allowed"):
        check_run(compose_run(["constraints.min_rps=-1"]))
    with pytest.raises(ConstraintError, match="no feasible configuration of trace 'gru' meets"):
        run_job(check_job(compose_run([f"traces.path={SIM}", f"results_dir={tmp_path / 'r'}", "target=gru", "trials=2",
                             "verbose=false", "constraints.latency_p99_ms=0.001"])))
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("app", ["harness.run", "harness.sweep", "harness.hpo.__main__", "harness.worlds"])
@pytest.mark.parametrize("override, message", [
    ("constraints.min_rps=-1", "constraints.min_rps=-1 is not allowed: use a finite number > 0"),
    ("constraints.foo=1", "constraints.foo is not a constraint; allowed:"),
    ("+constraints.foo=1", "constraints.foo is not a constraint; allowed:"),
    ("constraints.latency_p99_ms=abc", "constraints.latency_p99_ms='abc' is not allowed"),
])
def test_the_command_line_refuses_bad_constraints_with_one_line(app, override, message, tmp_path, monkeypatch,
                                                                 capsys):
    import importlib

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [app, override, f"results_dir={tmp_path / 'r'}"])
    with pytest.raises(SystemExit) as e:
        importlib.import_module(app).main()
    err = capsys.readouterr().err
    assert e.value.code == 1 and err.count("\n") == 1 and message in err, err
    assert list(tmp_path.iterdir()) == []


def config(results, *overrides):
    return compose_run([f"traces.path={SIM}", f"results_dir={results}", "target=gru", "verbose=false", "trials=3",
                        *overrides])


def test_constraints_are_part_of_the_job_identity_and_recorded(tmp_path):
    run_job(check_job(config(tmp_path)))  # unconstrained: records without SLO fields
    with pytest.raises(JobError, match=r"constraints.latency_p99_ms: <unset> -> \d"):
        run_job(check_job(config(tmp_path, "constraints.latency_p99_percentile=50")))
    folder = run_job(check_job(config(tmp_path, "constraints.latency_p99_percentile=50", "rerun=true")))
    job, records = read_job(folder)
    limit = job["identity"]["constraints"]["latency_p99_ms"]
    assert job["identity"]["constraints"]["latency_p99_percentile"] == 50.0
    assert job["slo"]["constraints"]["latency_p99_ms"] == limit and 0.3 < job["slo"]["ruled_out"] < 0.7
    assert all(set(r["slo_misses"]) == set() if r["slo_met"] else r["objective"] == 0 for r in records)
    assert run_job(check_job(config(tmp_path, "constraints.latency_p99_percentile=50"))) == folder  # same identity: reused
    with pytest.raises(JobError, match=re.escape(f"constraints.latency_p99_ms: {limit} -> {2 * limit}")):
        run_job(check_job(config(tmp_path, f"constraints.latency_p99_ms={2 * limit}")))


def test_sweep_status_shows_a_constraints_change(tmp_path):
    def jobs(*overrides):
        return plan(["random"], ["gru"], 1, str(tmp_path), [f"traces.path={SIM}", "trials=3", *overrides])

    run_sweep(jobs("constraints.min_rps=1"), 1)
    assert status(jobs("constraints.min_rps=1")) == []
    problems = status(jobs("constraints.min_rps=2"))
    assert len(problems) == 1 and "(constraints.min_rps: 1.0 -> 2.0)" in problems[0]
    job, _ = read_job(next(tmp_path.rglob("job.json")).parent)
    assert json.dumps(job["slo"]["constraints"]) == '{"latency_p99_ms": null, "max_usd_per_h": null, "min_rps": 1.0}'


METHODS = sorted(p.stem for p in (CONF_DIR / "method").glob("*.yaml"))
FAST = {"morphling": ["method.searcher.meta_iters=20"]}  # avoiding misses does not need a well-trained model
TARGET = "vgg16"


@pytest.fixture(scope="module")
def constrained_target():
    traces = TraceSet(SIM)
    target = traces.load(TARGET)
    limits = Constraints(latency_p99_ms=percentile_limit(target, 75))  # a quarter of the feasible space misses
    return traces, list(compose_run([]).split.source)[:4], target, limits


@pytest.mark.parametrize("method, overrides", [(m, FAST.get(m, [])) for m in METHODS]
                         + [("falcon", ["method.searcher.target_value=0.0"])])  # stops at the first trial it meets
def test_no_method_recommends_a_miss_once_it_observed_a_configuration_that_meets_the_slo(method, overrides,
                                                                                          constrained_target):
    traces, sources, target, limits = constrained_target
    cfg = compose_run([f"method={method}", f"traces.path={SIM}", f"target={TARGET}", *overrides])
    searcher = instantiate(cfg.method.searcher)
    if isinstance(searcher, TransferSearcher):
        searcher.fit(select_knowledge(traces, sources, TARGET, cfg.method.get("protocol", "strict")))
    records = list(replay_search(searcher, target, seed=0, trials=12, constraints=limits))
    met = set()
    for r in records:
        if r.to_dict()["slo_met"]:
            met.add(r.index)
        if met:
            assert target.space.index(r.recommended) in met, f"trial {r.trial}: recommends a miss"
    # the test says something about the method only if it saw both
    assert met and len(met) < len(records), f"{len(met)} of {len(records)} trials met the SLO"


def test_the_report_adds_an_slo_section_from_the_constrained_runs(tmp_path):
    main, slo = tmp_path / "main", tmp_path / "main" / "slo"
    keys = [f"traces.path={SIM}", "trials=6"]
    run_sweep(plan(["random", "source_best"], ["gru", "vgg16"], 2, str(main), keys), 1)
    run_sweep(plan(["random", "source_best"], ["gru", "vgg16"], 2, str(slo),
                   [*keys, "constraints.latency_p99_percentile=50"]), 1)
    report(main, tmp_path / "out", path_knobs=("cpu_cores", "batch_size"), slo_results_dir=slo)
    text = (tmp_path / "out" / "summary.md").read_text()
    section = text[text.index("## SLO scenario"):]
    assert "percentile 50 of its own mean p99 latencies" in section and "| random | 4 |" in section
    assert "| gru | latency_p99_ms=" in section and "| vgg16 | latency_p99_ms=" in section
    numbers = json.loads((tmp_path / "out" / "slo_summary.json").read_text())
    assert set(numbers["methods"]) == {"random", "source_best"}
    assert all(0.45 <= t["ruled_out"] <= 0.5 for t in numbers["targets"].values())
    assert 0 < numbers["methods"]["random"]["trials_missing_slo"] < 1
    assert 0 <= numbers["methods"]["random"]["final_recommendation_scores_0"] <= 1
    assert json.loads((tmp_path / "out" / "summary.json").read_text()).keys() == {"random", "source_best"}
    with pytest.raises(ResultsError, match="slo_results_dir holds runs without constraints"):
        report(main, tmp_path / "out2", path_knobs=("cpu_cores", "batch_size"), slo_results_dir=main)


def test_the_worlds_study_runs_every_world_under_its_constraints(tmp_path):
    from omegaconf import OmegaConf

    from harness.worlds import run_study

    cfg = OmegaConf.load(CONF_DIR / "worlds.yaml")
    del cfg["defaults"]
    cfg.methods, cfg.worlds = ["random", "source_best", "ernest"], ["measured-cpu"]
    cfg.seeds, cfg.n_jobs, cfg.tuned = 3, 1, True
    cfg.results_dir, cfg.cache_dir = str(tmp_path / "results"), str(tmp_path / "cache")
    cfg.constraints = {"latency_p99_percentile": 50}
    run_study(cfg)
    jobs = [json.loads(p.read_text()) for p in (tmp_path / "results").rglob("job.json")]
    assert len(jobs) == 9 and all(j["slo"]["latency_p99_percentile"] == 50.0 for j in jobs)


def test_tuning_under_constraints_scores_constrained_searches_and_needs_its_own_out():
    from harness.hpo.protocol import HPOProtocol as Protocol, TuningError, check, tune_method

    split = ["split.source=[resnet-152,densenet-121,wgan,dcgan]", "method.searcher.slo=ignore"]  # the generic rule
    tiny = Protocol(budget=1, folds=2, seeds=1, trials=3, seed=0)
    scenario = [*split, "constraints.latency_p99_percentile=25"]
    with pytest.raises(TuningError, match="tuning under constraints needs out=DIR"):
        check(["source_best"], scenario, tiny)
    check(["source_best"], scenario, tiny, out="elsewhere")
    free, bound = tune_method("source_best", split, tiny), tune_method("source_best", scenario, tiny)
    assert "constraints" not in free["protocol"]  # an unconstrained record is as it was before constraints
    assert bound["protocol"]["constraints"]["latency_p99_percentile"] == 25.0
    assert bound["best_objective"] < free["best_objective"]  # source_best's first picks are large batches: misses
