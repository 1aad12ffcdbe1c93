"""The off-the-shelf peers (SMAC3, Syne Tune): deterministic per seed, never a configuration twice to the oracle,
the repeat/exhaustion handling of baselines/peer_adapter.py, and a sane search on an obvious objective."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from harness.job import replay_search
from harness.space import Knob, SearchSpace
from harness.traces import write_trace_set

pytest.importorskip("smac", reason="needs the peers extra (pip install -e '.[peers]')")
pytest.importorskip("syne_tune", reason="needs the peers extra (pip install -e '.[peers]')")

from baselines.peer_adapter import PeerAdapter, PeerExhausted  # noqa: E402
from baselines.smac_hpo import SMACHPO  # noqa: E402
from baselines.syne_tune_bo import SyneTuneBO  # noqa: E402

PEERS = {"smac_hpo": SMACHPO, "syne_tune_bo": SyneTuneBO}
GPU_COST = {"a": 1.0, "b": 0.2, "c": 0.6}


def objective(c):
    """More cores help, batch size has an interior optimum, GPU 'b' is cheapest: one clear optimum."""
    return 1.0 / (0.5 + 3.0 / c["cores"] + 0.25 * c["batch"] + 2.0 / c["batch"] + GPU_COST[c["gpu"]])


@pytest.fixture
def tiny_space():
    """2 x 3 x 2 = 12 configurations: small enough to exhaust."""
    return SearchSpace([Knob("cores", (2, 8)), Knob("gpu", ("a", "b", "c"), ordered=False),
                        Knob("batch", (2, 4))], name="tiny")


def run(searcher, trace, seed, trials):
    return [(r.index, r.objective, r.accuracy) for r in replay_search(searcher, trace, seed, trials)]


@pytest.mark.parametrize("name", PEERS)
def test_deterministic_per_seed(name, small_space, make_trace):
    trace = make_trace(small_space, objective, reps=3, noise=0.05, seed=7)
    first = run(PEERS[name](), trace, 3, 10)
    assert first == run(PEERS[name](), trace, 3, 10)
    assert first != run(PEERS[name](), trace, 4, 10)  # the seed reaches the library


RECORDS_IN_A_NEW_PROCESS = """
import json, sys
from harness.job import replay_search
from harness.traces import TraceSet
from baselines.{module} import {cls}
trace = TraceSet(sys.argv[1]).load("m")
print(json.dumps([[r.index, r.objective] for r in replay_search({cls}(), trace, 3, 12)]))
"""


@pytest.mark.parametrize("name", PEERS)
def test_same_records_in_separate_processes(name, small_space, make_trace, tmp_path):
    """Two fresh interpreters with different string hashing (PYTHONHASHSEED) give this process's records."""
    trace = make_trace(small_space, objective, model="m", reps=2, noise=0.05, seed=7)
    path = write_trace_set(tmp_path / "set", [trace], "peers-set")
    here = [[i, v] for i, v, _ in run(PEERS[name](), trace, 3, 12)]
    code = RECORDS_IN_A_NEW_PROCESS.format(module=PEERS[name].__module__.split(".")[-1], cls=PEERS[name].__name__)
    for hash_seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONHASHSEED": hash_seed})
        assert json.loads(out.stdout.strip().splitlines()[-1]) == here


@pytest.mark.parametrize("name", PEERS)
def test_never_proposes_twice_even_when_exhausting_the_space(name, tiny_space, make_trace):
    trace = make_trace(tiny_space, objective, reps=2, noise=0.05, seed=1)
    records = run(PEERS[name](), trace, 0, len(tiny_space))  # run_search refuses a repeat
    assert sorted(i for i, _, _ in records) == list(range(len(tiny_space)))


@pytest.mark.parametrize("name", ["smac_hpo", pytest.param("syne_tune_bo", marks=pytest.mark.slow)])
def test_finds_the_optimum_of_an_obvious_trace(name, small_space, make_trace):
    trace = make_trace(small_space, objective)
    records = run(PEERS[name](), trace, 0, 30)  # half of the 60 configurations
    assert records[-1][2] == pytest.approx(1.0)


class Stubborn(PeerAdapter):
    """A 'library' that proposes index 0 forever, then gives up: exercises the repeat and exhaustion paths."""

    name = "stubborn"

    def _start_library(self, seed, budget):
        self.told, self.injected, self.asks = [], [], 0

    def _propose(self):
        self.asks += 1
        if self.asks > 50:
            raise PeerExhausted
        return "proposal", self.space_.config(0)

    def _observe(self, handle, value):
        self.told.append((handle, value))

    def _inject(self, config):
        self.injected.append(self.space_.index(config))
        return "injected"


def test_repeats_are_told_the_observed_value_then_the_nearest_untried_is_injected(tiny_space, make_trace):
    trace = make_trace(tiny_space, objective)
    searcher = Stubborn(max_repeats=3)
    records = run(searcher, trace, 0, 4)
    assert [i for i, _, _ in records] == [0, 1, 2, 6]  # 1, 2, 6: one knob one position away from 0
    assert searcher.injected == [1, 2, 6]
    repeats = [v for h, v in searcher.told if h == "proposal"][1:]  # after the first, every proposal repeats 0
    assert repeats and set(repeats) == {records[0][1]}
    assert [h for h, _ in searcher.told].count("injected") == 3


def test_an_exhausted_library_falls_back_to_untried_configurations(tiny_space, make_trace):
    searcher = Stubborn(max_repeats=1000)
    records = run(searcher, make_trace(tiny_space, objective), 0, len(tiny_space))
    assert sorted(i for i, _, _ in records) == list(range(len(tiny_space)))


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="max_repeats=-1 is not allowed"):
        SMACHPO(max_repeats=-1)
    with pytest.raises(ValueError, match="classifier='gp' is not allowed"):
        SyneTuneBO(classifier="gp")
    with pytest.raises(ValueError, match="initial_ratio=0.0 is not allowed"):
        SMACHPO(initial_ratio=0.0)
