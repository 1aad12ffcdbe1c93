"""Property-based: malformed trace tables, manifests, spaces, configurations and seeds are refused with one line of
the project's own error types, never a bare numpy/pandas/Python exception."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.oracle import Oracle, OracleError
from harness.space import Knob, SearchSpace, SpaceError
from harness.traces import Trace, TraceError, TraceSet, write_trace_set

SPACE = SearchSpace([Knob("cores", (1, 2)), Knob("gpu", ("a", "b"), ordered=False), Knob("mem", (0.5, 1.0))],
                    name="tiny")
PROJECT_ERRORS = (TraceError, SpaceError, OracleError)
FAST = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

JUNK = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.integers(2**63, 2**70),
                 st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=4), st.binary(max_size=3),
                 st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
                 st.sampled_from([np.int64(1), np.float64(0.5), np.bool_(True), np.nan, math.inf, "1", "true"]))


def valid_table(reps=2) -> pd.DataFrame:
    rows = [{**c, "rep": r, "objective": 1.0 + i, "rps": 2.0 * i, "feasible": True, "reason": ""}
            for i, c in enumerate(SPACE) for r in range(reps)]
    return pd.DataFrame(rows)


TRACE = Trace("m", SPACE, valid_table())


@st.composite
def malformed_tables(draw) -> pd.DataFrame:
    table = valid_table().astype(object)
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["cell", "cell", "cell", "drop_column", "drop_row", "duplicate_row",
                                       "rename_column", "empty"]))
        columns = list(table.columns)
        if action == "cell" and len(table):
            row = draw(st.integers(0, len(table) - 1))
            table.iat[row, columns.index(draw(st.sampled_from(columns)))] = draw(JUNK)
        elif action == "drop_column" and columns:
            table = table.drop(columns=draw(st.sampled_from(columns)))
        elif action == "drop_row" and len(table):
            table = table.drop(index=table.index[draw(st.integers(0, len(table) - 1))])
        elif action == "duplicate_row" and len(table):
            table = pd.concat([table, table.iloc[[draw(st.integers(0, len(table) - 1))]]])
        elif action == "rename_column" and len(columns) > 1:
            old, new = draw(st.sampled_from(columns)), draw(st.sampled_from(columns))
            table.columns = [new if c == old else c for c in columns]
        elif action == "empty":
            table = table.iloc[:0]
    return table


def assert_one_line_refusal(error: BaseException) -> None:
    assert isinstance(error, PROJECT_ERRORS), f"{type(error).__name__}: {error}"
    assert str(error) and "\n" not in str(error)


@FAST
@given(malformed_tables(), st.integers(0, 2**32))
def test_malformed_trace_tables_are_refused_or_replay_cleanly(table, seed):
    try:
        trace = Trace("m", SPACE, table)
    except Exception as e:  # noqa: BLE001  (the property: nothing but the project's one-line errors)
        assert_one_line_refusal(e)
        return
    # Accepted (the junk happened to be harmless): every value the oracle can return is finite.
    assert np.isfinite(trace.true_objective).all() and (trace.true_objective >= 0).all()
    oracle = Oracle(trace, seed)
    for config in SPACE:
        obs = oracle.trial(config)
        assert math.isfinite(obs.objective) and obs.objective >= 0


@FAST
@given(st.one_of(JUNK, st.dictionaries(st.sampled_from(["cores", "gpu", "mem", "other"]), JUNK, max_size=4)))
def test_malformed_configurations_are_refused_by_the_oracle_and_the_space(config):
    oracle = Oracle(TRACE, seed=0)
    for call in (oracle.trial, SPACE.validate, SPACE.index):
        try:
            call(config)
        except Exception as e:  # noqa: BLE001
            assert_one_line_refusal(e)


@FAST
@given(JUNK)
def test_malformed_indices_and_seeds_are_refused(value):
    for call in (SPACE.config, lambda v: Oracle(TRACE, v)):
        try:
            call(value)
        except Exception as e:  # noqa: BLE001
            assert_one_line_refusal(e)
        else:  # accepted only when it is a whole number in range (not a bool, not 1.0)
            assert isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5)),
                    lambda inner: st.one_of(st.lists(inner, max_size=3),
                                            st.dictionaries(st.text(max_size=5), inner, max_size=3)), max_leaves=8)


@pytest.fixture(scope="module")
def trace_set(tmp_path_factory) -> Path:
    return write_trace_set(tmp_path_factory.mktemp("set") / "set", [Trace("m", SPACE, valid_table())], "set")


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["schema_version", "name", "space", "models", "files", "info"]), JSON)
def test_malformed_manifests_are_refused_with_a_trace_error(trace_set, key, value):
    good = (trace_set / "MANIFEST.json").read_text()
    manifest = json.loads(good)
    manifest[key] = value
    (trace_set / "MANIFEST.json").write_text(json.dumps(manifest))
    try:
        TraceSet(trace_set).load("m")
    except Exception as e:  # noqa: BLE001
        assert isinstance(e, TraceError), f"{type(e).__name__}: {e}"
        assert "\n" not in str(e)
    finally:
        (trace_set / "MANIFEST.json").write_text(good)


@FAST
@given(st.one_of(JUNK, st.dictionaries(st.sampled_from(["name", "knobs"]), st.one_of(JUNK, st.lists(
    st.dictionaries(st.sampled_from(["name", "values", "unit", "ordered"]), st.one_of(JUNK, st.lists(JUNK)),
                    max_size=4), max_size=2)), max_size=2)))
def test_malformed_space_definitions_are_refused_with_a_space_error(spec):
    try:
        SearchSpace.from_dict(spec)
    except Exception as e:  # noqa: BLE001
        assert_one_line_refusal(e)


def test_the_issues_examples_are_refused():
    with pytest.raises(SpaceError, match="a configuration index is a whole number, not 1.7"):
        SPACE.config(1.7)
    with pytest.raises(OracleError, match="seed 1.9 is not allowed: use a whole number >= 0"):
        Oracle(TRACE, seed=1.9)
    with pytest.raises(OracleError, match="seed -1 is not allowed"):
        Oracle(TRACE, seed=-1)
    table = valid_table().astype({"feasible": object})
    table["feasible"] = "no"
    with pytest.raises(TraceError, match="column 'feasible' holds 'no'"):
        Trace("m", SPACE, table)


# -- the apps' inputs: import-table files, export folders, report job files, collector settings ---------------
NAMES = st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)), min_size=1, max_size=8)


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow,
                                                                                   HealthCheck.function_scoped_fixture])
@given(malformed_tables(), st.sampled_from(["csv", "parquet", "bytes"]), st.binary(max_size=64))
def test_import_table_refuses_malformed_files_one_line_per_problem(tmp_path, table, kind, junk):
    from harness.import_table import TableError, import_table

    src = tmp_path / f"t.{'parquet' if kind == 'parquet' else 'csv'}"
    if kind == "bytes":
        src.write_bytes(junk)
    elif kind == "csv":
        table.to_csv(src, index=False)
    else:
        try:
            table.to_parquet(src)
        except Exception:  # noqa: BLE001  (pyarrow cannot store this junk: nothing to import)
            return
    out = tmp_path / "set"
    try:
        import_table(src, SPACE, "m", out)
    except TableError as e:
        assert e.problems and all(p and "\n" not in p for p in e.problems), e.problems
        assert not out.exists()
    else:
        TraceSet(out).load("m")
        import shutil
        shutil.rmtree(out)


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.just("csv"), st.just("syne_tune"), JUNK, st.text(max_size=6)), NAMES)
def test_export_refuses_a_bad_format_or_folder_with_one_line(trace_set, tmp_path_factory, fmt, name):
    from harness.export import ExportError, export

    base = tmp_path_factory.mktemp("export")
    (base / "afile").write_bytes(b"mine")
    for out in (base / name, base / "afile" / name):
        try:
            export(TraceSet(trace_set), fmt, out)
        except ExportError as e:
            assert str(e) and "\n" not in str(e)
        else:
            assert fmt in ("csv", "syne_tune") and out.is_dir()
    assert (base / "afile").read_bytes() == b"mine"


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    from harness.paths import TRACES_DIR
    from harness.job import check_job, compose_run, run_job

    folder = tmp_path_factory.mktemp("results")
    run_job(check_job(compose_run([f"traces.path={TRACES_DIR / 'sim-v1'}", f"results_dir={folder}", "verbose=false",
                         "target=gru", "trials=3", "method=random"])))
    return folder


@settings(max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(JSON, st.dictionaries(st.sampled_from(["trace_set", "trace_set_digest", "trace_path", "method",
                                                         "method_config", "target", "seed", "n_trials"]), JSON)),
       st.booleans())
def test_report_refuses_malformed_job_files_with_one_line(results, tmp_path_factory, job, keep_the_rest):
    from harness.config import ConfigError
    from harness.report import report
    from harness.results import ResultsError

    job_file = next(results.rglob("job.json"))
    good = job_file.read_text()
    if keep_the_rest and isinstance(job, dict):
        job = {**json.loads(good), **job}
    job_file.write_text(json.dumps(job))
    try:
        report(results, tmp_path_factory.mktemp("report") / "out")
    except (ResultsError, ConfigError, TraceError) as e:
        assert str(e) and "\n" not in str(e), str(e)
    finally:
        job_file.write_text(good)


SETTING_KEYS = ["reps", "warmup_s", "measure_s", "min_batches", "profile_batches", "seed", "timeout_s",
                "omp_wait_policy", "other"]


@FAST
@given(st.one_of(JUNK, st.dictionaries(st.sampled_from(SETTING_KEYS), st.one_of(JUNK, st.text(max_size=8)),
                                       max_size=4)))
def test_collector_settings_are_refused_with_one_line_or_sound(values):
    from harness.collect.collector import Settings
    from harness.config import ConfigError

    try:
        s = Settings.from_mapping(values)
    except ConfigError as e:
        assert str(e) and "\n" not in str(e)
        return
    assert s.reps >= 1 and s.min_batches >= 1 and s.profile_batches >= 0 and s.seed >= 0
    assert math.isfinite(s.warmup_s) and s.warmup_s >= 0 and math.isfinite(s.measure_s) and s.measure_s > 0
    assert math.isfinite(s.timeout_s) and s.timeout_s > 0 and s.omp_wait_policy in ("PASSIVE", "ACTIVE")
