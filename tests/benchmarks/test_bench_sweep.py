"""One whole 30-trial search per method on traces/sim-v1 (vgg16), the unit of work of `scripts/reproduce`.
Run: scripts/test tests/benchmarks/test_bench_sweep.py --benchmark-enable"""

from pathlib import Path

import pytest
from hydra.utils import instantiate

from harness.job import compose_run
from harness.search import Knowledge, TransferSearcher
from harness.job import replay_search
from harness.traces import TraceSet

METHODS = ["falcon", "morphling", "vesta", "heterbo", "ernest", "gp_bo", "optuna_tpe", "source_best", "random"]
SIM = Path(__file__).resolve().parents[2] / "traces" / "sim-v1"


@pytest.fixture(scope="module")
def sim():
    traces = TraceSet(SIM)
    sources = traces.load_many(list(compose_run([]).split.source))
    return traces, sources


@pytest.mark.parametrize("method", METHODS)
def test_bench_one_search(benchmark, method, sim):
    traces, sources = sim
    cfg = compose_run([f"method={method}", f"traces.path={SIM}", "target=vgg16"])
    searcher = instantiate(cfg.method.searcher)
    if isinstance(searcher, TransferSearcher):
        searcher.fit(Knowledge(sources))
    records = benchmark.pedantic(lambda: list(replay_search(searcher, traces.load("vgg16"), 0, 30)),
                                 rounds=3, iterations=1)
    assert len(records) == 30
