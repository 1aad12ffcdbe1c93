"""How this project's grids and traces map onto Syne Tune's types: the one mapping, shared by the Syne Tune export
(`harness.export`) and the Syne Tune peers (`baselines/`), so neither depends on the other.

Needs the `peers` extra (syne-tune); imported only where Syne Tune is used.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from syne_tune.config_space import choice, ordinal
from syne_tune.optimizer.schedulers.transfer_learning.transfer_learning_task_evaluation import (
    TransferLearningTaskEvaluations,
)

from harness.search import Knowledge
from harness.space import SearchSpace
from harness.traces import Trace

OBJECTIVE = "objective"


def syne_tune_space(space: SearchSpace) -> dict:
    """The grid as a Syne Tune config space: `ordinal` (Syne Tune's default kind) for ordered knobs, `choice` for
    unordered ones."""
    return {k.name: ordinal(list(k.values)) if k.ordered else choice(list(k.values)) for k in space.knobs}


def hyperparameters(space: SearchSpace) -> pd.DataFrame:
    """One row per configuration, in index order (row i is configuration i), one column per knob."""
    return pd.DataFrame(list(space))


def evaluations(trace: Trace, fields: list[str]) -> np.ndarray:
    """(configurations, repetitions as Syne Tune's seeds, 1 fidelity, fields) as stored; NaN where the trace lacks a
    field; "feasible" is 1/0."""
    m = trace.measurements.sort_values(["config_index", "rep"])
    shape = (len(trace.space), trace.n_reps)
    values = [m[f].to_numpy(dtype=float).reshape(shape) if f in m.columns else np.full(shape, np.nan) for f in fields]
    return np.stack(values, axis=-1)[:, :, None, :]


def task_evaluations(knowledge: Knowledge) -> dict[str, TransferLearningTaskEvaluations]:
    """The knowledge's source traces as Syne Tune's offline evaluations, one task per source model: the objective
    of every configuration and repetition, 0 where the repetition was infeasible (what a trial there returns)."""
    space, table = knowledge.space, hyperparameters(knowledge.space)
    tasks = {}
    for trace in knowledge.sources:
        measured = evaluations(trace, ["feasible", OBJECTIVE])
        objective = np.where(measured[..., :1] > 0, np.nan_to_num(measured[..., 1:]), 0.0)
        tasks[trace.model] = TransferLearningTaskEvaluations(syne_tune_space(space), table.copy(), [OBJECTIVE],
                                                             objective)
    return tasks
