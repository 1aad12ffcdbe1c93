"""Typed schemas of the run, sweep, report and tune apps, and the one-line checks of their values.

The dataclasses are registered in Hydra's ConfigStore and named in each app's defaults list (`conf/run.yaml`,
`conf/sweep.yaml`, `conf/report.yaml`, `conf/make_inventories.yaml`, `conf/tune/tune.yaml`), so OmegaConf refuses
a value of the wrong type (`trials=abc`, `trials=2.5`, `seed=abc`, `methods=random`) while composing, before the
app starts. The value rules that a type cannot say (`trials >= 1`, `seed >= 0`, ...) are checked by `check_run`,
`check_sweep` and `check_report`, each refusing with one line that names the key and what is allowed.

The `constraints` node of every app is `harness.slo.SLOConf` (the one SLO schema): its command-line overrides are
checked before Hydra composes anything (`checked_entry_point`, so that `constraints.foo=1` and
`constraints.latency_p99_ms=abc` get one line, not Hydra's multi-line composition error), and the composed node by
`harness.slo.check_slo`.

Entry points run their work under `one_line_errors`, which prints a project error as one line (no traceback) and
exits non-zero.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Dict, Iterator, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from harness.paths import CONF_DIR, UnsafeNameError
from harness.slo import ConstraintError, SLOConf, check_slo, check_slo_overrides
from harness.space import SpaceError
from harness.traces import TraceError


class ConfigError(ValueError):
    """A configuration value outside what is allowed; the message names the key."""


@dataclass
class TracesConf:
    path: str = MISSING  # a trace set folder; its name is the one its manifest records


@dataclass
class SplitConf:
    name: str = MISSING
    source: List[str] = MISSING
    target: List[str] = MISSING
    # leave-one-model-out: every model of the trace set is a target once, the others its sources (lists empty)
    leave_one_out: bool = False


@dataclass
class MethodConf:
    name: str = MISSING
    searcher: Dict[str, Any] = MISSING  # the searcher's own parameters: its constructor checks them
    ablation: bool = False  # a variant for the sensitivity figures, not a method of its own
    protocol: str = "strict"  # the knowledge protocol: what a transfer method's fit may see (harness.knowledge)
    tuning: Dict[str, Any] = field(default_factory=dict)  # tunable ranges and what was applied (harness/hpo/)


@dataclass
class RunConf:
    traces: TracesConf = MISSING
    split: SplitConf = MISSING
    method: MethodConf = MISSING
    target: str = MISSING
    constraints: SLOConf = field(default_factory=SLOConf)
    seed: int = 0
    trials: int = 30
    results_dir: str = "results"
    tuned: bool = True  # apply conf/method/tuned/<trace set>/<method>.yaml when it exists
    rerun: bool = False
    verbose: bool = True


class Action(Enum):
    run = "run"
    status = "status"


@dataclass
class SweepConf(RunConf):
    methods: List[str] = MISSING
    targets: Optional[List[str]] = None
    seeds: int = 10
    n_jobs: int = 2
    action: Action = Action.run


@dataclass
class WorldsConf(SweepConf):
    worlds: List[str] = MISSING
    available: Dict[str, Any] = MISSING  # world name -> {traces | simulate | import_from, split, max_trials}
    cache_dir: str = MISSING
    leave_one_model_out: bool = False  # true: every world runs split=lomo with method defaults (docs/protocol.md)


@dataclass
class ReportConf:
    results_dir: str = "results"
    out: Optional[str] = None
    trace_set: Optional[str] = None
    path_model: str = "roberta"
    path_knobs: List[str] = field(default_factory=lambda: ["gpu_mem_gb", "batch_size"])
    slo_results_dir: Optional[str] = None  # the same trace set's runs under constraints: an SLO section


@dataclass
class MakeInventoriesConf:
    models: List[str] = field(default_factory=list)
    out: Optional[str] = None


def collect_price() -> Dict[str, Any]:
    """The collector's price block (conf/collect/collect.yaml), the default prices of a live tune."""
    return OmegaConf.to_container(OmegaConf.load(CONF_DIR / "collect" / "collect.yaml").price)


@dataclass
class TuneConf:
    backend: str = "cpu"
    model: str = MISSING
    space: Dict[str, Any] = MISSING  # a file of conf/space/ (a config group)
    knowledge: str = MISSING
    method: MethodConf = MISSING
    trials: int = 8
    seed: int = 0
    out: str = MISSING
    settings: Dict[str, Any] = MISSING  # a preset of conf/collect/settings/ (harness.collect.collector.Settings)
    constraints: SLOConf = field(default_factory=SLOConf)  # latency_p99_percentile is a replay scenario only
    price: Dict[str, Any] = field(default_factory=collect_price)
    device: int = 0
    allow_power_cap: bool = False
    tuned: bool = True
    progress: bool = True
    remeasure: int = 2  # under an SLO: the best trials measured once more before one is recommended (0: none)


def register() -> None:
    """Make the schemas available to the defaults lists as `<app>_schema`."""
    store = ConfigStore.instance()
    store.store(name="run_schema", node=RunConf)
    store.store(name="sweep_schema", node=SweepConf)
    store.store(name="worlds_schema", node=WorldsConf)
    store.store(name="report_schema", node=ReportConf)
    store.store(name="make_inventories_schema", node=MakeInventoriesConf)
    store.store(name="tune_schema", node=TuneConf)


register()


def check_run(cfg: Any) -> None:
    """Value rules of a run config that its types cannot say."""
    if "results_dir" in cfg and not str(cfg.results_dir).strip():
        raise ConfigError("results_dir='': name a folder for the results (default: results)")
    if cfg.trials < 1:
        raise ConfigError(f"trials={cfg.trials}: must be a whole number >= 1")
    if cfg.seed < 0:
        raise ConfigError(f"seed={cfg.seed}: must be a whole number >= 0")
    check_slo(cfg.constraints)


def check_split(split: Any) -> None:
    """A leave-one-model-out split names no models: its targets and sources come from the trace set."""
    if split.get("leave_one_out", False) and (list(split.source) or list(split.target)):
        raise ConfigError(f"split {split.name!r}: leave_one_out=true takes every model of the trace set as a target "
                          "once and the others as its sources; leave split.source and split.target empty")


def check_sweep(cfg: Any) -> None:
    check_run(cfg)
    if cfg.seeds < 1:
        raise ConfigError(f"seeds={cfg.seeds}: must be a whole number >= 1 (the sweep runs seeds 0 .. seeds-1)")
    if cfg.n_jobs < 1 and cfg.n_jobs != -1:
        raise ConfigError(f"n_jobs={cfg.n_jobs}: must be >= 1 (worker processes), or -1 for one per core")
    if not cfg.methods:
        raise ConfigError("methods=[]: name at least one method, e.g. methods=[random]")
    if cfg.targets is not None and not cfg.targets:
        raise ConfigError("targets=[]: name at least one target model, or targets=null for the split's targets")
    for key in ("methods", "targets"):
        names = list(cfg[key] or [])
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ConfigError(f"{key}={names}: {twice} named more than once (each job would run twice)")


def check_report(cfg: Any) -> None:
    if len(cfg.path_knobs) != 2:
        raise ConfigError(f"path_knobs={list(cfg.path_knobs)}: must name exactly two knobs (x, y)")


# Errors a user can cause and fix: printed as one line by the entry points.
USER_ERRORS = (ConfigError, ConstraintError, SpaceError, TraceError, UnsafeNameError)


def checked_entry_point(app: str, hydra_main: Callable[[], None]) -> Callable[[], None]:
    """The app's entry point: checks the command line's constraint overrides (one line), then runs Hydra."""
    def main() -> None:
        with one_line_errors(app):
            check_slo_overrides(sys.argv[1:])
        hydra_main()
    return main


@contextlib.contextmanager
def one_line_errors(app: str, errors: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Print a project error (USER_ERRORS, plus the app's own `errors`) as `app: message` and exit 1."""
    try:
        yield
    except USER_ERRORS + errors as e:
        print(f"{app}: {e}", file=sys.stderr)
        raise SystemExit(1) from None
