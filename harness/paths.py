"""The one place that locates the project's configs and shipped data, and the rule for names that become paths.

`CONF_DIR` holds the Hydra configs (space/, traces/, split/, method/, sim/, pricing/, ...); `TRACES_DIR` holds
the shipped trace sets. Every module that needs either asks here, so an installed package and a checkout find
them the same way.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = ROOT / "conf"
TRACES_DIR = ROOT / "traces"

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")


class UnsafeNameError(ValueError):
    """A name that would become a path is not a single safe path component."""


def safe_name(name: object, what: str) -> str:
    """`name` if it is one safe path component (letters, digits, `._+-`, not starting with a dot), else refuse.

    `what` says what the name is (e.g. "trace set name", "model"), for the message.
    """
    if not isinstance(name, str) or not _SAFE_NAME.match(name) or name in (".", ".."):
        raise UnsafeNameError(f"{what} {name!r} is not a safe name: use one path component of letters, digits and "
                         "'._+-', not starting with '.' (at most 128 characters)")
    return name
