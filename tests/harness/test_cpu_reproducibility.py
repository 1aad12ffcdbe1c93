"""Every method's records are the same whichever BLAS kernel the CPU selects (docs/protocol.md, "Reproducible on
any CPU"): a small sweep of the default methods under two OpenBLAS kernels must give identical digests, except for
the methods whose GP hyperparameters come from scipy's L-BFGS-B, documented as reproducible within a tolerance."""

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from harness.digest import method_digests
from harness.paths import TRACES_DIR
from harness.results import read_jobs, records_table

ROOT = Path(__file__).resolve().parents[2]
SWEEP = ["targets=[gru,roberta]", "seeds=1", "trials=12", "n_jobs=1", f"traces.path={TRACES_DIR / 'sim-v1'}"]
GP_FITTED = {"gp_bo", "heterbo", "falcon", "falcon_plus"}
"""Not bit-identical across kernels: their mean accuracy at every trial must agree within `TOLERANCE`."""
TOLERANCE = 0.1  # on the mean over this test's 2 searches; over 12 targets x 3 seeds the spread was <= 0.003
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
def test_every_method_reproduces_under_two_blas_kernels(tmp_path):
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
    jobs = {name: read_jobs(tmp_path / name) for name in runs}
    own_digests, other_digests = (method_digests(jobs[name]) for name in runs)
    assert len(own_digests) >= 10 and set(own_digests) == set(other_digests)
    differ = [method for (trace_set, method) in own_digests if method not in GP_FITTED
              and own_digests[trace_set, method] != other_digests[trace_set, method]]
    assert not differ, f"records differ across BLAS kernels ({own} vs {other}): {differ}"
    own_acc, other_acc = (records_table(jobs[name]).groupby(["method", "trial"])["accuracy"].mean() for name in runs)
    spread = (own_acc - other_acc).abs().groupby("method").max()
    assert (spread[sorted(GP_FITTED & set(spread.index))] <= TOLERANCE).all(), spread.to_dict()
