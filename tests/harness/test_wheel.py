"""An installed wheel (not the checkout) carries its configs and shipped trace sets and runs from any folder."""

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOT_BUILT = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "results", "outputs",
                                   "multirun", ".benchmarks", "falcon-release", "_data", "tests", "docs")


def sh(*args, cwd) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{args}: {done.stderr[-2000:]}"
    return done.stdout


@pytest.mark.slow
def test_wheel_installed_in_a_fresh_venv_runs_from_another_folder(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=NOT_BUILT)
    sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp_path / "dist", ".",
       cwd=source)
    (wheel,) = (tmp_path / "dist").glob("falcon_bench-*.whl")

    # A fresh venv that gets the dependencies (not falcon-bench) from this one's site-packages, so nothing is
    # downloaded or rebuilt; paths from a .pth file come after the venv's own, and the editable install of the
    # checkout here is not activated (its .pth file is not read).
    venv = tmp_path / "venv"
    sh(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    purelib = Path(sh(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path).strip())
    (purelib / "outer.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    sh(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel, cwd=tmp_path)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    sh(venv / "bin" / "falcon-bench", "run", "method=random", "target=vgg16", "trials=5", "results_dir=results",
       cwd=elsewhere)
    job = elsewhere / "results" / "sim-v1" / "random" / "vgg16" / "seed=0"
    assert len((job / "trials.jsonl").read_text().splitlines()) == 5
    assert json.loads((job / "job.json").read_text())["trace_set"] == "sim-v1"

    found = json.loads(sh(python, "-c", """if True:
        import json, harness, harness.paths as paths
        from harness.sim import predict
        from harness.space import load_space
        out = predict('vgg16', {'cpu_cores': 2, 'gpu_type': 'T4', 'gpu_mem_gb': 1.6, 'batch_size': 32,
                                'gpu_power_pct': 100})
        print(json.dumps({'package': harness.__file__, 'conf': str(paths.CONF_DIR), 'rps': out['rps'],
                          'space': len(load_space('paper')),
                          'examples': sorted(p.relative_to(paths.DATA_ROOT / 'examples').as_posix()
                                             for p in (paths.DATA_ROOT / 'examples').rglob('*.*')
                                             if '__pycache__' not in p.parts)}))""",
                      cwd=elsewhere))
    assert Path(found["package"]).is_relative_to(purelib) and Path(found["conf"]).is_relative_to(purelib)
    assert found["rps"] > 0 and found["space"] == 1440
    assert found["examples"] == ["conf/method/greedy_neighbour.yaml", "greedy_neighbour.py"]  # docs/extending.md
