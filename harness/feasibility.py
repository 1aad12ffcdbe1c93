"""Which configurations will meet a search's SLO: a feasibility model learned from the sources' measurements and
updated with the target's own, shared by every searcher (baselines and Falcon alike).

`SourceMeasurements.from_traces` keeps, per configuration, what the source traces measured for the fields a limit
can read (`harness.slo.LIMITS`): log p99 latency and log requests per second per source (mean over
repetitions), and the hourly price. It is plain JSON (`to_dict`/`from_dict`), so a searcher's cached state can
carry it. `FeasibilityModel(measurements, constraints)` predicts, for every configuration, the probability that the
target meets each limit, and multiplies them:

- price (`max_usd_per_h`) is exact before any trial: price depends only on the configuration (`allowed`);
- latency and rps, before any target measurement: the target's scale is unknown and the limit is taken to sit at
  an unknown, uniformly distributed position in the target's range of values, so a configuration meets it with
  probability 1 - (its mean percentile among the sources' values) for an upper limit, its mean percentile for a
  lower one (scale-free: only the sources' shapes matter);
- from the first target measurement of a field on: each source s, shifted by the offset b_s that fits the target's
  log values, predicts log value ~ N(source_s + b_s, sigma^2 (1 + 1/n) + noise^2); sources are weighted by the
  likelihood of the target's residuals after the shift (so the first measurement fixes the scale, later ones
  choose the shape). sigma is the sources' leave-one-out residual spread (each source predicted by its best-fitting
  other source, the median over sources), noise the repetition spread of the sources.

`constrained_ei` and `first_feasible` are the constrained acquisition of the literature: expected improvement
times probability of feasibility (Gardner et al., ICML 2014), and a first trial chosen among the configurations
predicted feasible at a conservative level. Everything is numpy and deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from scipy.special import ndtr

from harness.slo import LIMITS, Constraints
from harness.traces import Trace

SLO_MODES = ("ignore", "feasibility")  # a searcher's `slo` switch: judge misses only, or use this model
# fields whose target values are predicted (log scale) from the sources' shapes; price is exact
MODELLED_FIELDS = ("latency_p99_ms", "rps")
LENGTH_SCALE = 0.3  # of the residual process over the features (ordered knobs in [0, 1], categorical one-hot)
MIN_SPREAD = 0.02  # log units: no two models' shapes are taken to agree better than 2 %
LIKELY_LEVEL = 0.5  # later proposals are chosen among configurations at least this likely to meet the SLO
FIRST_LEVEL = 0.8  # a first trial is chosen among configurations predicted feasible with at least this probability


@dataclass(frozen=True)
class SourceMeasurements:
    """The sources' measured values per configuration: `log_values[field]` (n_sources, n_configs) log of the mean
    over repetitions (NaN where the source failed), `noise[field]` the median standard deviation of one
    repetition's log value around that mean, `price` (n_configs,) $/h (None where no source has prices), `features`
    the space's configurations as surrogate inputs (`SearchSpace.features`)."""

    log_values: Mapping[str, np.ndarray]
    noise: Mapping[str, float]
    price: np.ndarray | None
    features: np.ndarray

    @classmethod
    def from_traces(cls, sources: Sequence[Trace]) -> "SourceMeasurements":
        log_values, noise = {}, {}
        for name in MODELLED_FIELDS:
            tables = [_log_table(t, name) for t in sources if name in t.fields]
            if tables:
                log_values[name] = np.vstack([mean for mean, _ in tables])
                spread = np.concatenate([sd for _, sd in tables])
                noise[name] = float(np.nanmedian(spread)) if np.isfinite(spread).any() else 0.0
        prices = [_log_table(t, "price_per_hour")[0] for t in sources if "price_per_hour" in t.fields]
        price = None
        if prices and np.isfinite(np.vstack(prices)).any(axis=0).all():
            price = np.exp(np.nanmedian(np.vstack(prices), axis=0))
        return cls(log_values, noise, price, sources[0].space.features())

    def to_dict(self) -> dict:
        return {"log_values": {f: _jsonable(v) for f, v in self.log_values.items()}, "noise": dict(self.noise),
                "price": None if self.price is None else _jsonable(self.price), "features": self.features.tolist()}

    @classmethod
    def from_dict(cls, state: Mapping) -> "SourceMeasurements":
        return cls({f: _array(v) for f, v in state["log_values"].items()}, dict(state["noise"]),
                   None if state["price"] is None else _array(state["price"]), _array(state["features"]))


def _log_table(trace: Trace, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Per configuration of `trace`: the mean and the standard deviation over repetitions of log `name`, over the
    repetitions that ran and measured a positive value (NaN where none did)."""
    m = trace.measurements
    values = m[name].to_numpy(dtype=float)
    ok = m["feasible"].to_numpy(dtype=bool) & (values > 0)
    logs = np.log(np.where(ok, values, 1.0))
    table = m[["config_index"]].assign(log=np.where(ok, logs, np.nan))
    grouped = table.groupby("config_index")["log"]
    index = np.arange(len(trace.space))
    return (grouped.mean().reindex(index).to_numpy(dtype=float),
            grouped.std(ddof=0).reindex(index).to_numpy(dtype=float))


def _jsonable(a: np.ndarray) -> list:
    return np.where(np.isnan(a), None, a).tolist()


def _array(values: list) -> np.ndarray:
    return np.array(values, dtype=float)  # None -> nan


class _FieldModel:
    """The target's log values of one field: scale-free before any measurement, then a weighted mixture of the
    sources shifted to the target's measurements, each corrected by a Gaussian process on its residuals."""

    def __init__(self, log_values: np.ndarray, noise: float, features: np.ndarray):
        self.sources = _imputed(log_values)
        self.prior = np.ones(len(self.sources))
        self.noise = noise
        self.features = features
        n = len(self.sources)
        ranks = np.argsort(np.argsort(self.sources, axis=1, kind="stable"), axis=1, kind="stable")
        self.percentile = ((ranks + 0.5) / self.sources.shape[1]).mean(axis=0)
        self.sigma = max(_leave_one_out_spread(self.sources), MIN_SPREAD) if n > 1 else 0.5
        self.indices: list[int] = []
        self.values: list[float] = []
        self._cache: tuple[int, tuple] | None = None

    def add_shape(self, log_values: np.ndarray, prior_weight: float) -> None:
        """One more candidate shape of the target (e.g. a prediction from its operator profile) for the mixture."""
        self.sources = np.vstack([self.sources, _imputed(np.asarray(log_values, dtype=float)[None, :])])
        self.prior = np.append(self.prior, prior_weight)
        self._cache = None

    def weigh(self, prior: np.ndarray) -> None:
        """Prior weights of the shapes (default: equal), e.g. from how alike the sources' profiles are to the target's."""
        self.prior = np.asarray(prior, dtype=float)
        self._cache = None

    def observe(self, index: int, value: float) -> None:
        if value > 0 and math.isfinite(value):
            self.indices.append(index)
            self.values.append(math.log(value))

    def _posterior(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(weights (n_shapes,), means (n_shapes, n_configs), variance (n_configs,)) given the measurements so far.

        Per shape s: log value = shape_s + offset_s + g_s, g_s a Gaussian process (squared-exponential kernel of
        variance sigma^2 and length scale LENGTH_SCALE over the space's features) plus repetition noise; offset_s
        is the mean residual. Weights: prior x the likelihood of the residuals under that process."""
        n = len(self.indices)
        if self._cache is not None and self._cache[0] == n:
            return self._cache[1]
        x = self.features[self.indices]
        residuals = np.asarray(self.values)[None, :] - self.sources[:, self.indices]
        offsets = residuals.mean(axis=1)
        centred = residuals - offsets[:, None]
        s2, e2 = self.sigma ** 2, self.noise ** 2 + 1e-6
        k = s2 * _rbf(x, x) + e2 * np.eye(n)
        chol = np.linalg.cholesky(k)
        alpha = np.linalg.solve(chol.T, np.linalg.solve(chol, centred.T))  # (n, n_shapes)
        log_w = -0.5 * (centred * alpha.T).sum(axis=1)
        w = self.prior * np.exp(log_w - log_w.max())
        k_star = s2 * _rbf(self.features, x)  # (n_configs, n)
        means = self.sources + offsets[:, None] + (k_star @ alpha).T
        v = np.linalg.solve(chol, k_star.T)
        variance = np.maximum(s2 - (v * v).sum(axis=0), 0.0) + s2 / n + self.noise ** 2
        result = (w / w.sum(), means, variance)
        self._cache = (n, result)
        return result

    def probability_below(self, log_limit: float) -> np.ndarray:
        """P(target's value <= limit) at every configuration."""
        if not self.indices:
            return 1.0 - self.percentile  # the sources' mean percentile (a scale-free prior)
        w, means, variance = self._posterior()
        return w @ ndtr((log_limit - means) / np.sqrt(variance))

    def median(self) -> np.ndarray:
        """The predicted log value at every configuration (the weighted mean of the corrected shapes); before any
        measurement the sources' mean shape at the sources' mean scale."""
        if not self.indices:
            return self.prior @ self.sources / self.prior.sum()
        w, means, _ = self._posterior()
        return w @ means


def _rbf(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d2 = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2 * a @ b.T
    return np.exp(-0.5 * np.maximum(d2, 0.0) / LENGTH_SCALE ** 2)


def _imputed(log_values: np.ndarray) -> np.ndarray:
    """Fill a source's missing values (where it failed) with its level plus the other sources' mean shape there."""
    values = np.array(log_values, dtype=float)
    level = np.nanmedian(values, axis=1, keepdims=True)
    level = np.where(np.isnan(level), np.nanmedian(values), level)
    shape = values - level
    known = np.isfinite(shape)
    counts = known.sum(axis=0)
    # the mean over the sources that have a value; 0 where none has (every source failed there)
    mean_shape = np.where(counts > 0, np.where(known, shape, 0.0).sum(axis=0) / np.maximum(counts, 1), 0.0)
    return np.where(np.isnan(values), level + mean_shape[None, :], values)


def _leave_one_out_spread(sources: np.ndarray) -> float:
    """Median over sources of the residual standard deviation of the best-fitting other source after a shift."""
    centred = sources - sources.mean(axis=1, keepdims=True)
    d2 = ((centred[:, None, :] - centred[None, :, :]) ** 2).mean(axis=2)
    np.fill_diagonal(d2, np.inf)
    return float(np.median(np.sqrt(d2.min(axis=1))))


class FeasibilityModel:
    """The probability that each configuration meets `constraints` on the target; `observe` each trial.

    Without active limits every probability is 1 and nothing is learned (an unconstrained search is unchanged).
    A limit on a field no source measured is not predicted (probability 1 for it; the harness still judges it).
    """

    def __init__(self, measurements: SourceMeasurements, constraints: Constraints):
        self.constraints = constraints
        self.price = measurements.price
        self.n_configs = len(next(iter(measurements.log_values.values()))[0]) if measurements.log_values \
            else len(measurements.price) if measurements.price is not None else 0
        self.fields: dict[str, tuple[_FieldModel, float, str]] = {}
        for key, limit in constraints.active.items():
            name, kind, _ = LIMITS[key]
            if name in measurements.log_values:
                self.fields[name] = (_FieldModel(measurements.log_values[name], measurements.noise[name],
                                                 measurements.features),
                                     math.log(limit), kind)

    def observe(self, index: int, metrics: Mapping[str, float]) -> None:
        """Learn from one target measurement (met or missed alike; failed ones carry no values)."""
        for name, (model, _, _) in self.fields.items():
            model.observe(index, float(metrics.get(name, math.nan)))

    def add_shape(self, name: str, log_values: np.ndarray, prior_weight: float = 1.0) -> None:
        """Offer the mixture of field `name` (if limited) one more candidate shape of the target's log values."""
        if name in self.fields:
            self.fields[name][0].add_shape(log_values, prior_weight)

    def weigh_sources(self, prior: np.ndarray) -> None:
        """Prior weights of the sources (in `SourceMeasurements` order) in every field's mixture."""
        for model, _, _ in self.fields.values():
            model.weigh(prior)

    def allowed(self) -> np.ndarray:
        """Configurations whose price meets `max_usd_per_h` (exact; all where there is no price limit)."""
        limit = self.constraints.max_usd_per_h
        if limit is None or self.price is None:
            return np.ones(self.n_configs, dtype=bool)
        return ~(self.price > limit)

    def candidates(self, untried: np.ndarray) -> np.ndarray:
        """The untried configurations a searcher may propose: those within the price limit (all of them where no
        untried one is, which the harness's check that some configuration meets the SLO rules out)."""
        untried = np.asarray(untried)
        within = untried[self.allowed()[untried]]
        return within if within.size else untried

    def likely(self, untried: np.ndarray, level: float) -> np.ndarray:
        """The untried configurations within the price limit predicted to meet the SLO with probability >= `level`
        (where none is, those at least `level` times as likely as the likeliest)."""
        within = self.candidates(untried)
        p = self.probability()[within]
        return within[p >= (level if (p >= level).any() else level * p.max())]

    def probability(self) -> np.ndarray:
        """P(all limits met) per configuration: 0 over the price limit, the product of the modelled fields'."""
        p = self.allowed().astype(float)
        for model, log_limit, kind in self.fields.values():
            below = model.probability_below(log_limit)
            p = p * (below if kind == "max" else 1.0 - below)
        return p


def proposable(model: FeasibilityModel | None, untried: np.ndarray, first: bool) -> np.ndarray:
    """The untried configurations a searcher may propose: all of them without a feasibility model; with one, those
    within the price limit predicted to meet the SLO with probability >= FIRST_LEVEL for a first trial and
    >= LIKELY_LEVEL after (`FeasibilityModel.likely`: where none is, the likeliest)."""
    if model is None:
        return np.asarray(untried)
    return model.likely(untried, FIRST_LEVEL if first else LIKELY_LEVEL)


def expected_best(history: Sequence, p_feasible: np.ndarray) -> int:
    """The position in `history` (observations) of the trial to recommend under an SLO: among the trials that met it
    (all, where none did), the highest objective times the probability that its configuration meets the SLO (a
    trial that met it in one repetition may still miss on average); ties: the higher objective, then the earliest."""
    met = [i for i, o in enumerate(history) if o.slo_met] or list(range(len(history)))
    return max(met, key=lambda i: (history[i].objective * float(p_feasible[history[i].index]),
                                   history[i].objective, -i))


def constrained_ei(ei: np.ndarray, p_feasible: np.ndarray) -> np.ndarray:
    """Expected improvement weighted by the probability of feasibility (Gardner et al. 2014)."""
    return np.asarray(ei, dtype=float) * np.asarray(p_feasible, dtype=float)


def first_feasible(score: np.ndarray, p_feasible: np.ndarray, candidates: np.ndarray,
                   level: float = FIRST_LEVEL) -> int:
    """A first trial: the best-scored candidate among those predicted feasible with probability >= `level`; if
    none is, the most probably feasible (ties: the best score, then the lowest index)."""
    candidates = np.asarray(candidates)
    p = np.asarray(p_feasible, dtype=float)[candidates]
    s = np.asarray(score, dtype=float)[candidates]
    sure = p >= level
    if sure.any():
        chosen = candidates[sure][np.argmax(s[sure])]
    else:
        chosen = candidates[np.lexsort((-s, -p))[0]]
    return int(chosen)


def feasible_first(order: np.ndarray, p_feasible: np.ndarray, level: float = 0.5) -> np.ndarray:
    """`order` (configuration indices, best first) with those predicted feasible (p >= level) first, each group
    keeping its order (a stable partition)."""
    order = np.asarray(order)
    feasible = np.asarray(p_feasible)[order] >= level
    return np.concatenate([order[feasible], order[~feasible]])
