"""The searcher contract: abilities declared by class, knowledge only through `fit`, no file access and no
target name in any searcher, bounded budgets, and one clear line for a bad constructor parameter."""

from __future__ import annotations

import builtins
import dataclasses
import io
import pathlib
import sys
import tempfile

import numpy as np
import pandas as pd
import pyarrow.parquet
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from harness.knowledge import select_knowledge
from harness.paths import CONF_DIR, TRACES_DIR
from harness.job import compose_run, replay_search
from harness.search import Knowledge, Searcher, StatefulSearcher, TransferSearcher
from harness.traces import TraceSet

METHODS = sorted(p.stem for p in (CONF_DIR / "method").glob("*.yaml"))
# one config per searcher class and protocol (the ablation variants only change numbers)
MAIN_METHODS = [m for m in METHODS if not OmegaConf.load(CONF_DIR / "method" / f"{m}.yaml").get("ablation")]
FAST = {"morphling": ["method.searcher.meta_iters=20"]}  # the contract does not need a well-trained model
SIM = TRACES_DIR / "sim-v1"
TARGET = "vgg16"


@pytest.fixture(scope="module")
def sim():
    traces = TraceSet(SIM)
    sources = list(compose_run([]).split.source)[:4]  # a few sources keep the fits fast
    return traces, sources


@pytest.fixture
def no_file_access(monkeypatch):
    """Every way this project reads a file raises while the fixture is active, for any file outside the Python
    installation and package metadata (libraries read it: importlib.metadata's entry points, which sklearn's input
    checks reach through narwhals), the kernel's views of the process (/proc, /sys: threadpoolctl reads
    /proc/self/maps to find BLAS) and a folder the searcher itself created with `tempfile` while the fixture is
    active (SMAC cannot be built without writing its scenario into an output folder, and smac_hpo gives it a fresh
    temporary one: a new empty folder holds nothing the searcher did not put there). Table readers raise for every
    file, and any path under the shipped traces or the configs raises always."""
    allowed = tuple(str(pathlib.Path(p).resolve()) + "/" for p in {sys.prefix, sys.base_prefix}) + ("/proc/", "/sys/")
    forbidden = tuple(str(p.resolve()) + "/" for p in (TRACES_DIR, CONF_DIR))
    scratch: list[str] = []  # folders made by tempfile.mkdtemp since the fixture started
    real_mkdtemp = tempfile.mkdtemp

    def mkdtemp(*args, **kwargs):
        made = real_mkdtemp(*args, **kwargs)
        scratch.append(str(pathlib.Path(made).resolve()) + "/")
        return made

    def refuse(name, real=None):
        def spy(*args, **kwargs):
            if real is not None and args and isinstance(args[0], int):
                return real(*args, **kwargs)  # an open file descriptor (joblib's pipes), not a file path
            path = str(pathlib.Path(str(args[0])).resolve()) if args else ""
            if real is not None and not path.startswith(forbidden) and (
                    path.startswith(allowed + tuple(scratch))
                    or any(part.endswith((".egg-info", ".dist-info")) for part in pathlib.Path(path).parts)):
                return real(*args, **kwargs)  # metadata: an editable install keeps it in the checkout
            raise AssertionError(f"a searcher read a file through {name}: {args[:1]}")
        return spy

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)

    for owner, attr in [(builtins, "open"), (io, "open"), (pathlib.Path, "open"), (pathlib.Path, "read_text"),
                        (pathlib.Path, "read_bytes")]:
        monkeypatch.setattr(owner, attr, refuse(f"{attr}", getattr(owner, attr)))
    for owner, attr in [(pd, "read_parquet"), (pd, "read_csv"), (pd, "read_json"), (pyarrow.parquet, "read_table"),
                        (pyarrow.parquet, "ParquetFile")]:
        monkeypatch.setattr(owner, attr, refuse(f"{owner.__name__}.{attr}"))


def strings_in(obj, depth=0, seen=None):
    """Every string reachable from an object's attributes, containers and dataclass fields (arrays skipped)."""
    seen = set() if seen is None else seen
    if id(obj) in seen or depth > 8 or isinstance(obj, (np.ndarray, pd.DataFrame, int, float, bool, type(None))):
        return
    seen.add(id(obj))
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from strings_in(k, depth + 1, seen)
            yield from strings_in(v, depth + 1, seen)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for v in obj:
            yield from strings_in(v, depth + 1, seen)
    elif dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            yield from strings_in(getattr(obj, f.name), depth + 1, seen)
    elif hasattr(obj, "__dict__") and type(obj).__module__.split(".")[0] in ("falcon", "baselines", "harness"):
        yield from strings_in(vars(obj), depth + 1, seen)


@pytest.mark.parametrize("method", MAIN_METHODS)
def test_no_searcher_reads_a_file_or_learns_the_target_name(method, sim, request):
    traces, sources = sim
    cfg = compose_run([f"method={method}", f"traces.path={SIM}", f"target={TARGET}", *FAST.get(method, [])])
    assert TARGET not in set(strings_in(dict(cfg.method.searcher)))  # the config does not name the target
    searcher = instantiate(cfg.method.searcher)
    knowledge = select_knowledge(traces, sources, TARGET, cfg.method.get("protocol", "strict"))
    assert TARGET not in {t.model for t in knowledge.sources} and TARGET not in knowledge.curves
    target = traces.load(TARGET)
    request.getfixturevalue("no_file_access")  # from here on, every file read raises
    if isinstance(searcher, TransferSearcher):
        searcher.fit(knowledge)
    records = list(replay_search(searcher, target, seed=0, trials=3))
    assert len(records) == 3
    assert TARGET not in set(strings_in(searcher))


def test_the_spy_catches_a_trace_read(no_file_access):
    with pytest.raises(AssertionError, match="read a file"):
        TraceSet(SIM)  # reads the manifest
    with pytest.raises(AssertionError, match="read_parquet"):
        pd.read_parquet(SIM / TARGET / "measurements.parquet")


def test_the_spy_allows_only_a_temporary_folder_made_under_it(tmp_path, request):
    (tmp_path / "before.txt").write_bytes(b"")  # made before the spy: not a searcher's own folder
    request.getfixturevalue("no_file_access")
    with pytest.raises(AssertionError, match="read a file"):
        open(tmp_path / "before.txt").close()
    with tempfile.TemporaryDirectory() as own:
        (pathlib.Path(own) / "scenario.json").write_text("{}")
        assert (pathlib.Path(own) / "scenario.json").read_text() == "{}"


def test_abilities_are_declared_by_class():
    with pytest.raises(TypeError, match="abstract"):
        Searcher()  # ask is abstract
    for method in MAIN_METHODS:
        searcher = instantiate(compose_run([f"method={method}"]).method.searcher)
        assert isinstance(searcher, Searcher)
        if isinstance(searcher, StatefulSearcher):
            assert isinstance(searcher, TransferSearcher)


def test_knowledge_refuses_a_bad_protocol_and_mixed_spaces(make_trace, small_space, paper_space):
    one = make_trace(small_space, lambda c: 1.0)
    with pytest.raises(ValueError, match="protocol 'peek'"):
        Knowledge([one], protocol="peek")
    with pytest.raises(ValueError, match="share one space"):
        Knowledge([one, make_trace(paper_space, lambda c: 1.0)])


def test_a_budget_beyond_the_space_is_refused_before_any_trial(small_space, make_trace):
    from baselines.random_search import RandomSearch

    trace = make_trace(small_space, lambda c: c["batch"])
    with pytest.raises(ValueError, match="trials=61 is not allowed"):
        next(replay_search(RandomSearch(), trace, seed=0, trials=61))


@pytest.mark.parametrize("method", [m for m in METHODS if not m.startswith("falcon_")
                                    and m not in ("random", "source_best")])  # these two have no parameters
def test_bad_constructor_parameters_get_one_line_naming_them(method):
    params = {k: v for k, v in compose_run([f"method={method}"]).method.searcher.items() if k != "_target_"}
    name = sorted(params)[0]
    cfg = compose_run([f"method={method}", f"method.searcher.{name}=-1"])
    with pytest.raises(Exception, match=f"{name}=-1 is not allowed"):
        instantiate(cfg.method.searcher)


def test_parameters_are_checked_for_every_searcher_made_without_the_class_calling_the_check():
    from harness.search import Interval

    class Forgetful(Searcher):  # never calls check_parameters itself
        name = "forgetful"
        parameter_constraints = {"step": Interval(int, 1, None)}

        def __init__(self, step: int = 1):
            self.step = step

        def ask(self):
            return self.space_.config(int(self.untried()[0]))

    Forgetful(step=2)
    with pytest.raises(ValueError, match=r"forgetful: parameter step=0 is not allowed; expected an integer in \[1"):
        Forgetful(step=0)


def test_a_searcher_is_told_the_searchs_constraints_when_it_begins(sim):
    from harness.slo import Constraints, percentile_limit

    traces, _ = sim
    target = traces.load(TARGET)
    limits = Constraints(latency_p99_ms=percentile_limit(target, 50))
    seen = []

    class Listening(Searcher):
        def start(self, space, seed, budget):
            super().start(space, seed, budget)
            seen.append(self.constraints_)

        def ask(self):
            return self.space_.config(int(self.untried()[0]))

    list(replay_search(Listening(), target, seed=0, trials=2, constraints=limits))
    list(replay_search(Listening(), target, seed=0, trials=2))
    assert seen == [limits, Constraints()]
