"""GPU power cap: the clock a cap allows, and how much compute- and memory-bound work slow down under it.

Power at clock factor f (1 = full boost clock), relative to the GPU's TDP:  P(f) = s + (w - s) * f^alpha, where
s is the clock-independent part and w the draw of the work at full clock. A cap c (fraction of TDP) allows
f = ((c - s) / (w - s))^(1/alpha), at most 1. s, w and alpha are fitted to published capped-throughput
measurements of compute-bound work on a V100 (conf/sim/v1.yaml, power.published); other GPUs use the same s and
alpha with their own w (`busy_power_w / tdp_w` in data/gpus.yaml; above 1 means power-limited at stock).
Memory-bound work draws less (w shrinks towards `memory_bound_power` of itself) and slows only as
f^-memory_clock_exponent, since the DRAM clock is not capped. Slowdowns are relative to the uncapped GPU (the
state the operator cost model was calibrated in).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import curve_fit

MIN_CLOCK = 0.2


@dataclass
class PowerModel:
    published: list
    memory_clock_exponent: float = 0.25
    memory_bound_power: float = 0.6

    def fit(self) -> "PowerModel":
        cap, rel = np.array(self.published, dtype=float).T

        def throughput(c, s, w, alpha):
            return np.clip((np.maximum(c - s, 1e-9) / (w - s)) ** (1.0 / alpha), MIN_CLOCK, 1.0)

        (self.static_, self.full_, self.alpha_), _ = curve_fit(
            throughput, cap, rel, p0=(0.25, 0.8, 2.0), bounds=([0.0, 0.3, 0.5], [0.3, 1.0, 10.0]))
        return self

    def _draw(self, compute_share, busy_fraction):
        """Draw at full clock, as a fraction of TDP, of work with this compute share on a GPU drawing
        `busy_fraction` of its TDP on compute-bound work (None: the fitted V100 value)."""
        w = self.full_ if busy_fraction is None else busy_fraction
        s = self.static_
        return s + (w - s) * (self.memory_bound_power + (1 - self.memory_bound_power) * compute_share)

    def clock_factor(self, cap_fraction, compute_share, busy_fraction=None) -> np.ndarray:
        """Clock factor under a cap (fraction of TDP) for work whose GPU time is `compute_share` compute-bound."""
        s = self.static_
        f = (np.maximum(cap_fraction - s, 1e-9) / (self._draw(compute_share, busy_fraction) - s)) ** (1 / self.alpha_)
        return np.clip(f, MIN_CLOCK, 1.0)

    def slowdowns(self, f, f_uncapped=1.0) -> tuple[np.ndarray, np.ndarray]:
        """Factors stretching compute-bound and memory-bound time at clock factor f, relative to f_uncapped."""
        r = np.asarray(f) / f_uncapped
        return 1.0 / r, r ** -self.memory_clock_exponent

    def draw_fraction(self, f, compute_share, busy_fraction=None) -> np.ndarray:
        """Power drawn while busy at clock factor f, as a fraction of TDP."""
        s = self.static_
        return s + (self._draw(compute_share, busy_fraction) - s) * f ** self.alpha_
