"""Ask time of every baseline on the paper space: one `ask` after 15 trials of a release target (the middle of
a 30-trial search). Run: scripts/test tests/benchmarks/test_bench_baselines.py --benchmark-enable"""

import pytest

from baselines.ernest import Ernest
from baselines.gp_bo import GPBO
from baselines.heterbo import HeterBO
from baselines.morphling import Morphling
from baselines.optuna_tpe import OptunaTPE
from baselines.random_search import RandomSearch
from baselines.source_best import SourceBest
from baselines.vesta import Vesta
from harness.search import Knowledge, TransferSearcher

METHODS = {"random": RandomSearch, "gp_bo": GPBO, "morphling": Morphling, "vesta": Vesta, "heterbo": HeterBO,
           "ernest": Ernest, "optuna_tpe": OptunaTPE, "source_best": SourceBest}


@pytest.fixture(scope="module")
def fitted(release_sources):
    return {name: cls().fit(Knowledge(release_sources)) if issubclass(cls, TransferSearcher) else cls()
            for name, cls in METHODS.items()}


@pytest.mark.parametrize("name", METHODS)
def test_bench_ask_after_15_trials(bench_ask, name, fitted, release_set):
    bench_ask(fitted[name], release_set.load("roberta"))
