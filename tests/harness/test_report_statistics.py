"""The report's tuning-protocol and significance section (harness/report.py calling harness/stats.py)."""

from __future__ import annotations

import json

from harness.report import report
from harness.sweep import plan, run_sweep


def test_the_report_states_the_protocol_and_the_significance(tmp_path):
    jobs = plan(["random", "source_best", "ernest"], None, 4, str(tmp_path),
                ["traces=measured_cpu", "split=measured_cpu", "trials=8"])
    run_sweep(jobs, 1)
    written = report(tmp_path, tmp_path / "report", path_model="mobilenet-v2", path_knobs=("cpu_cores", "batch_size"))
    text = (tmp_path / "report" / "summary.md").read_text()
    assert "## Tuning protocol and significance" in text
    assert "| random | configured defaults (no tuned file) | - |" in text
    assert "### After 6 trials (4 blocks)" in text and "Best mean rank" in text
    found = json.loads((tmp_path / "report" / "statistics.json").read_text())
    assert set(found) == {"6"} and set(found["6"]["mean_ranks"]) == {"random", "source_best", "ernest"}
    assert written["summary"].exists()
