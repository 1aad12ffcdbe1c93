"""Tuned hyperparameters: where `python -m harness.hpo` writes them and how a run applies them.

`conf/method/tuned/<trace set>/<method>.yaml` holds the values chosen for one method on one trace set's source
models (with the trial record and the trace-set digest they were chosen on). A run with `tuned=true` (the
default) applies them to its method config before anything else happens, and records what it applied under
`method.tuning.applied`, so the values are part of the job's identity and of the fit cache key. A variant of a
method (e.g. a Falcon ablation) says `tuning: {of: falcon, fixed: [searcher.threshold]}`: it takes falcon's tuned
values except the keys it fixes itself.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from harness.paths import CONF_DIR, safe_name

TUNED_DIR = CONF_DIR / "method" / "tuned"


class TunedError(ValueError):
    """Tuned values that cannot be applied; the message says why."""


def tuned_file(trace_set: str, method: str, root: Path = TUNED_DIR) -> Path:
    return root / safe_name(trace_set, "trace set name") / f"{safe_name(method, 'method name')}.yaml"


def has_key(cfg: DictConfig, dotted: str) -> bool:
    """Whether the dotted key (e.g. `searcher.cp`) names an entry of `cfg` (its value may be null)."""
    parent_path, _, leaf = dotted.rpartition(".")
    parent = OmegaConf.select(cfg, parent_path) if parent_path else cfg
    return isinstance(parent, DictConfig) and leaf in parent


def tuned_source(method_cfg: DictConfig) -> tuple[str, list[str]]:
    """Whose tuned values a method uses (its own, or those of the method it is a variant of) and which keys it
    keeps as configured."""
    tuning = method_cfg.get("tuning") or {}
    return str(tuning.get("of") or method_cfg.name), list(tuning.get("fixed") or [])


def apply_tuned(cfg: DictConfig, trace_set: str, digest: str, root: Path = TUNED_DIR) -> dict | None:
    """Apply the tuned values for `cfg.method` on `trace_set` in place (when a file exists); returns them.

    Refuses values chosen on another version of the trace set (its digest differs) or with the run's target among
    the tuning's source models.
    """
    owner, fixed = tuned_source(cfg.method)
    path = tuned_file(trace_set, owner, root)
    if not path.is_file():
        return None
    record = OmegaConf.load(path)
    if record.trace_set_digest != digest:
        raise TunedError(f"{path}: tuned on another version of trace set {trace_set!r} (digest "
                         f"{str(record.trace_set_digest)[:12]}, now {digest[:12]}); rerun harness.hpo or "
                         "set tuned=false")
    if cfg.target in record.sources:
        raise TunedError(f"{path}: tuned with target model {cfg.target!r} among its source models; tune on a "
                         "split whose sources exclude it, or set tuned=false")
    values = {k: v for k, v in OmegaConf.to_container(record["values"]).items() if k not in fixed}
    with open_dict(cfg.method):
        for key, value in values.items():
            if not has_key(cfg.method, key):
                raise TunedError(f"{path}: key {key!r} is not in method {cfg.method.name!r}'s config")
            OmegaConf.update(cfg.method, key, value, merge=False)
        cfg.method.tuning = {**_plain(cfg.method.get("tuning")),
                             "applied": {"of": owner, "trace_set": trace_set, "values": values,
                                         "protocol": _plain(record.get("protocol"))}}
    return values


def _plain(node) -> dict:
    """A config node (or None) as a plain dict."""
    return OmegaConf.to_container(node) if node is not None else {}
