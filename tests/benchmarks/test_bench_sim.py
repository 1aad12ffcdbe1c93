"""Benchmarks of the simulator. Run: scripts/test tests/benchmarks/test_bench_sim.py --benchmark-enable

The whole trace set (`python -m harness.simulate`) is timed in docs/simulator.md; here: one model's full grid
(what the trace set repeats per model) and one `predict` call.
"""


from harness.sim import Simulator, predict
from harness.simulate import simulate_trace
from harness.space import load_space


def test_bench_simulate_one_model_all_configurations(benchmark):
    space = load_space("paper")

    def one_model():
        sim = Simulator()  # fresh: inventories are read and costed inside the timing
        return simulate_trace(sim, "vgg16", space, 5, 0, {})

    trace = benchmark.pedantic(one_model, rounds=3, iterations=1)
    assert len(trace.measurements) == len(space) * 5


def test_bench_predict_one_configuration(benchmark):
    config = {"cpu_cores": 2, "gpu_type": "T4", "gpu_mem_gb": 1.6, "batch_size": 32, "gpu_power_pct": 75}
    out = benchmark(predict, "vgg16", config)
    assert out["feasible"] and out["rps"] > 0
