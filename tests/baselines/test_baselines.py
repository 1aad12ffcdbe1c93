"""Every baseline: deterministic per seed, never proposes twice, finds the optimum of an obvious trace, and
(transfer methods) round-trips its fitted state through JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from baselines.ernest import Ernest
from baselines.gp_bo import GPBO
from baselines.heterbo import HeterBO
from baselines.morphling import Morphling
from baselines.optuna_tpe import OptunaTPE
from baselines.source_best import SourceBest
from baselines.vesta import Vesta
from harness.search import Knowledge, TransferSearcher
from harness.job import replay_search

FACTORIES = {
    "gp_bo": lambda: GPBO(),
    "morphling": lambda: Morphling(meta_iters=200),
    "vesta": lambda: Vesta(n_labels=6),
    "heterbo": lambda: HeterBO(),
    "ernest": lambda: Ernest(),
    "optuna_tpe": lambda: OptunaTPE(),
    "source_best": lambda: SourceBest(),
}
TRANSFER = [n for n, f in FACTORIES.items() if isinstance(f(), TransferSearcher)]


def family(variant: int):
    """A family of objectives with obvious structure (requests per dollar shaped like Ernest's cost model):
    more cores help, batch size has an interior optimum, GPU 'b' is the cheapest per request. Variants differ
    in scale and mildly in their coefficients, like models of one kind."""
    gpu_cost = {"a": 1.0, "b": 0.2, "c": 0.6}
    k = 1.0 + 0.1 * variant

    def objective(c):
        return (2.0 + variant) / (0.5 + 3.0 * k / c["cores"] + 0.25 * c["batch"] / k + 2.0 / c["batch"]
                                  + gpu_cost[c["gpu"]])
    return objective


@pytest.fixture
def sources(small_space, make_trace):
    return [make_trace(small_space, family(v), model=f"src{v}") for v in (1, 2, 3, 4)]


@pytest.fixture
def target(small_space, make_trace):
    return make_trace(small_space, family(0), model="target", reps=3, noise=0.05, seed=7)


def searcher(name, sources):
    s = FACTORIES[name]()
    return s.fit(Knowledge(sources)) if name in TRANSFER else s


def run(s, trace, seed, trials):
    return [(r.index, r.objective, r.accuracy) for r in replay_search(s, trace, seed, trials)]


@pytest.mark.parametrize("name", FACTORIES)
def test_deterministic_per_seed(name, sources, target):
    assert run(searcher(name, sources), target, 3, 12) == run(searcher(name, sources), target, 3, 12)


@pytest.mark.parametrize("name", FACTORIES)
def test_never_proposes_twice_even_when_exhausting_the_space(name, sources, target, small_space):
    records = run(searcher(name, sources), target, 1, len(small_space))  # run_search refuses a repeat
    assert sorted(i for i, _, _ in records) == list(range(len(small_space)))


@pytest.mark.parametrize("name", FACTORIES)
@pytest.mark.parametrize("seed", [0, 1])
def test_reaches_the_optimum_of_an_obvious_trace(name, seed, sources, small_space, make_trace):
    trace = make_trace(small_space, family(0), model="target")
    records = run(searcher(name, sources), trace, seed, 20)  # a third of the 60 configurations
    assert records[-1][2] == pytest.approx(1.0)


@pytest.mark.parametrize("name", TRANSFER)
def test_fitted_state_round_trips_through_json(name, sources, target):
    fitted = searcher(name, sources)
    state = json.loads(json.dumps(fitted.get_state()))
    restored = FACTORIES[name]().set_state(state)
    assert run(restored, target, 2, 10) == run(fitted, target, 2, 10)


@pytest.mark.parametrize("name", TRANSFER)
def test_transfer_method_refuses_to_start_unfitted_or_on_another_space(name, sources, target, paper_space):
    with pytest.raises(RuntimeError, match="before fit"):
        FACTORIES[name]().start(target.space, 0, 5)
    with pytest.raises(ValueError, match="fitted on space"):
        searcher(name, sources).start(paper_space, 0, 5)

