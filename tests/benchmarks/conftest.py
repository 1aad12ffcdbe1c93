"""Shared pieces of the ask-time benchmarks."""

import dataclasses

import pytest
from omegaconf import OmegaConf

from harness.slo import NO_CONSTRAINTS
from harness.oracle import Oracle
from harness.space import CONF_DIR


@pytest.fixture(scope="session")
def release_sources(release_set):
    """The paper split's source models from the imported release."""
    split = OmegaConf.load(CONF_DIR / "split" / "paper.yaml")
    return release_set.load_many(list(split.source))


@pytest.fixture
def bench_ask(benchmark):
    """Benchmark one `ask` after `told` trials of a search on `trace` (by default the middle of 30 trials), under
    `constraints` (the SLO handed to `begin`, each trial judged by it as the loop does) where given."""

    def run(searcher, trace, told=15, constraints=NO_CONSTRAINTS):
        def setup():
            searcher.begin(trace.space, 0, 2 * told, constraints)
            oracle = Oracle(trace, 0)
            for _ in range(told):
                measured = oracle.trial(searcher.ask())
                objective, misses = constraints.judge(measured.objective, measured.metrics)
                searcher.tell(dataclasses.replace(measured, objective=objective, slo_misses=misses))
            return (), {}

        config = benchmark.pedantic(searcher.ask, setup=setup, rounds=5, iterations=1)
        assert trace.space.index(config) not in searcher.tried_

    return run
