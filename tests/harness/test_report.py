import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.report import report
from harness.results import ResultsError
from harness.sweep import plan, run_sweep

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def results(release_set, tmp_path_factory):
    folder = tmp_path_factory.mktemp("results")
    jobs = plan(["random"], ["roberta", "vgg16"], 2, str(folder), [f"traces.path={release_set.path}",
                                                                   "trials=16"])
    run_sweep(jobs, 1)
    return folder


def test_report_writes_the_summary_contract_and_figures(results, tmp_path):
    written = report(results, tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    random = summary["random"]
    assert len(random["accuracy_mean"]) == 16 and len(random["accuracy_p10"]) == 16
    assert all(0 <= a <= 1 for a in random["accuracy_mean"])
    assert random["accuracy_mean"] == sorted(random["accuracy_mean"])  # best-so-far never gets worse
    assert all(p <= m + 1e-12 for p, m in zip(random["accuracy_p10"], random["accuracy_mean"]))
    assert random["ask_ms_median"] > 0
    assert set(random["per_model"]) == {"roberta", "vgg16"}
    names = {p.name for p in written["figures"]}
    assert {"fig10_accuracy_vs_trials.png", "fig12_per_model.png", "fig11b_phases.png"} <= names
    assert "| random | 4 |" in (tmp_path / "summary.md").read_text()


def test_malformed_record_gets_a_message_naming_the_file(results, tmp_path):
    broken = tmp_path / "broken"
    subprocess.run(["cp", "-r", str(results), str(broken)], check=True)
    victim = next(broken.rglob("trials.jsonl"))
    lines = victim.read_text().splitlines()
    lines[3] = lines[3][:25]
    victim.write_text("\n".join(lines) + "\n")
    with pytest.raises(ResultsError, match=f"{victim}, line 4: malformed record"):
        report(broken, tmp_path / "out")
    cli = subprocess.run([sys.executable, "-m", "harness.report", f"results_dir={broken}"], cwd=ROOT,
                         capture_output=True, text=True)
    assert cli.returncode != 0 and f"report: {victim}, line 4" in cli.stderr
    assert "Traceback" not in cli.stderr
