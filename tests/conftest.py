"""Fixtures shared by the whole suite: the imported release, small spaces and synthetic traces."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest

from harness.import_release import import_release
from harness.space import Knob, SearchSpace, load_space
from harness.traces import Trace, TraceSet

# The authors' converted release: ../shared beside the checkout (as in CI), or wherever FALCON_BENCH_RELEASE says.
RELEASE = Path(os.environ.get("FALCON_BENCH_RELEASE",
                              Path(__file__).resolve().parents[2] / "shared" / "data" / "falcon-release"))
NO_RELEASE = f"needs the authors' release at {RELEASE} (absent; set FALCON_BENCH_RELEASE to use another copy)"


def pytest_report_header(config):
    import harness

    return [f"harness imported from {Path(harness.__file__).parent}",
            f"release: {RELEASE} ({'present' if RELEASE.is_dir() else 'absent: tests that need it skip'})"]


@pytest.hookimpl(tryfirst=True)  # before `-m` selects, so that `-m needs_release` finds them all
def pytest_collection_modifyitems(config, items):
    """Tests that use the release (the `release_dir` fixture, directly or through another fixture, or the
    `needs_release` marker) skip with one line where it is absent, e.g. on a fresh clone."""
    for item in items:
        if "release_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.needs_release)
        if item.get_closest_marker("needs_release") and not RELEASE.is_dir():
            item.add_marker(pytest.mark.skip(reason=NO_RELEASE))


def pytest_sessionfinish(session, exitstatus):
    """In CI every test must run: a skip (e.g. an extra that failed to install) fails the run."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if os.environ.get("CI") and skipped and exitstatus == pytest.ExitCode.OK:
        reporter.write_line(f"CI: {len(skipped)} test(s) skipped; every test must run in CI", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def paper_space() -> SearchSpace:
    return load_space("paper")


@pytest.fixture(scope="session")
def release_dir() -> Path:
    """The authors' converted release, read-only (tests using it skip where it is absent)."""
    return RELEASE


@pytest.fixture(scope="session")
def release_set(tmp_path_factory, release_dir) -> TraceSet:
    """The authors' release imported once per test session (never copied into git)."""
    out = tmp_path_factory.mktemp("traces") / "falcon-release"
    import_release(release_dir, out, "falcon-release", load_space("paper"))
    return TraceSet(out)


@pytest.fixture
def small_space() -> SearchSpace:
    """A 4 x 3 x 5 = 60-point space with one categorical knob."""
    return SearchSpace([Knob("cores", (1, 2, 4, 8)), Knob("gpu", ("a", "b", "c"), ordered=False),
                        Knob("batch", (1, 2, 4, 8, 16))], name="small")


def synthetic_trace(space: SearchSpace, objective: Callable[[dict], float], model: str = "synthetic",
                    reps: int = 1, noise: float = 0.0, seed: int = 0,
                    op_shares: dict[str, float] | None = None) -> Trace:
    """A trace whose true objective is `objective(config)`, with multiplicative Gaussian noise per repetition."""
    rng = np.random.default_rng(seed)
    rows = []
    for config in space:
        value = objective(config)
        for rep in range(reps):
            noisy = max(value * (1 + noise * rng.standard_normal()), 0.0) if noise else value
            rows.append({**config, "rep": rep, "objective": noisy, "feasible": value > 0})
    operators = None
    if op_shares:
        operators = pd.DataFrame({"config_index": -1, "op_type": list(op_shares),
                                  "time_share": list(op_shares.values())})
    return Trace(model, space, pd.DataFrame(rows), operators, {"provenance": "synthetic", "seed": seed})


@pytest.fixture
def make_trace() -> Callable[..., Trace]:
    return synthetic_trace


def kill_when(cmd: list[str], ready: Callable[[], bool], what: str, **popen_kwargs) -> None:
    """Start `cmd`, wait (5 minutes at most) until `ready()`, then SIGKILL it: a writer killed in the middle of
    its work. Fails if the process ended before it could be killed."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **popen_kwargs)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and not ready():
        time.sleep(0.02)
    assert proc.poll() is None, f"the {what} ended before it could be killed: {proc.stderr.read()}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
