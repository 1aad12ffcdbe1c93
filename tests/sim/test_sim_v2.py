"""Simulator v2 and the shipped trace set traces/sim-v2: executors, GPU corrections, CPU-only serving."""

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from harness.paths import TRACES_DIR
from harness.sim import SimError, Simulator, predict
from harness.sim.v2_fits import gpu_ratio_errors
from harness.sim.executor import plan
from harness.sim.simulator import conf_file, load_sim_params
from harness.sim.generate import simulate_trace
from harness.traces import TraceSet

from .conftest import BASE, PAPER_MODELS

SIM_V2 = TRACES_DIR / "sim-v2"


@pytest.fixture(scope="module")
def sim_v2() -> TraceSet:
    return TraceSet(SIM_V2)


def v2(**overrides) -> Simulator:
    return Simulator(OmegaConf.merge(load_sim_params(conf_file(2)), overrides))


def test_sim_v2_holds_the_paper_models_and_says_it_is_v2(sim_v2):
    assert sim_v2.models == PAPER_MODELS and len(sim_v2.space) == 1440
    trace = sim_v2.load("resnet-101")
    assert trace.metadata["simulator"] == "harness.sim v2"
    assert trace.metadata["sim_params"]["executor"] == "fused"


def _model_wide_shares(trace_set: TraceSet, model: str) -> pd.Series:
    ops = trace_set.load(model).operators
    return ops[ops["config_index"] == -1].set_index("op_type")["time_share"]


def test_fused_profiles_have_the_key_operators_graph_compilers_show(sim_v2):
    """CNNs: conv2d alone at >= 5 % (element-wise epilogues are fused); BERT-like models: dense and the
    layout transposes. sim-v1 (eager) gives CNNs 3-4 key operators."""
    for model in ("resnet-101", "vgg16", "resnet-152-v2"):
        shares = _model_wide_shares(sim_v2, model)
        assert set(shares[shares >= 0.05].index) == {"conv2d"}, model
    shares = _model_wide_shares(sim_v2, "bert-large")
    assert set(shares[shares >= 0.05].index) == {"dense", "transpose"}
    eager = _model_wide_shares(TraceSet(TRACES_DIR / "sim-v1"), "resnet-101")
    assert len(eager[eager >= 0.05]) >= 3


def test_fused_executor_fuses_epilogues_but_not_recurrent_gates():
    ops = pd.DataFrame({"op_type": ["conv2d", "bias_add", "relu", "split", "sigmoid", "multiply", "softmax", "add"],
                        "input_shapes": [""] * 8})
    for col in ("flops", "bytes_read", "bytes_written", "param_bytes"):
        ops[col] = 100.0
    cls = np.array(["conv", "elementwise", "elementwise", "movement", "elementwise", "elementwise", "elementwise",
                    "elementwise"])
    params = OmegaConf.create({"epilogue_fraction": 0.1, "transpose_efficiency": 0.5})
    fused = plan("fused", ops, cls, params)
    np.testing.assert_array_equal(fused.launch, [1, 0, 0, 1, 1, 1, 1, 1])
    assert fused.nbytes[1] == pytest.approx(20.0) and fused.nbytes[4] == 200.0
    eager = plan("eager", ops, cls)
    assert eager.launch.sum() == len(ops)
    with pytest.raises(SimError, match="sim.executor='xla' is not an executor"):
        plan("xla", ops, cls)


def test_fused_executor_inserts_the_batch_matmul_layout_transpose():
    ops = pd.DataFrame({"op_type": ["transpose", "batch_matmul", "softmax", "batch_matmul"],
                        "input_shapes": ["((2, 4, 8),)", "((2, 8, 4), (2, 4, 8))", "((2, 8, 8),)",
                                         "((2, 8, 8), (2, 8, 4))"]})
    for col in ("flops", "bytes_read", "bytes_written", "param_bytes"):
        ops[col] = 64.0
    cls = np.array(["movement", "gemm", "elementwise", "gemm"])
    k = plan("fused", ops, cls, OmegaConf.create({"epilogue_fraction": 0.1, "transpose_efficiency": 0.5}))
    assert list(k.op_types) == ["transpose", "batch_matmul", "softmax", "batch_matmul", "transpose"]
    assert k.nbytes[-1] == 2 * 4 * 2 * 8 * 4  # read + write the second operand of the last batch_matmul
    assert list(k.memory_scale) == [0.5, 1, 1, 1, 0.5]


def test_fused_graph_needs_fewer_kernels_and_less_time_than_eager():
    fused, eager = v2(), v2(executor="eager")
    assert fused.batch_ops("resnet-101", 32).kernels < eager.batch_ops("resnet-101", 32).kernels
    assert fused.kernel_times_us("resnet-101", "T4", 32).sum() < eager.kernel_times_us("resnet-101", "T4", 32).sum()


def test_gpu_corrections_bring_held_out_ratios_within_15_percent():
    """Public forward times (conf/sim/v2.yaml public_forward_ms): the held-out models' GPU-to-M60 ratios."""
    errors = gpu_ratio_errors(load_sim_params(conf_file(2)))
    held_out = errors[~errors["fitted"]]
    assert len(held_out) >= 5
    assert held_out["error"].abs().median() < 0.15
    uncorrected = OmegaConf.create(OmegaConf.to_container(load_sim_params(conf_file(2))))
    uncorrected.gpu_corrections = {}
    assert gpu_ratio_errors(uncorrected)["error"].abs().median() > 0.2  # what v1's spec-only model gets


def test_predict_defaults_to_v2_and_takes_the_version():
    a, b = predict("vgg16", {**BASE, "gpu_type": "K80"}), predict("vgg16", {**BASE, "gpu_type": "K80"}, version=1)
    assert a["gpu_batch_time_ms"] > 1.1 * b["gpu_batch_time_ms"]  # K80 sustained clock (v2), despite fusion
    with pytest.raises(SimError, match="version 3 does not exist"):
        predict("vgg16", BASE, version=3)


def test_modern_gpus_are_predicted_from_their_specifications():
    times = {g: predict("resnet-101", {**BASE, "gpu_type": g})["gpu_batch_time_ms"] for g in ("T4", "A100", "H100")}
    assert times["H100"] < times["A100"] < times["T4"]


def test_cpu_serving_scales_with_cores_and_batches_down_to_one():
    """The mechanism, with a second core worth 0.8 of one (the shipped fit: 0.725)."""
    sim = v2(cpu_serving={"parallel_efficiency": 0.8})
    e = sim.simulate("resnet-18", {"cpu_cores": np.array([1, 2, 1, 1]), "batch_size": np.array([8, 8, 1, 2])})
    assert e["rps"][1] > 1.3 * e["rps"][0]
    assert e["feasible"].all() and "gpu_mem_used_gb" not in e
    assert e["price_per_hour"][1] == pytest.approx(2 * e["price_per_hour"][0])
    assert e["op_time_ms"].shape[0] == 4 and e["op_time_ms"][0].sum() > 0
    assert 0 < e["model_stage_ms"][2] < e["model_stage_ms"][3] < e["model_stage_ms"][0]
    with pytest.raises(SimError, match="takes only cpu_cores and batch_size"):
        sim.simulate("resnet-18", {"batch_size": np.array([1]), "gpu_mem_gb": np.array([1.0])})
    with pytest.raises(SimError, match="simulator v1 has no CPU-only serving model"):
        Simulator(load_sim_params(conf_file(1))).simulate("resnet-18", {"batch_size": np.array([1])})


def test_cpu_only_trace_over_the_cpu_local_space():
    from harness.space import load_space
    sim = v2()
    trace = simulate_trace(sim, "ncf", load_space("cpu_local"), 2, 0, {})
    assert set(trace.metadata["missing_fields"]) == {"gpu_mem_used_gb", "power_w"}
    assert len(trace.measurements) == 10 * 2 and trace.feasible.all()


def test_cpu_serving_parameters_are_the_fit_to_the_shipped_measurements():
    """conf/sim/v2.yaml's fitted CPU-serving values are what `harness.sim.calibrate mode=cpu` gives on
    traces/measured-cpu (so the two cannot drift apart when the set is recollected)."""
    from harness.paths import TRACES_DIR
    from harness.sim.v2_fits import fit_cpu_serving
    params = load_sim_params(conf_file(2))
    fitted = fit_cpu_serving(params, TRACES_DIR / "measured-cpu")["fitted_on_all"]
    assert fitted == pytest.approx({k: params["cpu_serving"][k] for k in fitted}, rel=2e-3)
