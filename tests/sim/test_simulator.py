"""Must-hold behaviour of the simulator, on synthetic inventories with known structure (tests/sim/fakes.py)."""

import numpy as np
import pytest
from omegaconf import OmegaConf

from harness.sim import SimError, Simulator
from harness.sim.hardware import gpu
from harness.sim.pricing import load_pricing, price_per_hour
from harness.sim.simulator import load_sim_params

from . import fakes
from .conftest import knobs

BATCHES = [4, 8, 16, 32, 64, 128]


def test_throughput_rises_with_batch_and_saturates(fake_sim):
    rise = {}
    for model in ("fake-cnn", "fake-rnn"):
        e = fake_sim.simulate(model, knobs(batch_size=BATCHES, cpu_cores=5, gpu_type="T4"))
        gains = e["rps"][1:] / e["rps"][:-1]
        assert np.all(gains > 0.98)
        assert gains[-1] < 1.15 and gains[-1] < gains[0]  # diminishing returns
        rise[model] = e["rps"][-1] / e["rps"][0]
    assert rise["fake-rnn"] > 3  # launch- and dispatch-bound at small batches


def test_lower_power_cap_slows_compute_bound_more_than_memory_bound(fake_sim):
    slow = {}
    for model in ("fake-cnn", "fake-rnn"):
        e = fake_sim.simulate(model, knobs(gpu_power_pct=[50, 100], gpu_type="T4", batch_size=8))
        slow[model] = e["gpu_stage_ms"][0] / e["gpu_stage_ms"][1]
    assert slow["fake-cnn"] > slow["fake-rnn"] > 1.0


def test_one_core_throttles_image_preprocessing(fake_sim):
    drop = {}
    for model in ("fake-cnn", "fake-rnn"):
        e = fake_sim.simulate(model, knobs(cpu_cores=[1, 4], gpu_type="V100", batch_size=32))
        drop[model] = e["rps"][1] / e["rps"][0]
    assert drop["fake-cnn"] > 2.5
    assert drop["fake-cnn"] > drop["fake-rnn"]


def test_memory_cap_microbatches_then_refuses(fake_sim):
    wide = Simulator(fake_sim.params, inventory=lambda m, b: fakes.conv_net(b, width=256), specs=fakes.spec)
    e = wide.simulate("fake-cnn", knobs(gpu_mem_gb=[2.4, 0.8, 0.8], batch_size=[128, 128, 4]))
    assert e["microbatch"][0] == 128
    assert 0 < e["microbatch"][1] < 128 and e["feasible"][1]
    assert e["rps"][1] < e["rps"][0]
    tiny = Simulator(fake_sim.params, inventory=lambda m, b: fakes.conv_net(b, width=512, size=112), specs=fakes.spec)
    e = tiny.simulate("fake-cnn", knobs(gpu_mem_gb=0.8, batch_size=4))
    assert not e["feasible"][0] and "out of memory" in e["reason"][0] and e["objective"][0] == 0


def test_faster_gpu_serves_more_when_gpu_bound(fake_sim):
    e = fake_sim.simulate("fake-cnn", knobs(gpu_type=["K80", "T4", "V100"], cpu_cores=5, batch_size=4))
    assert e["gpu_stage_ms"][0] > e["gpu_stage_ms"][1] > e["gpu_stage_ms"][2]


def test_full_instance_costs_the_instance_price():
    pricing = load_pricing(load_sim_params().pricing)
    for name in ("K80", "M60", "T4", "V100"):
        g = gpu(name)
        p = price_per_hour(pricing, g, np.array([g.instance_vcpus]), np.array([g.mem_gb]), np.array([g.tdp_w]))
        assert p[0] == pytest.approx(g.instance_usd_per_h)


def test_model_is_not_the_sum_of_its_operators_unless_asked(fake_sim):
    k = knobs(batch_size=BATCHES)
    e = fake_sim.simulate("fake-cnn", k)
    ratio = e["gpu_stage_ms"] / e["op_time_ms"].sum(axis=1)
    assert np.ptp(ratio) > 0.01  # model-specific effects vary with the configuration
    params = OmegaConf.merge(fake_sim.params, {"noise": {"model_effect_scale": 0.0}})
    exact = Simulator(params, inventory=fakes.inventory, specs=fakes.spec).simulate("fake-cnn", k)
    np.testing.assert_allclose(exact["gpu_stage_ms"], exact["op_time_ms"].sum(axis=1), rtol=1e-9)


def test_repetitions_are_seeded_and_spread(fake_sim):
    e = fake_sim.simulate("fake-cnn", knobs(batch_size=BATCHES))
    a = fake_sim.repetitions(e, 5, np.random.default_rng(3))
    b = fake_sim.repetitions(e, 5, np.random.default_rng(3))
    np.testing.assert_array_equal(a["rps"], b["rps"])
    spread = a["rps"].std(axis=1) / a["rps"].mean(axis=1)
    assert np.all((spread > 0.003) & (spread < 0.1))
    assert np.all(a["latency_p99_ms"] >= a["latency_p50_ms"])


def test_unknown_knobs_and_gpus_are_refused(fake_sim):
    with pytest.raises(SimError, match="does not know knobs"):
        fake_sim.simulate("fake-cnn", {**knobs(), "threads": np.array([2])})
    with pytest.raises(SimError, match="unknown GPU type"):
        fake_sim.simulate("fake-cnn", knobs(gpu_type="B200"))
