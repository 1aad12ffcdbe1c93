"""Every method's records are the same whichever BLAS kernel the CPU selects (docs/protocol.md, "Reproducible on
any CPU"): a small sweep of the default methods under two OpenBLAS kernels must give identical digests."""

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from harness.digest import method_digests
from harness.paths import TRACES_DIR
from harness.results import read_jobs

ROOT = Path(__file__).resolve().parents[2]
SWEEP = ["targets=[gru,roberta]", "seeds=1", "trials=12", "n_jobs=1", f"traces.path={TRACES_DIR / 'sim-v1'}"]
KERNELS_OF = "from threadpoolctl import threadpool_info; import json, numpy, scipy.linalg; print(json.dumps(" \
             "sorted({i['architecture'] for i in threadpool_info() if i['internal_api'] == 'openblas'})))"


def environment(coretype: str | None) -> dict:
    env = dict(os.environ)
    if coretype is not None:  # None: the machine's own choice, whatever this environment says
        env["OPENBLAS_CORETYPE"] = coretype
    return env


def kernels(coretype: str | None) -> list[str]:
    """The OpenBLAS kernels numpy and scipy run in a process started with `coretype`."""
    out = subprocess.run([sys.executable, "-c", KERNELS_OF], env=environment(coretype), capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.slow
@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="OpenBLAS kernel names of x86-64")
def test_every_method_gives_the_same_records_under_two_blas_kernels(tmp_path):
    own = kernels(None)
    # Prescott (SSE3; OpenBLAS may name its kernel Katmai) runs on every x86-64 CPU, Nehalem (SSE4.2) on every CPU
    # that runs numpy's baseline; the latter only where this environment already selects the former
    other = "Nehalem" if kernels("Prescott") == own else "Prescott"
    assert kernels(other) != own, f"cannot select a second kernel: {own}"
    runs = {name: subprocess.Popen([sys.executable, "-m", "harness.sweep", f"results_dir={tmp_path / name}",
                                    *SWEEP], cwd=ROOT, env=environment(coretype), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
            for name, coretype in (("own", None), ("other", other))}
    for name, run in runs.items():
        _, err = run.communicate(timeout=600)
        assert run.returncode == 0, f"{name}: {err[-2000:]}"
    own_digests, other_digests = (method_digests(read_jobs(tmp_path / name)) for name in runs)
    assert len(own_digests) >= 10 and set(own_digests) == set(other_digests)
    differ = [f"{method} ({own} vs {other})" for (_, method) in own_digests
              if own_digests[_, method] != other_digests[_, method]]
    assert not differ, f"records differ across BLAS kernels: {differ}"
