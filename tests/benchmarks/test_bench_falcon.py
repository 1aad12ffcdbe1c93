"""Ask time of Falcon on the paper space: one `ask` after 15 trials of a release target (the middle of a 30-trial
search), under both release protocols. Run: scripts/test tests/benchmarks/test_bench_falcon.py --benchmark-enable"""

import pytest
from omegaconf import OmegaConf

from falcon.searcher import FalconSearcher
from harness.oracle import Oracle
from harness.space import CONF_DIR

TOLD = 15


@pytest.fixture(scope="module")
def sources(release_set):
    split = OmegaConf.load(CONF_DIR / "split" / "paper.yaml")
    return release_set.load_many(list(split.source))


@pytest.mark.parametrize("protocol", ["strict", "authors"])
@pytest.mark.parametrize("target", ["roberta", "tacotron2"])
def test_bench_ask_after_15_trials(benchmark, protocol, target, sources, release_set):
    trace = release_set.load(target)
    searcher = FalconSearcher(protocol=protocol, curves_from=str(release_set.path), target=target).fit(sources)

    def setup():
        searcher.start(trace.space, 0, 30)
        oracle = Oracle(trace, 0)
        for _ in range(TOLD):
            searcher.tell(oracle.trial(searcher.ask()))
        return (), {}

    config = benchmark.pedantic(searcher.ask, setup=setup, rounds=5, iterations=1)
    assert trace.space.index(config) not in searcher.tried_
