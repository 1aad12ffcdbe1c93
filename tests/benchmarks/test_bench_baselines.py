"""Ask time of every baseline on the paper space: one `ask` after 15 trials of a release target (the middle of
a 30-trial search). Run: scripts/test tests/benchmarks/test_bench_baselines.py --benchmark-enable"""

import pytest
from omegaconf import OmegaConf

from baselines.common import TransferSearcher
from baselines.ernest import Ernest
from baselines.gp_bo import GPBO
from baselines.heterbo import HeterBO
from baselines.morphling import Morphling
from baselines.optuna_tpe import OptunaTPE
from baselines.random_search import RandomSearch
from baselines.source_best import SourceBest
from baselines.vesta import Vesta
from harness.oracle import Oracle
from harness.space import CONF_DIR

METHODS = {"random": RandomSearch, "gp_bo": GPBO, "morphling": Morphling, "vesta": Vesta, "heterbo": HeterBO,
           "ernest": Ernest, "optuna_tpe": OptunaTPE, "source_best": SourceBest}
TOLD = 15


@pytest.fixture(scope="module")
def fitted(release_set):
    split = OmegaConf.load(CONF_DIR / "split" / "paper.yaml")
    sources = release_set.load_many(list(split.source))
    return {name: cls().fit(sources) if issubclass(cls, TransferSearcher) else cls()
            for name, cls in METHODS.items()}


@pytest.mark.parametrize("name", METHODS)
def test_bench_ask_after_15_trials(benchmark, name, fitted, release_set):
    trace = release_set.load("roberta")
    searcher = fitted[name]

    def setup():
        searcher.start(trace.space, 0, 30)
        oracle = Oracle(trace, 0)
        for _ in range(TOLD):
            searcher.tell(oracle.trial(searcher.ask()))
        return (), {}

    config = benchmark.pedantic(searcher.ask, setup=setup, rounds=5, iterations=1)
    assert trace.space.index(config) not in searcher.tried_
