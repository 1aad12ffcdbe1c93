"""Benchmarks of the simulator. Run: scripts/test tests/benchmarks/test_bench_sim.py --benchmark-enable

The whole trace set (`python -m harness.sim`) is timed in docs/simulator.md; here: one model's full grid
(what the trace set repeats per model) and one `predict` call.
"""


import pytest

from harness.sim import Simulator, predict
from harness.sim.simulator import conf_file, load_sim_params
from harness.sim.generate import simulate_trace
from harness.space import load_space


@pytest.mark.parametrize("version", [1, 2])
def test_bench_simulate_one_model_all_configurations(benchmark, version):
    space = load_space("paper")

    def one_model():
        # fresh: inventories are read and costed inside the timing
        sim = Simulator(load_sim_params(conf_file(version)))
        return simulate_trace(sim, "vgg16", space, 5, 0, {})

    trace = benchmark.pedantic(one_model, rounds=3, iterations=1)
    assert len(trace.measurements) == len(space) * 5


def test_bench_predict_one_configuration(benchmark):
    config = {"cpu_cores": 2, "gpu_type": "T4", "gpu_mem_gb": 1.6, "batch_size": 32, "gpu_power_pct": 75}
    out = benchmark(predict, "vgg16", config)
    assert out["feasible"] and out["rps"] > 0
