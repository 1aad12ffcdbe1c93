"""The writer entry points (simulate, import_release, collect) never replace a folder that is not a trace set:
they refuse with one line naming it, and every file in it stays byte for byte."""

import subprocess
import sys

import pandas as pd
import pytest

from harness.space import load_space
from harness.traces import TraceSet


@pytest.fixture
def users_clone(tmp_path):
    """A git clone with the user's work in it."""
    folder = tmp_path / "work"
    folder.mkdir()
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    (folder / "analysis.py").write_bytes(b"print('mine')\n")
    (folder / "results").mkdir()
    (folder / "results" / "table.csv").write_bytes(b"x,y\n1,2\n")
    return folder


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def run_entry(module, args, monkeypatch, capsys) -> tuple[int, str]:
    """Run a Hydra entry point in this process, as `python -m module args` would."""
    import importlib

    main = importlib.import_module(module).main
    monkeypatch.setattr(sys, "argv", [module, *args])
    with pytest.raises(SystemExit) as e:
        main()
    return e.value.code, capsys.readouterr().err


def fake_release(folder, space, models=("aa", "bb")):
    """A release-shaped folder: one reg-<model>.csv table per source model over the whole paper space."""
    (folder / "models" / "sources").mkdir(parents=True)
    rows = pd.DataFrame(list(space)).rename(columns={"cpu_cores": "cpus", "gpu_type": "gputype", "gpu_mem_gb": "gpumem",
                                                     "batch_size": "batchsize", "gpu_power_pct": "gpupower"})
    for i, model in enumerate(models):
        rows.assign(**{"norm.(rps/budget)": (rows.index % 7 + i) / 10}).to_csv(
            folder / "models" / "sources" / f"reg-{model}.csv", index=False)
    return folder


def test_import_release_refuses_a_users_clone(tmp_path, users_clone, monkeypatch, capsys):
    src = fake_release(tmp_path / "release", load_space("paper"))
    before = snapshot(users_clone)
    code, err = run_entry("harness.import_release", [f"src={src}", f"out={users_clone}"], monkeypatch, capsys)
    assert code == 1 and err.count("\n") == 1
    assert err.startswith(f"import_release: refusing to replace {users_clone}: it is not empty and holds no "
                          "MANIFEST.json")
    assert snapshot(users_clone) == before


def test_import_release_writes_a_new_folder_and_takes_the_space_as_a_group_choice(tmp_path, monkeypatch, capsys):
    src = fake_release(tmp_path / "release", load_space("paper"))
    import harness.import_release as entry

    monkeypatch.setattr(sys, "argv", ["x", f"src={src}", f"out={tmp_path / 'set'}", "space=paper", "name=fake"])
    entry.main()
    assert TraceSet(tmp_path / "set").models == ["aa", "bb"]
    code, err = run_entry("harness.import_release", [f"src={src}", f"out={tmp_path / 'other'}", "space=cpu_local"],
                          monkeypatch, capsys)
    assert code == 1 and err.startswith("import_release: ") and err.count("\n") == 1 and "knob" in err
    assert not (tmp_path / "other").exists()


def test_simulate_refuses_a_users_clone(users_clone, monkeypatch, capsys):
    before = snapshot(users_clone)
    code, err = run_entry("harness.sim.__main__", ["models=[vgg16]", "reps=1", f"out={users_clone}"], monkeypatch, capsys)
    assert code != 0 and f"refusing to replace {users_clone}: it is not empty" in err
    assert snapshot(users_clone) == before


def test_collect_refuses_a_users_clone_before_measuring(users_clone, monkeypatch, capsys):
    before = snapshot(users_clone)
    code, err = run_entry("harness.collect.__main__", ["backend=cpu", "model=resnet-18", f"out={users_clone}"],
                          monkeypatch, capsys)
    assert code == 1 and err.startswith(f"collect: refusing to replace {users_clone}") and err.count("\n") == 1
    assert snapshot(users_clone) == before
    assert not users_clone.with_name("work.collect").exists()  # no journal or lock made either


def test_collect_without_out_is_one_line(monkeypatch, capsys):
    code, err = run_entry("harness.collect.__main__", ["backend=cpu", "model=resnet-18"], monkeypatch, capsys)
    assert code == 1 and err == "collect: out= is required (python -m harness.collect --help lists every key)\n"
