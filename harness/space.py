"""Discrete search spaces: knobs, configurations, stable integer indices and the numeric features surrogates use.

A configuration is a mapping knob name -> value. Every configuration of a space has a stable integer index:
a mixed-radix number whose most significant digit is the first knob. Nothing here knows the paper's knobs;
they come from `conf/space/*.yaml`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from harness.paths import CONF_DIR

Config = dict[str, Any]


class SpaceError(ValueError):
    """A configuration or a space definition that does not fit."""


@dataclass(frozen=True)
class Knob:
    """One tunable dimension: a name, its ordered discrete values and a unit."""

    name: str
    values: tuple
    unit: str = ""
    ordered: bool = True  # False for categorical knobs (e.g. GPU type), whose value order carries no meaning

    def __post_init__(self) -> None:
        if not self.values:
            raise SpaceError(f"knob {self.name!r} has no values")
        if len(set(self.values)) != len(self.values):
            raise SpaceError(f"knob {self.name!r} has duplicated values: {list(self.values)}")
        object.__setattr__(self, "_positions", {v: i for i, v in enumerate(self.values)})

    def position(self, value: Any) -> int:
        """Index of `value` among this knob's values; refuses values outside the knob."""
        if not _is_scalar(value) or (isinstance(value, (bool, np.bool_)) and not any(
                isinstance(v, bool) for v in self.values)):
            raise SpaceError(f"knob {self.name!r} has no value {value!r}; allowed values: {list(self.values)}")
        try:
            return self._positions[value]
        except KeyError:
            pass
        for i, v in enumerate(self.values):
            if v == value or (isinstance(v, float) and _is_number(value) and np.isclose(v, float(value))):
                return i
        raise SpaceError(f"knob {self.name!r} has no value {value!r}; allowed values: {list(self.values)}")

    def to_dict(self) -> dict:
        return {"name": self.name, "values": list(self.values), "unit": self.unit, "ordered": self.ordered}


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, np.generic))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


class SearchSpace:
    """An ordered collection of knobs; the grid of all their value combinations."""

    def __init__(self, knobs: Sequence[Knob], name: str = "space"):
        names = [k.name for k in knobs]
        if len(set(names)) != len(names):
            raise SpaceError(f"space {name!r} has duplicated knob names: {names}")
        self.name = name
        self.knobs: tuple[Knob, ...] = tuple(knobs)
        self.radices = np.array([len(k.values) for k in self.knobs], dtype=np.int64)
        # weight of each digit in the mixed-radix index: the last knob varies fastest
        self._weights = np.concatenate([np.cumprod(self.radices[::-1])[::-1][1:], [1]]).astype(np.int64)
        self._weight_list = [int(w) for w in self._weights]

    # -- construction -------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, spec: Mapping) -> "SearchSpace":
        """Build from `{"name": ..., "knobs": [{"name", "values", "unit", "ordered"}, ...]}`."""
        if not isinstance(spec, Mapping) or not isinstance(spec.get("knobs"), list) or not spec["knobs"]:
            raise SpaceError("a space definition needs a non-empty 'knobs' list")
        knobs = []
        for k in spec["knobs"]:
            if not (isinstance(k, Mapping) and isinstance(k.get("name"), str)
                    and isinstance(k.get("values"), (list, tuple)) and all(_is_scalar(v) for v in k["values"])):
                raise SpaceError(f"knob {k!r} needs a 'name' and a list of single 'values'")
            values = tuple(_plain(v) for v in k["values"])
            knobs.append(Knob(k["name"], values, str(k.get("unit", "")), bool(k.get("ordered", True))))
        return cls(knobs, str(spec.get("name", "space")))

    @classmethod
    def from_yaml(cls, path: str | Path) -> "SearchSpace":
        from omegaconf import OmegaConf

        return cls.from_dict(OmegaConf.to_container(OmegaConf.load(path), resolve=True))

    def to_dict(self) -> dict:
        return {"name": self.name, "knobs": [k.to_dict() for k in self.knobs]}

    # -- basic facts --------------------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [k.name for k in self.knobs]

    def __len__(self) -> int:
        return int(np.prod(self.radices))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self.to_dict()["knobs"] == other.to_dict()["knobs"]

    def __hash__(self) -> int:
        return hash(repr(self.to_dict()["knobs"]))

    def __repr__(self) -> str:
        return f"SearchSpace({self.name!r}, {len(self)} configurations, knobs={self.names})"

    def knob(self, name: str) -> Knob:
        for k in self.knobs:
            if k.name == name:
                return k
        raise SpaceError(f"space {self.name!r} has no knob {name!r}; knobs: {self.names}")

    # -- config <-> index ---------------------------------------------------------------------------------
    def digits(self, config: Mapping[str, Any]) -> np.ndarray:
        """Per-knob value positions of a configuration."""
        if not isinstance(config, Mapping):
            raise SpaceError(f"a configuration is a mapping of knob names to values, not {config!r}")
        missing = [n for n in self.names if n not in config]
        extra = [n for n in config if n not in self.names]
        if missing or extra:
            raise SpaceError(f"configuration {dict(config)} does not match space {self.name!r}: "
                             f"missing knobs {missing}, unknown knobs {extra}")
        return np.array([k.position(config[k.name]) for k in self.knobs], dtype=np.int64)

    def index(self, config: Mapping[str, Any]) -> int:
        if isinstance(config, Mapping) and len(config) == len(self.knobs):
            try:
                return sum(k.position(config[k.name]) * w for k, w in zip(self.knobs, self._weight_list))
            except KeyError:
                pass  # a knob is missing: digits() names it
        return int(self.digits(config) @ self._weights)

    def config(self, index: int) -> Config:
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
            raise SpaceError(f"a configuration index is a whole number, not {index!r}")
        index = int(index)
        if not 0 <= index < len(self):
            raise SpaceError(f"index {index} is outside space {self.name!r} (0..{len(self) - 1})")
        config = {}
        for k, w in zip(self.knobs, self._weight_list):
            config[k.name] = k.values[(index // w) % len(k.values)]
        return config

    def __iter__(self) -> Iterator[Config]:
        return (self.config(i) for i in range(len(self)))

    def validate(self, config: Mapping[str, Any]) -> Config:
        """Return the configuration with canonical values; raise on anything outside the space."""
        return self.config(self.index(config))

    # -- numeric views ------------------------------------------------------------------------------------
    def grid_digits(self) -> np.ndarray:
        """(n_configs, n_knobs) value positions of every configuration, in index order."""
        idx = np.arange(len(self), dtype=np.int64)[:, None]
        return (idx // self._weights) % self.radices

    def indices_of_digits(self, digits: np.ndarray) -> np.ndarray:
        return np.asarray(digits, dtype=np.int64) @ self._weights

    def features(self, knobs: Sequence[str] | None = None) -> np.ndarray:
        """(n_configs, n_features) inputs for surrogate models, in index order: an ordered knob is its value
        position scaled to [0, 1]; a categorical knob (whose value order means nothing) is one-hot."""
        digits = self.grid_digits()
        columns = []
        for name in self.names if knobs is None else knobs:
            j, knob = self.names.index(name), self.knob(name)
            if knob.ordered:
                columns.append(digits[:, j:j + 1] / max(len(knob.values) - 1, 1))
            else:
                columns.append(np.eye(len(knob.values))[digits[:, j]])
        return np.hstack(columns).astype(float)


def _plain(value: Any) -> Any:
    """YAML/numpy scalars -> plain Python scalars, so that configs serialise the same everywhere."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def load_space(name_or_path: str | Path) -> SearchSpace:
    """A space by name (a file in conf/space/) or by path to a YAML file."""
    path = Path(name_or_path)
    if not path.suffix:
        path = CONF_DIR / "space" / f"{name_or_path}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in (CONF_DIR / "space").glob("*.yaml"))
        raise SpaceError(f"no space {str(name_or_path)!r}; known spaces: {known}")
    return SearchSpace.from_yaml(path)

