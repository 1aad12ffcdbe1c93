"""Shared pieces of the ask-time benchmarks."""

import pytest
from omegaconf import OmegaConf

from harness.constraints import Constraints
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
    `constraints` (the SLO handed to `start`) where given."""

    def run(searcher, trace, told=15, constraints=Constraints()):
        def setup():
            searcher.start(trace.space, 0, 2 * told, constraints)
            oracle = Oracle(trace, 0, constraints=constraints)
            for _ in range(told):
                searcher.tell(oracle.trial(searcher.ask()))
            return (), {}

        config = benchmark.pedantic(searcher.ask, setup=setup, rounds=5, iterations=1)
        assert trace.space.index(config) not in searcher.tried_

    return run
