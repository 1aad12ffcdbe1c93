"""Collection end to end with real worker processes: feasible, out-of-memory and crashed configurations,
SIGKILL and resume, the one-line refusals, and fields left out where nothing measured them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict

import numpy as np
import pytest

from conftest import FAST, PRICE
from harness.collect.backends import Backend, CudaBackend, gpu_type, make_backend
from harness.collect.collector import Collector, Settings, build_trace, crash_reason, work_dir
from harness.collect.journal import CollectError, Journal
from harness.space import Knob, SearchSpace
from harness.traces import TraceSet
from tests.conftest import kill_when

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def space(cores=(1,), batches=(1, 2, 4, 8)) -> SearchSpace:
    return SearchSpace([Knob("cpu_cores", cores, "cores"), Knob("batch_size", batches, "requests")], "test")


def config_records(path) -> list[dict]:
    return [r for r in Journal(path).read() if r["kind"] == "config"]


def _collect_cmd(out, model="tiny_models:FRAGILE"):
    return [sys.executable, "-m", "harness.collect", "backend=cpu", f"model={model}",
            f"space={os.path.join(os.path.dirname(os.path.abspath(__file__)), 'space_tiny.yaml')}",
            f"out={out}", "progress=false", f"price.per_core_usd_per_h={PRICE['per_core_usd_per_h']}",
            f"price.source={PRICE['source']}"] + [f"settings.{k}={v}" for k, v in asdict(FAST).items()]


@pytest.mark.slow
def test_sigkill_mid_collection_then_resume_records_every_configuration_once(tmp_path, tiny_models,
                                                                             monkeypatch):
    """A real collection (real workers) killed with SIGKILL after its first configuration, then restarted."""
    out = tmp_path / "set"
    journal = work_dir(out) / "fragile-mlp.jsonl"
    kill_when(_collect_cmd(out), lambda: journal.exists() and len(config_records(journal)) >= 1, "collection",
              cwd=REPO)
    killed_at = len(config_records(journal))
    assert 1 <= killed_at < 4 and not (out / "MANIFEST.json").exists()

    done = subprocess.run(_collect_cmd(out), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    indices = [r["index"] for r in config_records(journal)]
    assert sorted(indices) == [0, 1, 2, 3]  # every configuration exactly once
    trace = TraceSet(out).load("fragile-mlp")  # validates: every configuration and repetition, hashes
    assert len(trace.metadata["sessions"]) == 2

    # what was measured: feasible configurations, one out of memory, one crashed
    m = trace.measurements
    assert len(m) == 4 * FAST.reps
    by_batch = m.groupby("batch_size")
    assert by_batch["feasible"].all().to_dict() == {1: True, 2: True, 4: False, 8: False}
    assert by_batch["reason"].first()[4].startswith("out of memory")
    assert "SIGSEGV" in by_batch["reason"].first()[8]
    ok = m[m["feasible"]]
    assert (ok["rps"] > 0).all() and (ok["latency_p99_ms"] >= ok["latency_p50_ms"]).all()
    np.testing.assert_allclose(ok["objective"], ok["rps"] * 3600 / ok["price_per_hour"])
    assert (m.loc[~m["feasible"], "objective"] == 0).all()
    # no GPU, no NVML: those fields are absent, not zero
    assert "power_w" not in m and "gpu_mem_used_gb" not in m
    ops = trace.op_profile(0)
    assert {"dense", "relu"} <= set(ops) and sum(o.time_share for o in ops.values()) == pytest.approx(1)
    md = trace.metadata
    assert md["provenance"] == "measured" and md["machine"]["usable_cpus"] >= 1
    assert md["sessions"][0]["load_avg"] and "torch" in md["software"] and md["price_model"]

    # a third start measures nothing and writes the same trace
    def never(self, config):
        raise AssertionError(f"measured {config} again")

    monkeypatch.setattr(Collector, "_measure", never)
    before = TraceSet(out).digest()
    Collector(make_backend("cpu", PRICE), "tiny_models:FRAGILE", trace.space, out, FAST, progress=False).run()
    assert TraceSet(out).digest() == before and len(config_records(journal)) == 4


def test_a_second_model_joins_the_set_and_settings_must_match(tmp_path, tiny_models, monkeypatch):
    # Stand-in measurements keep this test fast; the worker itself runs in the slow tests above.
    fake = {"feasible": True, "reason": "", "host_mem_peak_mb": 10.0, "worker_s": 1.0, "operators": [],
            "reps": [{"rps": 100.0, "latency_p50_ms": 10.0, "latency_p99_ms": 12.0, "batches": 3,
                      "elapsed_s": 0.1}] * FAST.reps}
    monkeypatch.setattr(Collector, "_measure", lambda self, config: fake)
    out, sp = tmp_path / "set", space()
    Collector(make_backend("cpu", PRICE), "tiny_models:TINY", sp, out, FAST, progress=False).run()
    Collector(make_backend("cpu", PRICE), "tiny_models:FRAGILE", sp, out, FAST, progress=False).run()
    assert TraceSet(out).models == ["fragile-mlp", "tiny-mlp"]
    other = Settings(**{**FAST.__dict__, "reps": 5})
    with pytest.raises(CollectError, match="another settings"):
        Collector(make_backend("cpu", PRICE), "tiny_models:TINY", sp, out, other, progress=False).run()
    with pytest.raises(CollectError, match="over space"):
        Collector(make_backend("cpu", PRICE), "tiny_models:TINY", space(batches=(1, 2)), out, FAST,
                  progress=False).run()


@pytest.mark.slow
def test_cuda_without_gpu_says_so_in_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "harness.collect", "backend=cuda", "model=resnet-18",
                           "space=gpu_local", f"out={tmp_path / 'set'}"], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no CUDA GPU" in lines[0], proc.stderr
    assert not (tmp_path / "set").exists()


def test_spaces_a_machine_cannot_realise_are_refused():
    cpu = make_backend("cpu", PRICE)
    with pytest.raises(CollectError, match=r"cannot realise knobs \['gpu_mem_gb'\]"):
        cpu.check(SearchSpace([Knob("gpu_mem_gb", (1, 2)), Knob("batch_size", (1,))]))
    with pytest.raises(CollectError, match="cpu_cores values \\[4096\\]"):
        cpu.check(space(cores=(1, 4096)))
    with pytest.raises(CollectError, match="unknown backend"):
        make_backend("tpu", PRICE)


def test_power_cap_needs_explicit_permission():
    from harness.collect.actuators import PowerCap

    with pytest.raises(CollectError, match="allow_power_cap is false"):
        PowerCap(allowed=False)


def _record(index, config, power=None, gpu_mem=None):
    rep = {"rps": 50.0 + index, "latency_p50_ms": 20.0, "latency_p99_ms": 30.0, "batches": 4, "elapsed_s": 1.0}
    if power is not None:
        rep.update(power_w=power, energy_j=power)
    rec = {"kind": "config", "index": index, "config": config, "date": "2026-01-01T00:00:00+00:00",
           "feasible": True, "reason": "", "reps": [rep], "host_mem_peak_mb": 1.0, "worker_s": 1.0,
           "operators": [{"op_type": "conv2d", "time_ms": 3.0, "mem_mb": 1.0},
                         {"op_type": "relu", "time_ms": 1.0, "mem_mb": 0.0}]}
    if gpu_mem is not None:
        rec["gpu_mem_used_gb"] = gpu_mem
    return rec


def _gpu_backend():
    backend = CudaBackend(PRICE)
    backend.gpu_ = {"name": "Tesla T4", "memory_gb": 16.0}
    backend.gpu_usd_per_h_ = backend._gpu_price()
    return backend


@pytest.mark.parametrize("with_nvml", [False, True])
def test_power_fields_present_only_when_measured(with_nvml):
    sp = SearchSpace([Knob("gpu_mem_gb", (4, 8)), Knob("batch_size", (1,))])
    header = {"kind": "header", "model_ref": "m", "machine": {}, "settings": {"seed": 0}}
    records = [header] + [_record(i, c, power=70.0 if with_nvml else None, gpu_mem=0.5)
                          for i, c in enumerate(sp)]
    trace = build_trace("m", sp, records, _gpu_backend(), Settings(reps=1))
    m = trace.measurements
    assert ("power_w" in m) == with_nvml and (m["gpu_mem_used_gb"] == 0.5).all()
    # price: a quarter and a half of a $0.50/h T4 (no cpu_cores knob: every usable core)
    cores = len(os.sched_getaffinity(0))
    np.testing.assert_allclose(m["price_per_hour"], [cores * 0.05 + 0.125, cores * 0.05 + 0.25])
    assert trace.op_profile(1)["conv2d"].time_share == pytest.approx(0.75)
    assert trace.op_profile(1)["relu"].mem_share == 0.0


def test_power_meter_without_nvml_reads_nothing(monkeypatch):
    import builtins

    from harness.collect import actuators

    real_import = builtins.__import__

    def no_pynvml(name, *args, **kwargs):
        if name == "pynvml":
            raise ImportError("no nvidia-ml-py")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pynvml)
    meter = actuators.PowerMeter()
    meter.start()
    assert meter.read() is None and actuators.gpu_info() == {}


def test_gpu_type_names_and_crash_reasons():
    assert gpu_type("NVIDIA H100 80GB HBM3") == "H100"
    assert gpu_type("Tesla V100-SXM2-16GB") == "V100"
    assert gpu_type("NVIDIA A10G") == "A10G"
    assert "SIGKILL" in crash_reason(-9, "") and "out-of-memory" in crash_reason(-9, "")
    assert crash_reason(1, "warning\nValueError: bad shape\n").endswith("ValueError: bad shape")


def test_unknown_model_is_one_clear_error(tmp_path):
    with pytest.raises(CollectError, match="unknown model 'no-such-net'"):
        Collector(Backend(PRICE), "no-such-net", space(), tmp_path / "set", FAST)


def test_a_worker_past_its_timeout_is_an_infeasible_configuration(tmp_path, monkeypatch):
    def too_slow(*args, **kwargs):
        raise subprocess.TimeoutExpired(args[0], kwargs["timeout"])

    monkeypatch.setattr(subprocess, "run", too_slow)
    collector = Collector(Backend(PRICE), "resnet-18", space(), tmp_path / "set", FAST)
    collector.work.mkdir()
    result = collector._measure({"cpu_cores": 1, "batch_size": 1})
    assert result == {"feasible": False, "reason": "timed out after 120 s"}
