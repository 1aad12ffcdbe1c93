"""Which model a collection measures: a name from the model zoo, or `package.module:ATTR` naming a spec
object of one's own (a `harness.models.ModelSpec`-like object whose `builder` is a full `module:function`)."""

from __future__ import annotations

import importlib
from typing import Any, Callable


def _attr(path: str) -> Any:
    module, _, attr = path.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"cannot import {path!r}: {e}") from None


def resolve(name: str) -> tuple[Any, Callable[[], Any]]:
    """(spec, build) for a model name; spec has `input_kind` and `inputs` (each with shape, dtype, high)."""
    if ":" in name:
        spec = _attr(name)
        return spec, lambda: _attr(spec.builder)().eval()
    from harness import models

    return models.spec(name), lambda: models.build(name)
