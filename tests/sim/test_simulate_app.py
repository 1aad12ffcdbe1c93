"""`python -m harness.sim`: a trace set that was not simulated is replaced only with `replace=true` (byte for byte
otherwise), and bad keys (reps, seed, name) are refused with one line before anything is simulated."""

import subprocess
import sys

import pytest

from harness.space import load_space
from harness.import_table import import_table
from harness.traces import TraceSet

FAST = ["space=cpu_local", "models=[resnet-18]", "reps=1"]


def simulate(*args, cwd):
    return subprocess.run([sys.executable, "-m", "harness.sim", *FAST, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def imported(tmp_path):
    space = load_space("cpu_local")
    (tmp_path / "m.csv").write_text("cpu_cores,batch_size,objective\n" + "".join(
        f"{c['cpu_cores']},{c['batch_size']},{i + 1}\n" for i, c in enumerate(space)))
    import_table(tmp_path / "m.csv", space, "resnet-18", tmp_path / "set")
    return tmp_path / "set"


def test_an_imported_set_is_replaced_only_when_asked(tmp_path, imported):
    before = snapshot(imported)
    done = simulate("out=set", cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("simulate: out=set: trace set 'set' holds imported data, not only simulated: "
                                  "replace=true replaces it")
    assert snapshot(imported) == before
    done = simulate("out=set", "replace=true", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert TraceSet(imported).manifest["info"]["provenance"] == "simulated"
    done = simulate("out=set", cwd=tmp_path)  # a simulated set is replaced as before
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("key, message", [("reps=-1", "reps=-1: must be a whole number >= 1"),
                                          ("seed=-1", "seed=-1: must be a whole number >= 0"),
                                          ("name=../x", "trace set name '../x' is not a safe name")])
def test_bad_keys_are_refused_before_anything_is_simulated(tmp_path, key, message):
    done = simulate("out=new", key, cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    assert "configurations feasible" not in done.stderr and not (tmp_path / "new").exists()


@pytest.mark.parametrize("app, key, message", [
    ("harness.sim.landscape", "sets=[nope]", "landscape: no trace set at "),
    ("harness.sim.calibrate", "mode=zz", "calibrate: mode='zz' is not a calibration"),
    ("harness.sim.calibrate", "release_dir=nope", "calibrate: release_dir='nope': ")])
def test_the_other_sim_apps_refuse_with_one_line(tmp_path, app, key, message):
    done = subprocess.run([sys.executable, "-m", app, key], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and done.stderr.startswith(message) and done.stderr.count("\n") == 1, done.stderr
