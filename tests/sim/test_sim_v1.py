"""The shipped trace set traces/sim-v1 and the simulator on the zoo's real operator inventories."""


import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from harness.paths import TRACES_DIR
from harness.sim import Simulator, predict
from harness.sim.landscape import summary
from harness.sim.generate import simulate_trace
from harness.traces import TraceSet

from .conftest import BASE, PAPER_MODELS

SIM_V1 = TRACES_DIR / "sim-v1"


@pytest.fixture(scope="module")
def sim_v1() -> TraceSet:
    return TraceSet(SIM_V1)


def test_sim_v1_holds_the_paper_models_over_the_paper_space(sim_v1):
    assert sim_v1.models == PAPER_MODELS
    assert len(sim_v1.space) == 1440
    trace = sim_v1.load("vgg16")
    assert trace.n_reps == 5 and trace.metadata["provenance"] == "simulated"
    assert not trace.metadata["missing_fields"]
    assert trace.op_profile(int(np.argmax(trace.true_objective)))


@pytest.mark.parametrize("set_name, model", [("sim-v1", "vgg16"), ("sim-v1", "gru"), ("sim-v1", "ncf"),
                                             ("sim-v2", "resnet-101"), ("sim-v2", "bert-base")])
def test_regenerating_a_model_gives_the_committed_trace(set_name, model):
    """Both published simulated sets regenerate from their recorded parameters (sim-v1 stays as published). ncf is
    one of the five sim-v1 models whose objectives round with the scale 10^-5, which the vectorised power computed
    one ulp apart on other CPUs (harness.sim._V1_SCALES)."""
    traces = TraceSet(TRACES_DIR / set_name)
    info = traces.manifest["models"][model]
    sim = Simulator(OmegaConf.create(info["sim_params"]))
    fresh = simulate_trace(sim, model, traces.space, info["reps"], info["seed"], info)
    committed = traces.load(model)
    pd.testing.assert_frame_equal(fresh.measurements, committed.measurements)
    pd.testing.assert_frame_equal(fresh.operators, committed.operators)


def test_optimum_is_not_the_same_configuration_for_every_model(sim_v1):
    s = summary(sim_v1)
    assert s["distinct_optima"] >= 8
    assert s["rank_correlation_mean"] < 0.9


def test_large_batches_of_large_models_do_not_fit_in_08_gb(sim_v1):
    for model in ("vgg16", "bert-large"):
        table = sim_v1.load(model).objective_table()
        small = table[(table["gpu_mem_gb"] == 0.8) & (table["batch_size"] == 128)]
        assert not small["feasible"].any()
        assert table[(table["gpu_mem_gb"] == 2.4) & (table["batch_size"] == 4)]["feasible"].all() \
            or model == "bert-large"


def test_power_cap_slows_compute_bound_models_more():
    slow = {}
    for model in ("resnet-101", "mobilenet-v2"):
        capped, full = (predict(model, {**BASE, "gpu_power_pct": p}) for p in (50, 100))
        slow[model] = capped["gpu_stage_ms"] / full["gpu_stage_ms"]
    assert slow["resnet-101"] > slow["mobilenet-v2"] > 1.0


def test_one_core_throttles_image_models_with_heavy_preprocessing():
    gain = {m: predict(m, {**BASE, "cpu_cores": 4})["rps"] / predict(m, {**BASE, "cpu_cores": 1})["rps"]
            for m in ("mobilenet-v2", "bert-base")}
    assert gain["mobilenet-v2"] > 2.5 and gain["bert-base"] < 1.2


def test_predict_contract():
    out = predict("vgg16", BASE)
    for key in ("rps", "latency_p50_ms", "latency_p99_ms", "price_per_hour", "objective", "feasible",
                "gpu_mem_used_gb", "power_w", "gpu_batch_time_ms", "op_time_ms"):
        assert key in out
    assert out["objective"] == pytest.approx(out["rps"] / (out["price_per_hour"] / 3600))
    assert out["op_time_ms"]["conv2d"] > out["op_time_ms"]["dense"]
    assert all(type(k) is str and type(v) is float for k, v in out["op_time_ms"].items())
    noisy = [predict("vgg16", BASE, seed=s)["rps"] for s in (1, 1, 2)]
    assert noisy[0] == noisy[1] != noisy[2]
