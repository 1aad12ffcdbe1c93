"""Join shard trace sets, one per machine, into one trace set over a whole space:
`python -m harness.collect action=merge merge.shards=[DIR,...] space=paper out=DIR`.

A shard is a trace set collected on one machine over the machine's space: the merged space without its shard
knob (`gpu_type` by default). The machine's label (its detected GPU type, or `machine_label` on a CPU
machine) fills that knob. The merge refuses, listing every problem: a shard without a label or with a label
outside the knob's values, a shard over other knobs, configurations outside the space, configurations that
two shards measured (overlap), configurations no shard measured (missing), a model measured with other
settings in two shards, and shards of other software versions (unless `allow_mixed_versions`, which records
the differences in the metadata). Each merged model keeps an auxiliary table `provenance`: which shard and
machine measured each configuration.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from harness.collect.journal import CollectError
from harness.space import SearchSpace, SpaceError
from harness.traces import Trace, TraceSet, write_trace_set

SHOWN = 20  # configurations listed per problem before "... and N more"


def merge_shards(shards: list[str | Path], space: SearchSpace, out: str | Path, knob: str = "gpu_type",
                 allow_mixed_versions: bool = False, name: str | None = None) -> Path:
    """Write the merged trace set at `out`; raises CollectError listing every problem, before writing."""
    out = Path(out).resolve()
    if len(shards) < 1:
        raise CollectError("merge.shards is empty: name the shard trace sets to merge, e.g. "
                           "merge.shards=[traces/t4,traces/v100]")
    if knob not in space.names:
        raise CollectError(f"merge.knob={knob!r} is not a knob of space {space.name!r} {space.names}")
    sets = [TraceSet(p) for p in shards]
    if any(s.path.resolve() == out for s in sets):
        raise CollectError(f"out={out} is one of the shards: merge into another folder")
    problems: list[str] = []
    labels = [_label(s, space, knob, problems) for s in sets]
    rest = [k for k in space.names if k != knob]
    for s in sets:
        if sorted(s.space.names) != sorted(rest):
            problems.append(f"shard {s.path} is over knobs {s.space.names}, not {rest} (the merged space without "
                            f"{knob!r})")
    versions = _versions(sets, problems if not allow_mixed_versions else None)
    if problems:
        raise CollectError(f"cannot merge {len(sets)} shards into space {space.name!r}: " + "; ".join(problems))

    models = sorted({m for s in sets for m in s.models})
    traces = [_merge_model(model, sets, labels, space, knob, problems) for model in models]
    if problems:
        raise CollectError(f"cannot merge {len(sets)} shards into space {space.name!r}: " + "; ".join(problems))
    info = {"provenance": "measured", "merged_from": [str(s.path) for s in sets],
            "merge_knob": knob, "mixed_versions": versions if allow_mixed_versions else {}}
    return write_trace_set(out, traces, name or out.name, info)


def machine_space(space: SearchSpace, knob: str, label: str | None) -> SearchSpace:
    """The part of `space` one machine realises: its label fixes the merge knob, which the shard drops."""
    if label is None:
        raise CollectError(f"space {space.name!r} has the knob {knob!r} that a machine's label fills: set "
                           f"machine_label to one of {list(space.knob(knob).values)} (detected on a GPU machine), "
                           "or collect over a space without it")
    try:
        space.knob(knob).position(label)
    except SpaceError:
        raise CollectError(f"this machine is labelled {label!r}, not a value of {knob} "
                           f"{list(space.knob(knob).values)} of space {space.name!r}") from None
    return SearchSpace([k for k in space.knobs if k.name != knob], f"{space.name}-{label}")


def _label(tset: TraceSet, space: SearchSpace, knob: str, problems: list[str]) -> str | None:
    labels = {tset.manifest["models"][m].get("machine", {}).get("label") for m in tset.models}
    if len(labels) != 1:
        problems.append(f"shard {tset.path} holds models of several machines {sorted(map(str, labels))}")
        return None
    label = labels.pop()
    if label is None:
        problems.append(f"shard {tset.path} has no machine label (on a CPU machine collect with "
                        "machine_label=NAME)")
        return None
    try:
        space.knob(knob).position(label)
    except SpaceError:
        problems.append(f"shard {tset.path} is labelled {label!r}, not a value of {knob} "
                        f"{list(space.knob(knob).values)}")
        return None
    return label


def _versions(sets: list[TraceSet], problems: list[str] | None) -> dict:
    """Software versions that differ between shards: {package: {shard: version}}; a problem unless allowed."""
    per_shard = {}
    for s in sets:
        merged: dict = {}
        for m in s.models:
            merged.update(s.manifest["models"][m].get("software", {}))
        per_shard[str(s.path)] = merged
    packages = sorted({k for v in per_shard.values() for k in v})
    differ = {p: {shard: v.get(p) for shard, v in per_shard.items()} for p in packages
              if len({v.get(p) for v in per_shard.values()}) > 1}
    if differ and problems is not None:
        problems.append("shards were measured with other software versions: " + ", ".join(
            f"{p} {json.dumps(v)}" for p, v in differ.items()) + " (merge.allow_mixed_versions=true accepts "
            "them, recorded in the metadata)")
    return differ


def _merge_model(model: str, sets: list[TraceSet], labels: list, space: SearchSpace, knob: str,
                 problems: list[str]) -> Trace | None:
    parts = [(s, label, s.load(model)) for s, label in zip(sets, labels) if model in s.models]
    settings = {str(s.path): t.metadata.get("settings") for s, _, t in parts}
    if len({json.dumps(v, sort_keys=True) for v in settings.values()}) > 1:
        problems.append(f"model {model!r} was measured with other settings in different shards: "
                        + ", ".join(f"{p}: {json.dumps(v, sort_keys=True)}" for p, v in settings.items()))
        return None
    measured_by: dict[int, str] = {}
    measurements, operators, aux, provenance = [], [], {}, []
    for tset, label, trace in parts:
        m = trace.measurements.copy()
        m[knob] = label
        try:
            mapping = {i: space.index({**trace.space.config(i), knob: label}) for i in range(len(trace.space))}
        except SpaceError as e:
            problems.append(f"model {model!r} in shard {tset.path}: {e}")
            return None
        overlap = [i for i in mapping.values() if i in measured_by]
        if overlap:
            problems.append(f"model {model!r}: {len(overlap)} configurations are measured by both {measured_by[overlap[0]]} "
                            f"and {tset.path}: {_listed(space, overlap)}")
            return None
        measured_by.update({i: str(tset.path) for i in mapping.values()})
        measurements.append(m.drop(columns="config_index"))
        if trace.operators is not None:
            ops = trace.operators.copy()
            ops["config_index"] = ops["config_index"].map(mapping)  # -1 (model-wide) has no place: NaN
            if ops["config_index"].isna().any():
                problems.append(f"model {model!r} in shard {tset.path} has a model-wide operator profile "
                                "(config_index -1): only per-configuration profiles are merged")
                return None
            operators.append(ops)
        for table, df in trace.auxiliary.items():
            if "config_index" not in df.columns:
                problems.append(f"model {model!r} in shard {tset.path}: auxiliary table {table!r} has no "
                                "config_index, so it cannot be merged")
                return None
            aux.setdefault(table, []).append(df.assign(config_index=df["config_index"].map(mapping)))
        machine = trace.metadata.get("machine", {})
        gpu = machine.get("gpu", {})
        for i in mapping.values():
            provenance.append({"config_index": i, "shard": str(tset.path), "shard_set": tset.name, "label": label,
                               "host": machine.get("host", ""), "cpu": machine.get("cpu", ""),
                               "gpu": gpu.get("nvml_name", gpu.get("name", "")),
                               "driver": gpu.get("nvml_driver", ""),
                               "date_start": trace.metadata.get("date_start") or "",
                               "date_end": trace.metadata.get("date_end") or ""})
    missing = [i for i in range(len(space)) if i not in measured_by]
    if missing:
        problems.append(f"model {model!r}: {len(missing)} configurations of space {space.name!r} are in no "
                        f"shard: {_listed(space, missing, knob)}")
        return None
    metadata = {k: v for k, v in parts[0][2].metadata.items()
                if k not in ("machine", "price_model", "sessions", "date_start", "date_end", "missing_fields")}
    metadata.update({
        "merged_from": [{"shard": str(s.path), "label": label,
                         **{k: t.metadata.get(k) for k in ("machine", "price_model", "sessions", "software",
                                                            "date_start", "date_end")}}
                        for s, label, t in parts],
        "date_start": min(t.metadata.get("date_start") or "" for _, _, t in parts),
        "date_end": max(t.metadata.get("date_end") or "" for _, _, t in parts),
        "machine": "several: see merged_from and the auxiliary table provenance",
        "price_model": "per shard: see merged_from"})
    aux_tables = {t: pd.concat(dfs, ignore_index=True).sort_values("config_index", kind="stable")
                  .reset_index(drop=True) for t, dfs in aux.items()}
    aux_tables["provenance"] = pd.DataFrame(provenance).sort_values("config_index").reset_index(drop=True)
    ops = (pd.concat(operators, ignore_index=True).sort_values(["config_index", "op_type"]).reset_index(drop=True)
           if operators else None)
    common = [c for c in measurements[0].columns if all(c in m.columns for m in measurements)]
    table = pd.concat([m[common] for m in measurements], ignore_index=True)  # a field one shard lacks: absent
    return Trace(model, space, table, ops, metadata, aux_tables)


def _listed(space: SearchSpace, indices: list[int], knob: str | None = None) -> str:
    """Configurations named one by one (the first SHOWN); a knob value with every configuration missing is
    named once ("no shard for gpu_type=V100 (360 configurations)")."""
    parts, rest = [], set(indices)
    if knob is not None:
        for value in space.knob(knob).values:
            whole = {i for i in range(len(space)) if space.config(i)[knob] == value}
            if whole <= rest:
                parts.append(f"no shard for {knob}={value} ({len(whole)} configurations)")
                rest -= whole
    shown = sorted(rest)[:SHOWN]
    parts += [json.dumps(space.config(i)) for i in shown]
    if len(rest) > SHOWN:
        parts.append(f"... and {len(rest) - SHOWN} more")
    return ", ".join(parts)
