"""Arithmetic and decisions that come out the same on any CPU, whichever BLAS kernel it selects.

OpenBLAS picks its kernels by processor (OPENBLAS_CORETYPE overrides it: Prescott, Haswell, SkylakeX ...), and the
kernels sum in different orders and with or without fused multiply-adds, so a matrix product's last bits depend
on the CPU. A searcher's decision is an argmax over scores; near-equal scores, or a network trained for thousands
of steps, turn those bits into different trials. Two remedies (docs/protocol.md, "Reproducible on any CPU"):

- `argmax`/`rank`: scores are compared at `DIGITS` significant digits of the largest score, and scores equal
  at that precision are ties, broken by the lowest index (or the caller's order);
- `matmul`: a product without BLAS (numpy's own einsum loops, whose order of summation is fixed by the numpy
  build, not by the CPU), for arithmetic whose errors compound (a network trained step after step).
"""

from __future__ import annotations

import numpy as np

DIGITS = 9
"""Significant digits, relative to the largest score, at which `argmax` and `rank` compare scores: far above the
1e-16 to 1e-12 relative differences between BLAS kernels, far below differences that mean anything to a search."""


def rounded(scores: np.ndarray, digits: int = DIGITS) -> np.ndarray:
    """`scores` divided by the largest finite absolute score and rounded to `digits` decimals (infinite scores,
    e.g. masked ones, stay infinite; all zero stays zero)."""
    scores = np.asarray(scores, dtype=float)
    finite = np.abs(scores[np.isfinite(scores)])
    scale = finite.max() if finite.size and finite.max() > 0 else 1.0
    return np.round(scores / scale, digits)


def argmax(scores: np.ndarray, digits: int = DIGITS) -> int:
    """Index of the highest score at `digits` significant digits; ties go to the lowest index."""
    return int(np.argmax(rounded(scores, digits)))


def rank(scores: np.ndarray, digits: int = DIGITS) -> np.ndarray:
    """Indices from the highest score to the lowest at `digits` significant digits; ties keep index order."""
    return np.argsort(-rounded(scores, digits), kind="stable")


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`a @ b` for 2-D `a` and 1-D or 2-D `b`, without BLAS: the same bits on every CPU (about 3x slower than
    BLAS on the small matrices it is meant for)."""
    return np.einsum("ij,j...->i...", a, b)
