"""The digest of a method's trial records (harness/digest.py)."""

import subprocess
import sys
from pathlib import Path

from harness.digest import markdown, method_digests
from harness.results import FinishedJob

ROOT = Path(__file__).resolve().parents[2]


def job(method, target, seed, accuracies, ask_ms=1.0):
    records = [{"trial": t, "accuracy": a, "ask_ms": ask_ms} for t, a in enumerate(accuracies, 1)]
    return FinishedJob(Path("."), {"trace_set": "sim-v1", "method": method, "target": target, "seed": seed}, records)


def test_digest_ignores_measured_times_and_job_order_but_not_a_record():
    jobs = [job("a", "gru", 0, [0.5, 0.7]), job("a", "vgg16", 1, [0.2, 0.9]), job("b", "gru", 0, [0.1, 0.1])]
    digests = method_digests(jobs)
    assert set(digests) == {("sim-v1", "a"), ("sim-v1", "b")} and digests["sim-v1", "a"][0] == 2
    retimed = [job("a", "vgg16", 1, [0.2, 0.9], ask_ms=7.0), job("a", "gru", 0, [0.5, 0.7], ask_ms=3.0)]
    assert method_digests(retimed)["sim-v1", "a"] == digests["sim-v1", "a"]
    changed = [job("a", "gru", 0, [0.5, 0.7]), job("a", "vgg16", 1, [0.2, 0.9000000000000001])]
    assert method_digests(changed)["sim-v1", "a"] != digests["sim-v1", "a"]
    assert f"| sim-v1 | a | 2 | `{digests['sim-v1', 'a'][1]}` |" in markdown(digests)


def test_command_line_names_a_folder_without_results_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "harness.digest", str(tmp_path)], check=False, cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 1 and done.stderr.strip() == f"digest: no finished jobs under {tmp_path}"
