"""Benchmarks of the harness's hot paths. Run: scripts/test tests/benchmarks --benchmark-enable"""

from harness.oracle import Oracle


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
