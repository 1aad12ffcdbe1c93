"""Typed schemas of the run, sweep, report and tune apps, and the one-line checks of their values.

The dataclasses are registered in Hydra's ConfigStore and named in each app's defaults list (`conf/run.yaml`,
`conf/sweep.yaml`, `conf/report.yaml`, `conf/make_inventories.yaml`, `conf/tune/tune.yaml`), so OmegaConf refuses
a value of the wrong type (`trials=abc`, `trials=2.5`, `seed=abc`, `methods=random`) while composing, before the
app starts. The value rules that a type cannot say (`trials >= 1`, `seed >= 0`, ...) are checked by `check_run`,
`check_sweep` and `check_report`, each refusing with one line that names the key and what is allowed.

Entry points run their work under `one_line_errors`, which prints a project error as one line (no traceback) and
exits non-zero.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Dict, Iterator, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from harness.constraints import LIMITS
from harness.paths import CONF_DIR, UnsafeNameError
from harness.space import SpaceError
from harness.traces import TraceError


class ConfigError(ValueError):
    """A configuration value outside what is allowed; the message names the key."""


@dataclass
class TracesConf:
    name: str = MISSING
    path: str = MISSING


@dataclass
class SplitConf:
    name: str = MISSING
    source: List[str] = MISSING
    target: List[str] = MISSING


@dataclass
class MethodConf:
    name: str = MISSING
    searcher: Dict[str, Any] = MISSING  # the searcher's own parameters: its constructor checks them
    ablation: bool = False  # a variant for the sensitivity figures, not a method of its own
    protocol: str = "strict"  # the offline knowledge a transfer method may use (checked where it is used)
    tuning: Dict[str, Any] = field(default_factory=dict)  # tunable ranges and what was applied (harness/tuned.py)


@dataclass
class RunConf:
    traces: TracesConf = MISSING
    split: SplitConf = MISSING
    method: MethodConf = MISSING
    target: str = MISSING
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


@dataclass
class ReportConf:
    results_dir: str = "results"
    out: Optional[str] = None
    trace_set: Optional[str] = None
    path_model: str = "roberta"
    path_knobs: List[str] = field(default_factory=lambda: ["gpu_mem_gb", "batch_size"])


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
    constraints: Dict[str, Any] = field(default_factory=lambda: dict.fromkeys(LIMITS))
    price: Dict[str, Any] = field(default_factory=collect_price)
    device: int = 0
    allow_power_cap: bool = False
    tuned: bool = True
    progress: bool = True


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
    if cfg.trials < 1:
        raise ConfigError(f"trials={cfg.trials}: must be a whole number >= 1")
    if cfg.seed < 0:
        raise ConfigError(f"seed={cfg.seed}: must be a whole number >= 0")


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


def check_report(cfg: Any) -> None:
    if len(cfg.path_knobs) != 2:
        raise ConfigError(f"path_knobs={list(cfg.path_knobs)}: must name exactly two knobs (x, y)")


# Errors a user can cause and fix: printed as one line by the entry points.
USER_ERRORS = (ConfigError, SpaceError, TraceError, UnsafeNameError)


@contextlib.contextmanager
def one_line_errors(app: str, errors: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Print a project error (USER_ERRORS, plus the app's own `errors`) as `app: message` and exit 1."""
    try:
        yield
    except USER_ERRORS + errors as e:
        print(f"{app}: {e}", file=sys.stderr)
        raise SystemExit(1) from None
