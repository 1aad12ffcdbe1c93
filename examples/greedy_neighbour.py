"""An example of your own search method: greedy neighbourhood search, complete in about 30 lines.

Start from a random configuration; then try a random untried neighbour (one knob at most `step` value
positions away) of the best configuration so far; when the best has no untried neighbour left, jump to a
random untried configuration. See docs/extending.md for how to register and run it.
"""

import numpy as np

from harness.search import Interval, Searcher


class GreedyNeighbour(Searcher):
    name = "greedy_neighbour"
    parameter_constraints = {"step": Interval(int, 1, None)}  # checked whenever one is made

    def __init__(self, step: int = 1):
        self.step = step  # how many value positions a neighbour may differ in, per knob

    def start(self, space, seed, budget):
        super().start(space, seed, budget)  # sets space_, rng_, history_, tried_
        self.digits_ = space.grid_digits()  # (configurations, knobs) value positions

    def ask(self):
        untried = self.untried()  # indices not yet tried, ascending
        if self.history_:
            best = max(self.history_, key=lambda o: o.objective)
            diff = np.abs(self.digits_[untried] - self.digits_[best.index])
            near = untried[((diff > 0).sum(axis=1) == 1) & (diff.max(axis=1) <= self.step)]
            if len(near):
                self.phase_ = "exploit"
                return self.space_.config(int(self.rng_.choice(near)))
        self.phase_ = "explore"
        return self.space_.config(int(self.rng_.choice(untried)))
