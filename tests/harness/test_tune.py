"""harness.tune: every method fitted on a small knowledge set and tuning a tiny model over a tiny space, the SLO
judged on what was measured, tune.json, resume by replay, the folder and lock rules, and one-line refusals
before anything is measured. Measurements are real worker runs (measured once per module for the many
in-process tunes; every time in the slow command-line tests)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import cli
from harness import live as live_module
from harness import tune as tune_module
from harness.collect.backends import make_backend
from harness.collect.collector import Settings, measure_configuration
from harness.collect.journal import CollectError, CollectLock, Journal
from harness.config import ConfigError, TuneConf
from harness.slo import ConstraintError
from harness.job import JobError
from harness.space import Knob, SearchSpace, load_space
from harness.traces import Trace, TraceSet, write_trace_set
from harness.live import JournalMismatch
from harness.tune import Tune, TuneError, compose_tune
from tests.conftest import kill_when

ROOT = Path(__file__).resolve().parents[2]
TINY_MODELS = ROOT / "tests" / "collect"  # tiny_models.py: tiny-mlp, fragile-mlp
SPACE_FILE = TINY_MODELS / "space_tiny.yaml"  # cpu_cores [1] x batch_size [1, 2, 4, 8]
SPACE = load_space(SPACE_FILE)
TUNE_CONF = Path(__file__).resolve().parent / "tune_conf"  # the same space as space=tiny
FAST = Settings(reps=2, warmup_s=0.05, measure_s=0.05, min_batches=2, profile_batches=1, timeout_s=120)
FAST_OVERRIDES = [f"settings.{k}={v}" for k, v in FAST.__dict__.items()]
PRICE = {"per_core_usd_per_h": 0.05, "source": "test"}
METHODS = ["random", "source_best", "ernest", "vesta", "heterbo", "morphling", "falcon", "falcon_plus", "gp_bo",
           "optuna_tpe"]


def tiny_env() -> dict:
    """The environment of a tuner or collector process that can import the tiny models."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(TINY_MODELS), os.environ.get("PYTHONPATH")]))}


@pytest.fixture
def tiny_models(monkeypatch):
    """`tiny_models:TINY` and `:FRAGILE` importable here and in the worker processes the tuner starts."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(TINY_MODELS), os.environ.get("PYTHONPATH")])))
    monkeypatch.syspath_prepend(str(TINY_MODELS))


def knowledge_set(folder: Path, space: SearchSpace = SPACE, models=("src-a", "src-b", "src-c")) -> Path:
    """A hand-built knowledge set over `space`: sources whose requests/s grow with the batch at different rates,
    with dense/relu operator profiles (the tiny MLP's operators)."""
    traces = []
    for k, model in enumerate(models):
        rows, ops = [], []
        for i, config in enumerate(space):
            batch, price = config["batch_size"], 0.05 * config.get("cpu_cores", 1)
            rps = 100.0 * batch ** (0.3 + 0.2 * k)
            for rep in range(2):
                r = rps * (1 + 0.01 * rep)
                rows.append({**config, "rep": rep, "feasible": True, "reason": "", "rps": r,
                             "latency_p50_ms": 1000 * batch / r, "latency_p99_ms": 1200 * batch / r,
                             "price_per_hour": price, "objective": r * 3600 / price})
            share = 0.55 + 0.1 * k
            ops += [{"config_index": i, "op_type": "dense", "time_ms": share, "time_share": share, "mem_mb": 1.0,
                     "mem_share": 0.5},
                    {"config_index": i, "op_type": "relu", "time_ms": 1 - share, "time_share": 1 - share,
                     "mem_mb": 1.0, "mem_share": 0.5}]
        traces.append(Trace(model, space, pd.DataFrame(rows), pd.DataFrame(ops), {"provenance": "test"}))
    return write_trace_set(folder, traces, folder.name)


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """Every configuration of the tiny space measured once, for real, for tiny-mlp: the records the in-process
    tunes below are answered with (so that nine methods need not start 30 workers)."""
    scratch = tmp_path_factory.mktemp("measure")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(TINY_MODELS), os.environ.get("PYTHONPATH")])))
        backend = make_backend("cpu", PRICE)
        return {SPACE.index(c): measure_configuration(backend, "tiny_models:TINY", c, FAST, scratch) for c in SPACE}


@pytest.fixture
def stand_in(monkeypatch, measured):
    """measure_configuration answered from `measured` (a copy per call); returns the list of configurations asked."""
    asked = []

    def fake(backend, model_ref, config, settings, scratch):
        asked.append(SPACE.index(config))
        return json.loads(json.dumps(measured[SPACE.index(config)]))

    monkeypatch.setattr(live_module, "measure_configuration", fake)
    return asked


@pytest.fixture
def no_measuring(monkeypatch):
    """measure_configuration refused: for tunes that must stop before measuring anything."""
    def refuse(*args):
        raise AssertionError(f"measured {args[2]}")

    monkeypatch.setattr(live_module, "measure_configuration", refuse)


def overrides(knowledge: Path, out: Path, *extra: str) -> list[str]:
    """A tune of tiny-mlp over the tiny space with short measurements; `extra` adds or replaces keys."""
    keys = dict(a.split("=", 1) for a in ["backend=cpu", "model=tiny_models:TINY", "space=tiny",
                                           f"hydra.searchpath=[file://{TUNE_CONF}]",
                                           f"knowledge={knowledge}", f"out={out}", "progress=false", "trials=2",
                                           *[f"price.{k}={v}" for k, v in PRICE.items()], *FAST_OVERRIDES, *extra])
    return [f"{k}={v}" for k, v in keys.items()]


def tune(knowledge: Path, out: Path, *extra: str) -> dict:
    return Tune(compose_tune(overrides(knowledge, out, *extra))).run()


def config_records(out: Path) -> list[dict]:
    return [r for r in Journal(out / "journal.jsonl").read(repair=False) if r["kind"] == "config"]


@pytest.mark.parametrize("method", METHODS)
def test_every_method_tunes_and_a_restart_replays_to_the_same_proposals(method, tmp_path, tiny_models, stand_in):
    knowledge = knowledge_set(tmp_path / "knowledge")
    whole = tune(knowledge, tmp_path / "whole", f"method={method}", "trials=3")
    assert [t["trial"] for t in whole["trials"]] == [1, 2, 3] and whole["finished"]
    indices = [t["index"] for t in whole["trials"]]
    assert len(set(indices)) == 3 and stand_in == indices
    assert whole["recommendation"]["index"] in indices and whole["method"] == method

    stand_in.clear()
    tune(knowledge, tmp_path / "grown", f"method={method}", "trials=2")
    grown = tune(knowledge, tmp_path / "grown", f"method={method}", "trials=3")  # trials may grow
    assert [t["index"] for t in grown["trials"]] == indices  # same seed: the same proposals, replayed
    assert stand_in == indices  # the first two measured once, then only the third
    assert [t["objective"] for t in grown["trials"]] == [t["objective"] for t in whole["trials"]]


def test_tune_json_records_trials_slo_and_provenance(tmp_path, tiny_models, stand_in, measured, capsys):
    knowledge = knowledge_set(tmp_path / "knowledge")
    p99 = {i: float(np.mean([r["latency_p99_ms"] for r in rec["reps"]])) for i, rec in measured.items()}
    limit = float(np.median(list(p99.values())))  # rules out about half of the space
    out = tmp_path / "tune"
    summary = tune(knowledge, out, "method=random", "trials=4", f"constraints.latency_p99_ms={limit}")
    assert json.loads((out / "tune.json").read_text()) == summary
    assert summary["knowledge"] == {"name": "knowledge", "path": str(knowledge),
                                    "digest": TraceSet(knowledge).digest(), "sources": ["src-a", "src-b", "src-c"],
                                    "target_left_out": False, "protocol": "strict"}
    assert summary["method_config"]["searcher"]["_target_"] == "baselines.random_search.RandomSearch"
    assert summary["constraints"] == {"latency_p99_ms": limit, "min_rps": None, "max_usd_per_h": None}
    assert summary["settings"] == FAST.__dict__ and summary["price_model"]["per_core_usd_per_h"] == 0.05
    for t in summary["trials"]:
        rec = measured[t["index"]]
        rps = float(np.mean([r["rps"] for r in rec["reps"]]))
        assert t["rps"] == pytest.approx(rps) and t["latency_p99_ms"] == pytest.approx(p99[t["index"]])
        assert t["price_per_hour"] == 0.05 and len(t["load_avg"]) == 3 and t["wall_s"] > 0
        met = p99[t["index"]] <= limit
        assert t["slo_met"] == met and bool(t["slo_misses"]) != met
        assert t["objective"] == (pytest.approx(rps * 3600 / 0.05) if met else 0.0)  # a miss is worth 0
    best_met = max((t for t in summary["trials"] if t["slo_met"]), key=lambda t: t["objective"])
    assert summary["recommendation"] == best_met
    assert summary["measuring_minutes"] == pytest.approx(sum(t["wall_s"] for t in summary["trials"]) / 60)
    printed = capsys.readouterr().out
    assert "recommendation: cpu_cores=1 batch_size=" in printed and "4 trials" in printed
    rows = [line for line in printed.splitlines() if re.match(r"\s+\d+  cpu_cores=1 batch_size=\d+ ", line)]
    assert len(rows) == 4 and all(("yes" if t["slo_met"] else "no: latency_p99_ms") in row
                                  for t, row in zip(summary["trials"], rows))  # one table row per trial
    journal = Journal(out / "journal.jsonl").read()
    assert journal[0]["kind"] == "header" and journal[0]["identity"] == summary["identity"]
    assert [r["index"] for r in journal if r["kind"] == "config"] == [t["index"] for t in summary["trials"]]


def test_no_trial_meeting_the_slo_is_said_and_nothing_is_recommended(tmp_path, tiny_models, stand_in, capsys):
    summary = tune(knowledge_set(tmp_path / "k"), tmp_path / "t", "method=falcon", "trials=2",
                   "constraints.min_rps=1e12")
    assert summary["recommendation"] is None and not any(t["slo_met"] for t in summary["trials"])
    assert all(t["objective"] == 0 and "min_rps" in t["slo_misses"][0] for t in summary["trials"])
    assert "no recommendation: no trial met the SLO (min_rps=1e+12) in 2 trials" in capsys.readouterr().out


def test_the_target_is_left_out_of_its_knowledge_and_said_so(tmp_path, tiny_models, stand_in, capsys):
    knowledge = knowledge_set(tmp_path / "k", models=("tiny-mlp", "src-b"))
    summary = tune(knowledge, tmp_path / "t", "method=source_best", "trials=1")
    assert summary["knowledge"]["sources"] == ["src-b"] and summary["knowledge"]["target_left_out"]
    assert "target 'tiny-mlp' is in the set and is left out" in capsys.readouterr().out
    with pytest.raises(TuneError, match="holds only the target model 'tiny-mlp'"):
        Tune(compose_tune(overrides(knowledge_set(tmp_path / "k1", models=("tiny-mlp",)), tmp_path / "t1")))


def test_out_must_be_new_empty_or_this_tunes_own(tmp_path, tiny_models, stand_in):
    knowledge = knowledge_set(tmp_path / "k")
    user = tmp_path / "user"
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    with pytest.raises(TuneError, match=r"is not empty and is not a tune's folder \(it holds \['notes.txt'\]\)"):
        tune(knowledge, user, "trials=1")
    assert [p.name for p in user.iterdir()] == ["notes.txt"]

    out = tmp_path / "t"
    tune(knowledge, out, "method=random", "trials=2")
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    for extra, differs in ((["method=random", "seed=1"], "seed: 0 -> 1"),
                           (["method=gp_bo"], "method.name"),
                           (["method=random", "constraints.min_rps=5"], "constraints.min_rps: null -> 5.0"),
                           (["method=random", "settings.reps=3"], "settings.reps: 2 -> 3")):
        with pytest.raises(TuneError, match=f"other settings .*{differs}"):
            tune(knowledge, out, *extra)
    with pytest.raises(ConfigError, match="already holds 2 measured trials"):
        tune(knowledge, out, "method=random", "trials=1")
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert tune(knowledge, out, "method=random", "trials=2")["finished"] and len(stand_in) == 2  # nothing new


def test_a_second_tuner_on_one_out_is_refused(tmp_path, tiny_models, no_measuring):
    knowledge, out = knowledge_set(tmp_path / "k"), tmp_path / "t"
    with CollectLock(out / "tune.lock"):
        with pytest.raises(TuneError, match="another tuner works in"):
            tune(knowledge, out, "trials=1")


def test_a_journal_the_searcher_does_not_reproduce_is_refused(tmp_path, tiny_models, stand_in):
    knowledge, out = knowledge_set(tmp_path / "k"), tmp_path / "t"
    tune(knowledge, out, "method=random", "trials=2")
    path = out / "journal.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if json.loads(line)["kind"] == "config")
    record = json.loads(lines[first])
    other = next(i for i in range(len(SPACE)) if i not in {r["index"] for r in config_records(out)})
    record.update(index=other, config=SPACE.config(other))
    lines[first] = json.dumps(record, sort_keys=True) + "\n"
    path.write_text("".join(lines))
    with pytest.raises(JournalMismatch, match="trial 1 measured .* but the searcher now proposes"):
        tune(knowledge, out, "method=random", "trials=3")


@pytest.mark.parametrize("extra, error, message", [
    (["trials=0"], ConfigError, "trials=0: must be a whole number >= 1"),
    (["trials=5"], ConfigError, "trials=5: must be at most 4, the number of configurations of space 'tiny'"),
    (["seed=-1"], ConfigError, "seed=-1: must be a whole number >= 0"),
    (["settings.reps=abc"], ConfigError, "settings.reps='abc': must be int"),
    (["settings.measure_s=[1]"], ConfigError, "settings.measure_s=\\[1\\]: must be a number"),
    (["constraints.min_rps=-1"], ConstraintError, r"constraints.min_rps=-1(\.0)? is not allowed"),
    (["+constraints.p50=3"], ConstraintError, r"constraints.p50 is not a constraint"),
    (["model=nope"], TuneError, "model=nope: unknown model 'nope'; known models:"),
    (["method=falcon_authors"], TuneError, "protocol=authors"),
    (["+method.searcher.foo=1", "method=random"], JobError, "method 'random'"),
    (["knowledge=no/such/set"], TuneError, "knowledge='no/such/set' is neither a trace set of conf/traces"),
    (["backend=tpu"], CollectError, "unknown backend 'tpu'"),
])
def test_bad_values_are_refused_with_one_line_before_anything_is_measured(tmp_path, tiny_models, no_measuring,
                                                                         extra, error, message):
    knowledge, out = knowledge_set(tmp_path / "k"), tmp_path / "t"
    with pytest.raises(error, match=message) as caught:
        Tune(compose_tune(overrides(knowledge, out, *extra))).run()
    assert "\n" not in str(caught.value) and not out.exists()


def test_a_knowledge_set_over_another_space_is_refused_naming_what_differs(tmp_path, tiny_models, no_measuring):
    other = SearchSpace([Knob("cpu_cores", (1,), "cores"), Knob("batch_size", (1, 2, 16), "requests")], "other")
    knowledge, out = knowledge_set(tmp_path / "k", other), tmp_path / "t"
    with pytest.raises(TuneError, match=r"over another space .*: batch_size values \[1, 2, 4, 8\] here, "
                                        r"\[1, 2, 16\] in the set$"):
        Tune(compose_tune(overrides(knowledge, out)))
    third = SearchSpace([Knob("batch_size", (1, 2, 4, 8), "requests"), Knob("threads", (1,))], "third")
    with pytest.raises(TuneError, match="cpu_cores is not a knob of the set; threads is a knob of the set only"):
        Tune(compose_tune(overrides(knowledge_set(tmp_path / "k3", third), out)))
    assert not out.exists()


def test_knowledge_is_a_shipped_set_name_or_a_folder(tmp_path):
    assert tune_module.knowledge_set("measured_cpu").name == "measured-cpu"
    assert tune_module.knowledge_set("traces/sim-v1").name == "sim-v1"
    with pytest.raises(TuneError, match="knowledge='nope' is neither"):
        tune_module.knowledge_set("nope")


def run_tune_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.tune", *args], cwd=ROOT, capture_output=True, text=True,
                          env=tiny_env(), timeout=600)


def app_output(monkeypatch, capsys, *args: str) -> str:
    """What `falcon-bench tune ARGS` prints (Hydra's --help and --cfg job), run in this process."""
    monkeypatch.setattr(sys, "argv", ["falcon-bench"])
    try:
        cli.main(["tune", *args])
    except SystemExit as e:
        assert e.code in (0, None)
    return capsys.readouterr().out


def test_help_and_cfg_job_document_every_key(monkeypatch, capsys):
    help_text = app_output(monkeypatch, capsys, "--help")
    job = app_output(monkeypatch, capsys, "--cfg", "job")
    keys = [f.name for f in fields(TuneConf) if f.name != "constraints"]  # its keys are listed one by one
    keys += [f"constraints.{k}" for k in ("latency_p99_ms", "min_rps", "max_usd_per_h")]
    keys += [f"settings.{k}" for k in FAST.__dict__] + ["price.per_core_usd_per_h", "price.gpu_usd_per_h"]
    for key in keys:  # each documented in --help (top-level and constraint keys on a line of their own)
        pattern = rf"^  {re.escape(key)} " if "." not in key or key.startswith("constraints.") else re.escape(key)
        assert re.search(pattern, help_text, re.MULTILINE), key
        assert re.search(rf"^\s*{re.escape(key.split('.')[-1])}:", job, re.MULTILINE), key


@pytest.mark.slow
@pytest.mark.parametrize("extra, message", [
    ("method=nope", "Could not find 'method/nope'"),
    ("trials=0", "trials=0: must be a whole number >= 1"),
    ("trials=abc", "trials=abc"),
    ("constraints.min_rps=-1", "constraints.min_rps=-1 is not allowed"),
    ("nosuchkey=1", "nosuchkey"),
])
def test_the_command_line_refuses_with_one_line(tmp_path, extra, message):
    knowledge, out = knowledge_set(tmp_path / "k"), tmp_path / "t"
    done = run_tune_cli(*overrides(knowledge, out, extra))
    assert done.returncode != 0 and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not out.exists()


@pytest.mark.slow
def test_sigkill_after_the_second_trial_then_restart_measures_every_configuration_once(tmp_path):
    """The user's measured path of docs/tune.md, with real workers throughout: a source model collected with
    harness.collect over the space, then a tune of another model (one that runs out of memory at batch 4 and
    crashes at batch 8) killed with SIGKILL once its second trial is journaled, and started again."""
    knowledge = tmp_path / "my-knowledge"
    collect = subprocess.run([sys.executable, "-m", "harness.collect", "backend=cpu", "model=tiny_models:TINY",
                              f"space={SPACE_FILE}", f"out={knowledge}", "progress=false", *FAST_OVERRIDES],
                             cwd=ROOT, env=tiny_env(), capture_output=True, text=True, timeout=600)
    assert collect.returncode == 0, collect.stderr
    out = tmp_path / "tune"
    args = overrides(knowledge, out, "model=tiny_models:FRAGILE", "method=falcon", "trials=4")
    kill_when([sys.executable, "-m", "harness.tune", *args],
              lambda: (out / "journal.jsonl").exists() and len(config_records(out)) >= 2, "tune",
              cwd=ROOT, env=tiny_env())
    assert 2 <= len(config_records(out)) < 4
    (out / "work" / "worker-killed").mkdir(exist_ok=True)  # what a worker killed with its tuner leaves, at least

    done = run_tune_cli(*args)
    assert done.returncode == 0, done.stderr
    records = config_records(out)
    assert sorted(r["index"] for r in records) == [0, 1, 2, 3]  # every configuration measured exactly once
    assert [r["trial"] for r in records] == [1, 2, 3, 4]
    assert sum(r["kind"] == "session" for r in Journal(out / "journal.jsonl").read()) == 2
    assert "(journal)" in done.stdout and "recommendation:" in done.stdout
    summary = json.loads((out / "tune.json").read_text())
    assert [t["index"] for t in summary["trials"]] == [r["index"] for r in records] and summary["finished"]
    assert summary["knowledge"]["sources"] == ["tiny-mlp"]
    by_batch = {t["config"]["batch_size"]: t for t in summary["trials"]}
    assert {b: t["feasible"] for b, t in by_batch.items()} == {1: True, 2: True, 4: False, 8: False}
    assert by_batch[8]["reason"].startswith("worker crashed") and by_batch[4]["objective"] == 0
    assert summary["recommendation"]["config"]["batch_size"] in (1, 2)
    assert not list((out / "work").glob("worker-*"))  # the killed worker's scratch is gone


@pytest.mark.slow
def test_the_users_path_simulate_sources_over_their_own_space_then_tune(tmp_path):
    """docs/tune.md: simulate zoo models over one's own space (a conf folder of one's own on Hydra's search
    path, sim-v2's CPU-only serving), then tune a model against them."""
    knowledge, own_conf = tmp_path / "sim-tiny", f"hydra.searchpath=[file://{TUNE_CONF}]"
    sim = subprocess.run([sys.executable, "-m", "harness.sim", "space=tiny", own_conf, "models=[resnet-18,gru]",
                          f"out={knowledge}", "name=sim-tiny"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert sim.returncode == 0, sim.stderr
    assert TraceSet(knowledge).space == SPACE
    out = tmp_path / "tune"
    done = run_tune_cli(*overrides(knowledge, out, "method=falcon", "constraints.latency_p99_ms=10000"))
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "tune.json").read_text())
    assert summary["knowledge"]["sources"] == ["gru", "resnet-18"] and len(summary["trials"]) == 2
    assert summary["recommendation"] is not None and "recommendation:" in done.stdout
