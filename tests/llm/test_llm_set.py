"""The shipped LLM serving set (traces/llm-v1): loads and replays with the core install alone, and holds what its
data card says (docs/llm.md)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import yaml

from harness.paths import CONF_DIR, ROOT
from harness.traces import TraceSet
from harness.vocabulary import LLM_OPERATORS, VOCABULARY, llm_op_type

SET = ROOT / "traces" / "llm-v1"


@pytest.fixture(scope="module")
def llm_set() -> TraceSet:
    return TraceSet(SET)


def test_replays_without_the_library():
    # the library's import is blocked: loading, replaying and scoring must not need it
    code = ("import sys; sys.modules['aiconfigurator_core'] = None\n"
            "from harness.traces import TraceSet\nfrom harness.oracle import Oracle\n"
            f"t = TraceSet({str(SET)!r}).load('Qwen3-8B')\n"
            "o = Oracle(t, seed=0)\nobs = o.trial(t.space.config(int(t.true_objective.argmax())))\n"
            "print(obs.feasible, obs.objective > 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True"]


def test_models_and_split_cover_dense_moe_and_sizes(llm_set):
    split = yaml.safe_load((CONF_DIR / "split" / "llm_v1.yaml").read_text())
    assert sorted(split["source"] + split["target"]) == llm_set.models
    assert len(llm_set.models) >= 24 and not set(split["source"]) & set(split["target"])
    weights = {}
    for model in llm_set.models:
        aux = llm_set.load(model).auxiliary["llm"]
        bf16_tp1 = aux.merge(llm_set.load(model).objective_table().reset_index(names="config_index"))
        bf16_tp1 = bf16_tp1[(bf16_tp1.tensor_parallel == 1) & (bf16_tp1.weight_quant == "bf16")]
        weights[model] = float(bf16_tp1["weights_gb"].max())  # GiB of bf16 weights on one GPU ~ 2 bytes/param
    assert min(weights.values()) < 4 and max(weights.values()) > 400  # < 2 B and >= 200 B parameters
    ops = {m: set(llm_set.load(m).operators["op_type"]) for m in llm_set.models}
    assert sum("moe" in o for o in ops.values()) >= 10 and sum("moe" not in o for o in ops.values()) >= 10


def test_rows_follow_the_data_card(llm_set):
    space = llm_set.space
    assert space.names == ["gpu_type", "tensor_parallel", "batch_size", "weight_quant"] and len(space) == 288
    prices = yaml.safe_load((CONF_DIR / "pricing" / "llm_gpus.yaml").read_text())["gpu_usd_per_h"]
    reasons = set()
    for model in llm_set.models:
        t = llm_set.load(model)
        m = t.measurements
        assert t.n_reps == 1 and t.feasible.any() and t.metadata["provenance"] == "estimated"
        assert np.allclose(m.price_per_hour, m.tensor_parallel * m.gpu_type.map(prices))
        ok = m[m.feasible]
        assert np.allclose(ok.objective, ok.rps * 3600 / ok.price_per_hour)  # output tokens per dollar
        assert (ok.latency_p99_ms == ok.latency_p50_ms).all()
        aux = t.auxiliary["llm"].set_index("config_index").loc[ok.config_index]
        assert np.allclose(ok.rps.to_numpy(), aux.output_tokens_per_s.to_numpy())
        assert np.allclose(ok.latency_p99_ms.to_numpy(), aux.request_latency_ms.to_numpy())
        assert (aux.num_gpus.to_numpy() == ok.tensor_parallel.to_numpy()).all()
        assert ((m.reason == "") == m.feasible).all()
        reasons |= {r.split(":")[0] for r in m.reason[~m.feasible]}
        prov = t.auxiliary["op_provenance"]
        assert set(prov.source) <= {"silicon", "empirical", "mixed", "sol"} and "silicon" in set(prov.source)
        summed = prov.groupby(["config_index", "op_type"])["time_ms"].sum()
        ops = t.operators.set_index(["config_index", "op_type"])["time_ms"]
        assert np.allclose(ops.to_numpy(), summed.loc[ops.index].to_numpy())
        assert set(t.operators.op_type) <= VOCABULARY
    assert "out of memory" in reasons and "unsupported (MissingSystemFlopsError)" in reasons


def test_llm_operator_names_map_into_the_vocabulary():
    cases = {"context_qkv_gemm": "dense", "generation_logits_gemm": "dense", "context_attention": "attention",
             "generation_mla_block": "attention", "context_moe": "moe", "generation_moe_overlap": "moe",
             "context_moe_pre_dispatch": "communication", "context_ar_1": "communication",
             "generation_tp_allreduce": "communication", "context_p2p": "communication",
             "context_add_norm_1": "layer_norm", "generation_act_gate": "multiply", "context_embedding": "take",
             "context_mamba_ssm": "ssm_scan", "generation_gdn_recurrence": "ssm_scan",
             "context_mamba_conv1d": "conv1d", "context_something_new": "other"}
    assert {op: llm_op_type(op) for op in cases} == cases
    assert LLM_OPERATORS <= VOCABULARY
