"""The LLM generation path (harness/collect/llm.py): one AIConfigurator estimate of a configuration never asked
before (the GPU's tables already loaded), and one whole model's 288 configurations through the collector
(journal, fsync per configuration, trace written). Estimates/s = 1 / the first's mean. Run:
scripts/test tests/benchmarks/test_bench_llm.py --benchmark-enable"""

import itertools

import pytest

pytest.importorskip("aiconfigurator_core", reason="needs the llm extra (aiconfigurator-core)")

from harness.collect.collector import Settings  # noqa: E402
from harness.collect.llm import AIConfiguratorBackend, LLMCollector  # noqa: E402
from harness.space import load_space  # noqa: E402

LLM = {"framework": "vllm", "isl": 2048, "osl": 512, "database_mode": "HYBRID", "pricing": "llm_gpus"}


def test_bench_one_estimate(benchmark):
    backend = AIConfiguratorBackend(LLM)
    backend.estimate("Qwen/Qwen3-8B", {"gpu_type": "h200_sxm", "tensor_parallel": 1, "batch_size": 1,
                                       "weight_quant": "bf16"})  # loads the H200 tables
    fresh = ({"gpu_type": "h200_sxm", "tensor_parallel": tp, "batch_size": bs, "weight_quant": q}
             for bs, tp, q in itertools.product(range(2, 10_000), (1, 2, 4, 8), ("bf16", "fp8")))
    benchmark.pedantic(lambda: backend.estimate("Qwen/Qwen3-8B", next(fresh)), rounds=200, iterations=1)


def test_bench_one_model_through_the_collector(benchmark, tmp_path):
    backend, space = AIConfiguratorBackend(LLM), load_space("llm_serving")
    runs = iter(range(1000))

    def generate():
        LLMCollector(backend, "Qwen3-8B", space, tmp_path / f"set{next(runs)}", Settings(), progress=False).run()

    benchmark.pedantic(generate, rounds=2, iterations=1)
