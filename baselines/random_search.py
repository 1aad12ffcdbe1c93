"""Random search: configurations drawn uniformly without replacement. No transfer; the floor of every method."""

from __future__ import annotations

from harness.search import Searcher
from harness.space import Config


class RandomSearch(Searcher):
    name = "random"

    def start(self, space, seed, budget):
        super().start(space, seed, budget)
        self.phase_ = "explore"

    def ask(self) -> Config:
        return self.space_.config(int(self.rng_.choice(self.untried())))
