"""Generation through the collector with AIConfigurator (the `llm` extra): byte-identical rows, bad input refused
in one line with nothing written, out-of-memory recorded as an infeasible outcome."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("aiconfigurator_core", reason="needs the llm extra (aiconfigurator-core)")

from harness.collect.collector import Settings  # noqa: E402
from harness.collect.journal import CollectError  # noqa: E402
from harness.collect.llm import AIConfiguratorBackend, LLMCollector  # noqa: E402
from harness.paths import ROOT  # noqa: E402
from harness.space import Knob, SearchSpace  # noqa: E402
from harness.traces import TraceSet  # noqa: E402

LLM = {"framework": "vllm", "isl": 2048, "osl": 512, "database_mode": "HYBRID", "pricing": "llm_gpus"}
SHIPPED = ROOT / "traces" / "llm-v1"
# a corner of conf/space/llm_serving.yaml: FP8 on an A100 (refused), Llama 405B on one GPU (out of memory)
SUBSPACE = SearchSpace([Knob("gpu_type", ("a100_sxm", "h200_sxm"), ordered=False), Knob("tensor_parallel", (1, 8)),
                        Knob("batch_size", (16,)), Knob("weight_quant", ("bf16", "fp8"), ordered=False)], "corner")


def _collect(tmp_path, model, space=SUBSPACE, backend=None):
    collector = LLMCollector(backend or AIConfiguratorBackend(LLM), model, space, tmp_path / "set", Settings(),
                             progress=False)
    return collector.run()


def _rows(trace, configs):
    """Every table's rows at `configs`, keyed by configuration (config_index differs between spaces)."""
    index = {trace.space.index(c): i for i, c in enumerate(configs)}
    tables = {"measurements": trace.measurements.drop(columns="config_index"), "operators": trace.operators,
              **{f"aux-{k}": v for k, v in trace.auxiliary.items()}}
    out = {}
    for name, table in tables.items():
        if name == "measurements":
            keys = [trace.space.index({k: r[k] for k in trace.space.names}) for _, r in table.iterrows()]
            table = table.assign(config_index=keys)
        rows = table[table.config_index.isin(index)].assign(config_index=lambda t: t.config_index.map(index))
        out[name] = rows.drop(columns=[c for c in ("config_index",) if c in rows]).reset_index(drop=True) \
            if name == "measurements" else rows.sort_values(list(rows.columns[:2])).reset_index(drop=True)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("model", ["Qwen3-0.6B", "Meta-Llama-3.1-405B"])
def test_regenerates_the_shipped_rows_exactly(tmp_path, model):
    new = TraceSet(_collect(tmp_path, model)).load(model)
    shipped = TraceSet(SHIPPED).load(model)
    configs = list(SUBSPACE)
    got, want = _rows(new, configs), _rows(shipped, configs)
    assert len(want["measurements"]) == len(configs) and len(want["aux-llm"]) > 0
    for name in want:
        columns = [c for c in want[name].columns]
        pd.testing.assert_frame_equal(got[name][columns].reset_index(drop=True), want[name].reset_index(drop=True),
                                      check_exact=True, check_dtype=False, obj=f"{model} {name}")
    m = new.measurements
    assert m.loc[(m.gpu_type == "a100_sxm") & (m.weight_quant == "fp8"), "reason"].str.startswith(
        "unsupported (MissingSystemFlopsError)").all()
    if model == "Meta-Llama-3.1-405B":  # 810 GB of bf16 weights on one GPU: a recorded outcome, not an error
        oom = m[(m.tensor_parallel == 1) & (m.weight_quant == "bf16")]
        assert (~oom.feasible).all() and oom.reason.str.startswith("out of memory: needs").all()


def test_unknown_model_is_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "set"
    proc = subprocess.run([sys.executable, "-m", "harness.collect", "backend=aiconfigurator", "space=llm_serving",
                           "model=NoSuchLLM-7B", f"out={out}"], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert proc.returncode == 1  # a user error, as in every app
    assert proc.stderr.strip().count("\n") == 0 and "'NoSuchLLM-7B' is not an LLM" in proc.stderr
    assert not out.exists() and not (tmp_path / "set.collect").exists()


@pytest.mark.parametrize("knob, values, message", [
    ("gpu_type", ("h200_sxm", "v100_sxm"), "gpu_type 'v100_sxm' has no vllm database"),
    ("tensor_parallel", (1, 3), "tensor_parallel values [3] cannot be realised"),
    ("batch_size", (0, 16), "batch_size values [0] cannot be realised"),
    ("weight_quant", ("bf16", "int3"), "weight_quant values ['int3'] cannot be realised"),
])
def test_knob_values_the_library_cannot_realise_are_refused_before_writing(tmp_path, knob, values, message):
    knobs = [Knob(k.name, values, ordered=k.ordered) if k.name == knob else k for k in SUBSPACE.knobs]
    with pytest.raises(CollectError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _collect(tmp_path, "Qwen3-0.6B", SearchSpace(knobs, "bad"))
    assert not any(tmp_path.iterdir())


def test_other_library_errors_stop_in_one_line_write_no_set_and_the_rerun_resumes(tmp_path, monkeypatch):
    backend = AIConfiguratorBackend(LLM)
    import aiconfigurator_core.sdk.backends.vllm_backend as vllm_backend

    working, calls = vllm_backend.VLLMBackend.run_static, []

    def fails_on_the_fourth(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("interpolation failed\nsecond line")
        return working(self, *args, **kwargs)

    monkeypatch.setattr(vllm_backend.VLLMBackend, "run_static", fails_on_the_fourth)
    with pytest.raises(CollectError, match=r"RuntimeError: interpolation failed second line$"):
        _collect(tmp_path, "Qwen3-0.6B", backend=backend)
    assert not (tmp_path / "set").exists()
    journal = (tmp_path / "set.collect" / "Qwen3-0.6B.jsonl").read_text().splitlines()
    assert sum('"kind": "config"' in line for line in journal) == 3  # what was estimated is kept
    rerun = []

    def counted(self, *args, **kwargs):
        rerun.append(1)
        return working(self, *args, **kwargs)

    monkeypatch.setattr(vllm_backend.VLLMBackend, "run_static", counted)
    trace = TraceSet(_collect(tmp_path, "Qwen3-0.6B", backend=backend)).load("Qwen3-0.6B")
    assert len(rerun) == len(SUBSPACE) - 3 and len(trace.measurements) == len(SUBSPACE)  # only the rest estimated


def test_estimates_are_exact_repeats(tmp_path):
    backend = AIConfiguratorBackend(LLM)
    config = {"gpu_type": "h200_sxm", "tensor_parallel": 2, "batch_size": 32, "weight_quant": "fp8"}
    first = backend.estimate("Qwen/Qwen3-8B", config)
    backend.estimate("Qwen/Qwen3-8B", {**config, "batch_size": 4})
    assert backend.estimate("Qwen/Qwen3-8B", config) == first and first["feasible"]
    assert np.isclose(first["metrics"]["request_latency_ms"],
                      first["metrics"]["ttft_ms"] + first["metrics"]["tpot_ms"] * (LLM["osl"] - 1), rtol=1e-3)
