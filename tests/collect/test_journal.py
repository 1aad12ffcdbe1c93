"""The journal survives a writer killed mid-line; the lock keeps a second collector out."""

from __future__ import annotations

import pytest

from harness.collect.journal import CollectError, CollectLock, Journal


def test_journal_round_trip_and_torn_last_line(tmp_path):
    j = Journal(tmp_path / "m.jsonl")
    assert j.read() == []
    j.append({"kind": "header", "n": 1})
    j.append({"kind": "config", "index": 0, "x": 0.5})
    with open(j.path, "ab") as f:  # a writer killed in the middle of its line
        f.write(b'{"kind": "config", "ind')
    assert [r["kind"] for r in j.read()] == ["header", "config"]
    assert j.path.read_bytes().endswith(b"}\n")  # the torn line is cut off the file
    j.append({"kind": "config", "index": 1})
    assert [r.get("index") for r in j.read()] == [None, 0, 1]


def test_journal_refuses_a_corrupted_middle(tmp_path):
    j = Journal(tmp_path / "m.jsonl")
    j.path.write_bytes(b'{"kind": "header"}\nnot json\n{"kind": "config"}\n')
    with pytest.raises(CollectError, match="corrupted"):
        j.read()


def test_journal_refuses_nan(tmp_path):
    with pytest.raises(ValueError):
        Journal(tmp_path / "m.jsonl").append({"rps": float("nan")})


def test_lock_keeps_a_second_collector_out(tmp_path):
    with CollectLock(tmp_path / "collect.lock"):
        with pytest.raises(CollectError, match="another collector"):
            with CollectLock(tmp_path / "collect.lock"):
                pass
    with CollectLock(tmp_path / "collect.lock"):  # released: free again
        pass


def test_a_journal_written_by_two_collectors_is_refused(tmp_path, tiny_models):
    from conftest import FAST, PRICE
    from harness.collect.backends import make_backend
    from harness.collect.collector import Collector, work_dir
    from harness.space import Knob, SearchSpace

    sp = SearchSpace([Knob("cpu_cores", (1,)), Knob("batch_size", (1, 2))])
    collector = Collector(make_backend("cpu", PRICE), "tiny_models:TINY", sp, tmp_path / "set", FAST)
    journal = Journal(work_dir(tmp_path / "set") / "tiny-mlp.jsonl")
    journal.path.parent.mkdir()
    collector._resume(journal)
    for _ in range(2):
        journal.append({"kind": "config", "index": 0, "config": sp.config(0), "feasible": False, "reason": "x"})
    with pytest.raises(CollectError, match="twice"):
        collector._resume(journal)
