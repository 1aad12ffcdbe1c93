import gc

import numpy as np
import pandas as pd
import pytest

from baselines.random_search import RandomSearch
from harness.oracle import Oracle, Scorer
from harness.search import Searcher
from harness.job import replay_search
from harness.traces import Trace


def peak(config):
    return 1.0 + config["cores"] * config["batch"] + (5.0 if config["gpu"] == "b" else 0.0)


def test_trial_returns_one_repetition_with_cost_and_duration(small_space, make_trace):
    trace = make_trace(small_space, peak, reps=5, noise=0.1)
    trace.measurements["price_per_hour"] = 2.0
    trace = Trace("t", small_space, trace.measurements)
    oracle = Oracle(trace, seed=3)
    obs = oracle.trial({"cores": 2, "gpu": "a", "batch": 4})
    index = small_space.index(obs.config)
    assert obs.objective in set(trace._values["objective"][index])
    assert obs.duration_s == 900.0 and obs.cost_usd == pytest.approx(0.5)
    assert obs.metrics == {"price_per_hour": 2.0}
    assert oracle.n_trials == 1 and oracle.total_cost_usd == pytest.approx(0.5)


def test_noise_is_paired_across_methods_and_orders(small_space, make_trace):
    trace = make_trace(small_space, peak, reps=5, noise=0.2)
    configs = list(small_space)
    a = [Oracle(trace, seed=7).trial(c).objective for c in configs]
    b_oracle = Oracle(trace, seed=7)
    b = {small_space.index(c): b_oracle.trial(c).objective for c in reversed(configs)}
    assert a == [b[i] for i in range(len(configs))]
    c = [Oracle(trace, seed=8).trial(cfg).objective for cfg in configs]
    assert a != c


def test_repeated_trial_returns_the_next_repetition(small_space, make_trace):
    trace = make_trace(small_space, peak, reps=3, noise=0.2)
    oracle = Oracle(trace, seed=0)
    config = small_space.config(11)
    values = [oracle.trial(config).objective for _ in range(3)]
    assert sorted(values) == sorted(trace._values["objective"][11])


def test_infeasible_configuration_scores_zero(small_space, make_trace):
    trace = make_trace(small_space, lambda c: 0.0 if c["batch"] == 16 else 1.0)
    obs = Oracle(trace, 0).trial({"cores": 1, "gpu": "a", "batch": 16})
    assert not obs.feasible and obs.objective == 0.0


def test_scorer_accuracy_is_value_over_optimum(small_space, make_trace):
    trace = make_trace(small_space, peak)
    scorer = Scorer(trace)
    assert scorer.optimum == peak({"cores": 8, "gpu": "b", "batch": 16})
    assert scorer.accuracy({"cores": 8, "gpu": "b", "batch": 16}) == 1.0
    assert scorer.accuracy({"cores": 1, "gpu": "a", "batch": 1}) == pytest.approx(2.0 / scorer.optimum)


class Spy(Searcher):
    """Collects every object it is handed, to show that none of them leads to the target's trace."""

    name = "spy"

    def start(self, space, seed, budget):
        super().start(space, seed, budget)
        self.received = [space]

    def ask(self):
        return self.space_.config(int(self.rng_.choice(self.untried())))

    def tell(self, obs):
        super().tell(obs)
        self.received.append(obs)


def reachable(roots):
    seen, stack = {}, list(roots)
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type):
            continue
        seen[id(obj)] = obj
        stack.extend(gc.get_referents(obj))
    return seen.values()


def test_searcher_cannot_reach_the_trace_or_the_optimum(small_space, make_trace):
    trace = make_trace(small_space, peak, reps=2, noise=0.1)
    spy = Spy()
    records = list(replay_search(spy, trace, seed=0, trials=5))
    assert len(records) == 5 and len(spy.received) == 6
    for obj in reachable(spy.received):
        assert not isinstance(obj, (Trace, Oracle, Scorer, pd.DataFrame))
        assert not (isinstance(obj, np.ndarray) and obj.size >= len(small_space))


def test_loop_refuses_a_repeated_proposal(small_space, make_trace):
    class Stubborn(Spy):
        def ask(self):
            return self.space_.config(0)

    with pytest.raises(RuntimeError, match="proposed configuration .* twice"):
        list(replay_search(Stubborn(), make_trace(small_space, peak), seed=0, trials=2))


def test_random_search_visits_everything_once_and_ends_at_the_optimum(small_space, make_trace):
    records = list(replay_search(RandomSearch(), make_trace(small_space, peak), seed=1, trials=len(small_space)))
    assert sorted(r.index for r in records) == list(range(len(small_space)))
    assert records[-1].accuracy == 1.0
    accuracies = [r.accuracy for r in records]
    assert accuracies == sorted(accuracies)  # the recommendation is the best seen: it never gets worse
