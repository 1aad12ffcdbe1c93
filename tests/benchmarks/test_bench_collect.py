"""Collection overheads: per-request preprocessing by input kind (what a core spends before the model runs),
and one durable journal append (write + fsync). Run:
scripts/test tests/benchmarks/test_bench_collect.py --benchmark-enable"""

from dataclasses import dataclass

import pytest

from harness.collect.journal import Journal
from harness.collect.loadgen import Preprocessor


@dataclass(frozen=True)
class Input:
    shape: tuple
    dtype: str = "float32"
    high: int | None = None


KINDS = {"image-224": ("image", (Input((3, 224, 224)),)),
         "text-128": ("text", (Input((128,), "int64", 30522),)),
         "audio-80x100": ("audio", (Input((80, 100)),)),
         "tabular-13+26": ("tabular", (Input((13,)), Input((26,), "int64", 100_000))),
         "noise-100": ("noise", (Input((100,)),))}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_bench_preprocess_one_request(benchmark, kind):
    pre = Preprocessor(*KINDS[kind])
    benchmark(pre, pre.requests[0])


def test_bench_journal_append_fsync(benchmark, tmp_path):
    journal = Journal(tmp_path / "m.jsonl")
    record = {"kind": "config", "index": 0, "config": {"cpu_cores": 1, "batch_size": 8}, "feasible": True,
              "reps": [{"rps": 10.0, "latency_p50_ms": 100.0, "latency_p99_ms": 120.0}] * 3}
    benchmark(journal.append, record)
