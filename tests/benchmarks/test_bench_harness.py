"""Benchmarks of the harness's hot paths. Run: scripts/test tests/benchmarks --benchmark-enable"""

from baselines.source_best import SourceBest
from harness.job import replay_search
from harness.oracle import Oracle
from harness.paths import TRACES_DIR
from harness.search import Knowledge
from harness.traces import TraceSet


def test_bench_oracle_trial(benchmark, release_set):
    trace = release_set.load("vgg16")
    oracle = Oracle(trace, seed=0)
    config = trace.space.config(777)
    obs = benchmark(oracle.trial, config)
    assert obs.index == 777


def test_bench_surrogate_features(benchmark, paper_space):
    x = benchmark(paper_space.features)
    assert x.shape[0] == 1440


def test_bench_index_of_a_configuration(benchmark, paper_space):
    config = paper_space.config(1000)
    assert benchmark(paper_space.index, config) == 1000


def test_bench_harness_overhead_per_search(benchmark):
    """The harness's own cost of one 30-trial search (loop, oracle, scorer, records): source_best asks in
    microseconds, so this is nearly all harness. Target: <= 2 ms."""
    traces = TraceSet(TRACES_DIR / "sim-v1")
    target = traces.load("vgg16")
    searcher = SourceBest().fit(Knowledge(tuple(traces.load_many(["resnet-152", "densenet-121", "wgan"]))))
    records = benchmark(lambda: list(replay_search(searcher, target, 0, 30)))
    assert len(records) == 30
