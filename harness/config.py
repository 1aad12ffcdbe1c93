"""Typed schemas of the run, sweep, report and tune apps, and the one-line checks of their values.

The dataclasses are registered in Hydra's ConfigStore and named in each app's defaults list (`conf/run.yaml`,
`conf/sweep.yaml`, `conf/report.yaml`, `conf/make_inventories.yaml`, `conf/tune/tune.yaml`), so OmegaConf refuses
a value of the wrong type (`trials=abc`, `trials=2.5`, `seed=abc`, `methods=random`) while composing, before the
app starts. The value rules that a type cannot say (`trials >= 1`, `seed >= 0`, ...) are checked by `check_run`,
`check_sweep` and `check_report`, each refusing with one line that names the key and what is allowed.

The `constraints` node (`ConstraintsConf`: the SLO of `harness.constraints` plus the replay scenario key
`latency_p99_percentile`) is checked twice: its command-line overrides before Hydra composes anything
(`check_constraint_overrides`, so that `constraints.foo=1` and `constraints.latency_p99_ms=abc` get one line, not
Hydra's multi-line composition error), and the composed node by `check_constraints`.

Entry points run their work under `one_line_errors`, which prints a project error as one line (no traceback) and
exits non-zero.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any, Callable, Dict, Iterator, List, Optional

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import MISSING, OmegaConf

from harness.constraints import LIMITS, ConstraintError, Constraints
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
class ConstraintsConf:
    """The search's SLO (`harness.constraints.Constraints`; null = no limit), plus one replay scenario key:
    `latency_p99_percentile` sets `latency_p99_ms` per target to that percentile (0-100] of the target's own mean
    p99 latencies over its feasible configurations (resolved by `harness.oracle.percentile_limit`)."""

    latency_p99_ms: Optional[float] = None
    min_rps: Optional[float] = None
    max_usd_per_h: Optional[float] = None
    latency_p99_percentile: Optional[float] = None


CONSTRAINT_KEYS = tuple(f.name for f in fields(ConstraintsConf))


@dataclass
class RunConf:
    traces: TracesConf = MISSING
    split: SplitConf = MISSING
    method: MethodConf = MISSING
    target: str = MISSING
    constraints: ConstraintsConf = field(default_factory=ConstraintsConf)
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
    check_constraints(cfg.constraints)


def check_constraints(node: Any) -> tuple[Constraints, float | None]:
    """The fixed limits and the latency percentile of a `constraints` node (a config node or a dict); refuses an
    unknown key, a limit that is not a finite number > 0, a percentile outside (0, 100], or both a latency limit
    and a percentile, each with one line."""
    values = dict(node or {})
    percentile = values.pop("latency_p99_percentile", None)
    limits = Constraints.from_config(values)
    if percentile is not None:
        if isinstance(percentile, bool) or not isinstance(percentile, (int, float)) or not 0 < percentile <= 100:
            raise ConstraintError(f"constraints.latency_p99_percentile={percentile!r} is not allowed: use a "
                                  "number in (0, 100], or null")
        if limits.latency_p99_ms is not None:
            raise ConstraintError("constraints.latency_p99_ms and constraints.latency_p99_percentile are both set: "
                                  "set one of them (the percentile resolves to a latency limit per target)")
        percentile = float(percentile)
    return limits, percentile


def check_constraint_overrides(args: list[str]) -> None:
    """Refuse, before Hydra composes anything, a command-line override of an unknown `constraints.` key or of a
    constraint with a bad value (one line each). Sweeps over several values (`-m`) are checked once composed."""
    try:
        overrides = OverridesParser.create().parse_overrides([a for a in args if not a.startswith("-")])
    except HydraException:
        return  # a malformed override: Hydra's own error says what is wrong with it
    for override in overrides:
        key = override.key_or_group
        if not key.startswith("constraints.") or override.is_delete():
            continue
        name = key.removeprefix("constraints.")
        if name not in CONSTRAINT_KEYS:
            raise ConstraintError(f"constraints.{name} is not a constraint; allowed: {list(CONSTRAINT_KEYS)}")
        if not override.is_sweep_override():
            check_constraints({name: override.value()})


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
USER_ERRORS = (ConfigError, ConstraintError, SpaceError, TraceError, UnsafeNameError)


def checked_entry_point(app: str, hydra_main: Callable[[], None]) -> Callable[[], None]:
    """The app's entry point: checks the command line's constraint overrides (one line), then runs Hydra."""
    def main() -> None:
        with one_line_errors(app):
            check_constraint_overrides(sys.argv[1:])
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
