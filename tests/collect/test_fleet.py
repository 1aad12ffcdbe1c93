"""Collection on a fleet: parallel writers on one set (one SIGKILLed), shards of one model, merging machine
shards with provenance and refusals, the plan and its paper preset, and dispatch through Submitit and Ray."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from conftest import FAST, PRICE
from harness.collect import collector as collector_module
from harness.collect.backends import make_backend
from harness.collect.collector import Collector, Settings, Shard, work_dir
from harness.collect.journal import CollectError, Journal
from harness.collect.merge import machine_space, merge_shards
from harness.collect.plan import make_plan
from harness.space import Knob, SearchSpace, load_space
from harness.traces import TraceSet

REPO = Path(__file__).resolve().parents[2]
FAKE = {"feasible": True, "reason": "", "host_mem_peak_mb": 10.0, "worker_s": 1.0,
        "operators": [{"op_type": "linear", "time_ms": 2.0, "mem_mb": 1.0},
                      {"op_type": "relu", "time_ms": 1.0, "mem_mb": 0.5}],
        "reps": [{"rps": 100.0, "latency_p50_ms": 10.0, "latency_p99_ms": 12.0, "batches": 3,
                  "elapsed_s": 0.1}] * FAST.reps}
MERGED = SearchSpace([Knob("gpu_type", ("M60", "T4"), "", ordered=False), Knob("cpu_cores", (1,), "cores"),
                      Knob("batch_size", (1, 2), "requests")], "fleet")


def configs_in(path: Path) -> list[int]:
    return [r["index"] for r in Journal(path).read(repair=False) if r["kind"] == "config"]


def write_space(tmp_path: Path, batches: tuple) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(json.dumps({"name": "few", "knobs": [{"name": "cpu_cores", "values": [1]},
                                                         {"name": "batch_size", "values": list(batches)}]}))
    return path


def collect_cmd(out: Path, model: str, space: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "harness.collect", "backend=cpu", f"model={model}", f"space={space}",
            f"out={out}", "progress=false", *[f"settings.{k}={v}" for k, v in asdict(FAST).items()], *extra]


@pytest.fixture
def fake_measure(monkeypatch):
    monkeypatch.setattr(Collector, "_measure", lambda self, config: FAKE)


# -- parallel writers -----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_two_writers_at_once_one_sigkilled_and_restarted(tmp_path, tiny_models):
    """Real workers: tiny-mlp and fragile-mlp collected into one set at the same time; fragile-mlp's collector
    is SIGKILLed after its first configuration and restarted. Both models end in the set, each configuration
    measured once, and the first writer's finished model is not lost."""
    out, space = tmp_path / "set", write_space(tmp_path, (1, 2, 4))
    tiny = subprocess.Popen(collect_cmd(out, "tiny_models:TINY", space), cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    fragile = subprocess.Popen(collect_cmd(out, "tiny_models:FRAGILE", space), cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = work_dir(out) / "fragile-mlp.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and fragile.poll() is None and not (journal.exists() and configs_in(journal)):
        time.sleep(0.02)
    assert fragile.poll() is None, "fragile-mlp's collector ended before it could be killed"
    fragile.send_signal(signal.SIGKILL)
    fragile.wait()
    killed_at = len(configs_in(journal))
    assert 1 <= killed_at < 3
    _, err = tiny.communicate(timeout=300)
    assert tiny.returncode == 0, err
    assert TraceSet(out).models == ["tiny-mlp"]
    tiny_files = {k: v for k, v in TraceSet(out).manifest["files"].items() if k.startswith("tiny-mlp/")}

    done = subprocess.run(collect_cmd(out, "tiny_models:FRAGILE", space), cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    tset = TraceSet(out)
    assert tset.models == ["fragile-mlp", "tiny-mlp"]
    assert {k: v for k, v in tset.manifest["files"].items() if k.startswith("tiny-mlp/")} == tiny_files
    for model in tset.models:
        tset.load(model)  # validates every configuration and repetition, and the hashes
        assert sorted(configs_in(work_dir(out) / f"{model}.jsonl")) == [0, 1, 2]
    assert len(tset.load("fragile-mlp").metadata["sessions"]) == 2


def test_a_finishing_writer_keeps_what_another_wrote_meanwhile(tmp_path, tiny_models, fake_measure, monkeypatch):
    """The set is read at finishing time, under the set lock, not when a writer started."""
    out, sp = tmp_path / "set", SearchSpace([Knob("cpu_cores", (1,)), Knob("batch_size", (1, 2))], "s")
    slow = Collector(make_backend("cpu", PRICE), "tiny_models:TINY", sp, out, FAST, progress=False)
    other = Collector(make_backend("cpu", PRICE), "tiny_models:FRAGILE", sp, out, FAST, progress=False)
    finish = Collector.finish

    def finish_after_the_other(self):  # the other writer finishes while this one measured
        other.run()
        return finish(self)

    monkeypatch.setattr(Collector, "finish", lambda self: finish_after_the_other(self) if self is slow
                        else finish(self))
    slow.run()
    assert TraceSet(out).models == ["fragile-mlp", "tiny-mlp"]


def test_a_journal_started_before_machine_labels_resumes(tmp_path, tiny_models, fake_measure):
    out, sp = tmp_path / "set", SearchSpace([Knob("cpu_cores", (1,)), Knob("batch_size", (1, 2))], "s")
    journal = Journal(work_dir(out) / "tiny-mlp.jsonl")
    journal.path.parent.mkdir()
    machine = {k: v for k, v in make_backend("cpu", PRICE).machine().items() if k not in ("label", "host")}
    journal.append({"kind": "header", "model": "tiny-mlp", "model_ref": "tiny_models:TINY", "backend": "cpu",
                    "space": sp.to_dict(), "settings": asdict(FAST), "machine": machine})
    assert Collector(make_backend("cpu", PRICE), "tiny_models:TINY", sp, out, FAST, progress=False).run() == out
    with pytest.raises(CollectError, match="another machine"):  # but a label given later is another machine
        Collector(make_backend("cpu", PRICE, label="T4"), "tiny_models:TINY", sp, out, FAST, progress=False).run()


def test_shards_of_one_model_write_it_once_all_are_measured(tmp_path, tiny_models, fake_measure):
    out, sp = tmp_path / "set", SearchSpace([Knob("cpu_cores", (1,)), Knob("batch_size", (1, 2, 4))], "s")
    first = Collector(make_backend("cpu", PRICE), "tiny_models:TINY", sp, out, FAST, progress=False,
                      shard=Shard(0, 2))
    assert first.run() is None and not (out / "MANIFEST.json").exists()
    assert sorted(configs_in(work_dir(out) / "tiny-mlp.shard-0-of-2.jsonl")) == [0, 2]
    second = Collector(make_backend("cpu", PRICE), "tiny_models:TINY", sp, out, FAST, progress=False,
                       shard=Shard(1, 2))
    assert second.run() == out
    assert sorted(configs_in(work_dir(out) / "tiny-mlp.shard-1-of-2.jsonl")) == [1]
    trace = TraceSet(out).load("tiny-mlp")
    assert len(trace.measurements) == 3 * FAST.reps and len(trace.metadata["sessions"]) == 2
    with pytest.raises(CollectError, match="shard.index=2"):
        Shard(2, 2)
    other = Settings(**{**asdict(FAST), "reps": 1})
    with pytest.raises(CollectError, match="another settings"):
        Collector(make_backend("cpu", PRICE), "tiny_models:TINY", sp, tmp_path / "b", FAST, progress=False,
                  shard=Shard(0, 2)).run()
        Collector(make_backend("cpu", PRICE), "tiny_models:TINY", sp, tmp_path / "b", other, progress=False,
                  shard=Shard(1, 2)).run()


# -- merge ----------------------------------------------------------------------------------------------------
def collect_shard(tmp_path, label: str, models=("tiny_models:TINY", "tiny_models:FRAGILE"),
                  space: SearchSpace = MERGED, settings: Settings = FAST) -> Path:
    out = tmp_path / f"shard-{label}"
    for model in models:
        Collector(make_backend("cpu", PRICE, label=label), model, machine_space(space, "gpu_type", label), out,
                  settings, progress=False).run()
    return out


def test_merging_two_shards_gives_one_trace_over_the_union_with_provenance(tmp_path, tiny_models, fake_measure):
    shards = [collect_shard(tmp_path, "M60"), collect_shard(tmp_path, "T4")]
    out = merge_shards(shards, MERGED, tmp_path / "merged")
    tset = TraceSet(out)
    assert tset.space == MERGED and tset.models == ["fragile-mlp", "tiny-mlp"]
    trace = tset.load("tiny-mlp")
    assert len(trace.measurements) == len(MERGED) * FAST.reps
    prov = trace.auxiliary["provenance"]
    assert list(prov["config_index"]) == list(range(len(MERGED)))
    for row in prov.itertuples():
        assert MERGED.config(row.config_index)["gpu_type"] == row.label
        assert row.shard == str(shards[0] if row.label == "M60" else shards[1])
    assert sorted(trace.auxiliary["runs"]["config_index"].unique()) == list(range(len(MERGED)))
    assert set(trace.operators["op_type"]) == {"dense", "relu"}
    assert [s["label"] for s in trace.metadata["merged_from"]] == ["M60", "T4"]
    again = merge_shards(shards, MERGED, tmp_path / "again")  # the same shards give the same bytes
    assert TraceSet(again).digest() == tset.digest()


def test_merge_on_the_command_line_refuses_in_one_line(tmp_path, tiny_models, fake_measure):
    space = tmp_path / "fleet.yaml"
    space.write_text(json.dumps(MERGED.to_dict()))
    run = subprocess.run([sys.executable, "-m", "harness.collect", "action=merge",
                          f"merge.shards=[{collect_shard(tmp_path, 'M60')}]", f"space={space}",
                          f"out={tmp_path / 'merged'}"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1
    assert "no shard for gpu_type=T4 (2 configurations)" in run.stderr and not (tmp_path / "merged").exists()


def test_merge_refusals_name_what_is_missing_or_conflicting(tmp_path, tiny_models, fake_measure, monkeypatch):
    m60, t4 = collect_shard(tmp_path, "M60"), collect_shard(tmp_path, "T4")
    with pytest.raises(CollectError, match=r"no shard for gpu_type=T4 \(2 configurations\)"):
        merge_shards([m60], MERGED, tmp_path / "out")
    # a shard lacking one configuration: that configuration is named
    partial = SearchSpace([Knob("gpu_type", ("M60", "T4"), "", ordered=False), Knob("cpu_cores", (1,), "cores"),
                           Knob("batch_size", (1,), "requests")], "fleet")
    (tmp_path / "p").mkdir()
    t4_partial = collect_shard(tmp_path / "p", "T4", space=partial)
    with pytest.raises(CollectError, match=r'1 configurations of space .fleet. are in no shard: \{"gpu_type": "T4", "cpu_cores": 1, "batch_size": 2\}'):
        merge_shards([m60, t4_partial], MERGED, tmp_path / "out")
    with pytest.raises(CollectError, match="measured by both"):  # a second M60 shard
        merge_shards([m60, t4, collect_shard(tmp_path / "p", "M60")], MERGED, tmp_path / "out")
    (tmp_path / "s").mkdir()
    t4_other = collect_shard(tmp_path / "s", "T4", settings=Settings(**{**asdict(FAST), "measure_s": 9.0}))
    with pytest.raises(CollectError, match="other settings"):
        merge_shards([m60, t4_other], MERGED, tmp_path / "out")
    with pytest.raises(CollectError, match="not a value of gpu_type"):
        merge_shards([m60, collect_shard(tmp_path / "s", "K80", space=SearchSpace(
            [Knob("gpu_type", ("K80",), ""), *MERGED.knobs[1:]], "k"))], MERGED, tmp_path / "out")
    assert not (tmp_path / "out").exists()

    # other software versions: refused unless allowed, and then recorded
    (tmp_path / "v").mkdir()
    real = collector_module.software
    monkeypatch.setattr(collector_module, "software", lambda: {**real(), "torch": "0.0-other"})
    t4_new = collect_shard(tmp_path / "v", "T4")
    with pytest.raises(CollectError, match="other software versions: torch"):
        merge_shards([m60, t4_new], MERGED, tmp_path / "out")
    out = merge_shards([m60, t4_new], MERGED, tmp_path / "out", allow_mixed_versions=True)
    assert TraceSet(out).manifest["info"]["mixed_versions"]["torch"][str(t4_new)] == "0.0-other"


def test_a_cpu_collection_over_a_space_with_the_merge_knob_needs_a_label(tmp_path, tiny_models):
    with pytest.raises(CollectError, match="set machine_label"):
        machine_space(MERGED, "gpu_type", None)
    with pytest.raises(CollectError, match="not a value of gpu_type"):
        machine_space(MERGED, "gpu_type", "A100")
    assert machine_space(MERGED, "gpu_type", "T4").names == ["cpu_cores", "batch_size"]


# -- plan -----------------------------------------------------------------------------------------------------
def test_plan_of_the_papers_protocol_is_10800_gpu_hours():
    from omegaconf import OmegaConf

    paper = Settings(**OmegaConf.to_container(OmegaConf.load(REPO / "conf/collect/settings/paper.yaml")))
    price = OmegaConf.to_container(OmegaConf.load(REPO / "conf/collect/collect.yaml").price)
    plan = make_plan(load_space("paper"), paper, price, 30, startup_s=5.0)
    total = plan.total
    assert total["stress_h"] == pytest.approx(10_800) and total["configurations"] == 30 * 1440
    assert total["hours"] == pytest.approx(10_800 + 43_200 * (paper.warmup_s + 5.0) / 3600)
    assert [r["label"] for r in plan.rows] == ["M60", "T4", "K80", "V100"] and total["jobs"] == 120
    v100 = plan.rows[3]
    assert v100["cost_usd"] == pytest.approx(v100["hours"] * price["gpu_usd_per_h_by_type"]["V100"])
    assert "10,800.0" in plan.render()


def test_plan_on_the_command_line_and_its_one_line_refusals(tmp_path):
    run = subprocess.run([sys.executable, "-m", "harness.collect", "action=plan", "space=cpu_local",
                          "plan.models=[resnet-18,lstm]", "plan.startup_s=2"], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "this machine" in run.stdout and "machine-hours" in run.stdout
    for bad, message in (("action=plot", "action='plot' is not known"), ("plan.models=0", "plan.models=0")):
        run = subprocess.run([sys.executable, "-m", "harness.collect", "action=plan", "plan.startup_s=1", bad],
                             cwd=REPO, capture_output=True, text=True, timeout=120)
        assert run.returncode == 2 and message in run.stderr and len(run.stderr.strip().splitlines()) == 1


# -- dispatch through Hydra launchers -------------------------------------------------------------------------
def _others_processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{proc.name}: {cmdline[:120]}")
    return found


@pytest.fixture
def ray_dir(monkeypatch):
    """A short temporary folder for a local Ray instance (its socket paths have a length limit), removed after;
    no authentication token is written into the home folder."""
    path = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["submitit_local", "ray_local"])
def test_a_launcher_collects_two_models(tmp_path, tiny_models, ray_dir, launcher):
    space = write_space(tmp_path, (1, 2))
    extra = [f"hydra/launcher={launcher}", "model=tiny_models:TINY,tiny_models:FRAGILE"]
    if launcher == "ray_local":
        extra.append(f"+hydra.launcher.ray.init._temp_dir={ray_dir}")
    cmd = collect_cmd(tmp_path / "set", "unused", space, *extra)
    cmd.remove("model=unused")
    cmd.insert(3, "-m")  # multirun: one job per model
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    tset = TraceSet(tmp_path / "set")
    assert tset.models == ["fragile-mlp", "tiny-mlp"]
    for model in tset.models:
        assert len(tset.load(model).measurements) == 2 * FAST.reps
    deadline = time.monotonic() + 30  # Ray's processes stop as the driver exits
    while _others_processes_mentioning(ray_dir) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _others_processes_mentioning(ray_dir)


@pytest.mark.slow
def test_replay_sweeps_run_on_the_ray_launcher_with_the_serial_results(tmp_path, ray_dir):
    from harness.job import check_job, compose_run, run_job

    common = ["traces=measured_cpu", "split=measured_cpu", "target=mobilenet-v2", "method=random", "trials=3"]
    run = subprocess.run([sys.executable, "-m", "harness.run", "-m", "hydra/launcher=ray_local",
                          "hydra.launcher.ray.init.num_cpus=1", f"+hydra.launcher.ray.init._temp_dir={ray_dir}",
                          *common, "seed=0,1", f"results_dir={tmp_path / 'ray'}"], cwd=REPO, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    for seed in (0, 1):
        serial = run_job(check_job(compose_run([*common, f"seed={seed}", f"results_dir={tmp_path / 'serial'}"])))
        on_ray = tmp_path / "ray" / serial.relative_to(tmp_path / "serial")
        strip = lambda folder: [{k: v for k, v in json.loads(line).items() if k != "ask_ms"}  # noqa: E731
                                for line in (folder / "trials.jsonl").read_text().splitlines()]
        assert strip(on_ray) == strip(serial)
    assert not _others_processes_mentioning(ray_dir)
