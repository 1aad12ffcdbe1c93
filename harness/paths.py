"""The one place that locates the project's configs and shipped data, and the rule for names that become paths.

`CONF_DIR` holds the Hydra configs (space/, traces/, split/, method/, sim/, pricing/, ...); `TRACES_DIR` holds
the shipped trace sets. In a checkout both are the folders at its top; an installed wheel carries copies of
them as `harness/_data/conf` and `harness/_data/traces` (put there by `setup.py`). Every module that needs
either asks here, so an installed package and a checkout find them the same way.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # holds the `harness` package: the checkout's top, or site-packages
_WHEEL_DATA = ROOT / "harness" / "_data"
DATA_ROOT = _WHEEL_DATA if _WHEEL_DATA.is_dir() else ROOT  # holds conf/ and traces/
CONF_DIR = DATA_ROOT / "conf"
TRACES_DIR = DATA_ROOT / "traces"

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


def trace_set_path(path: str | Path) -> Path:
    """Where a trace set named in a config lives, as an absolute path.

    An absolute path is taken as it is. A relative one (`traces/sim-v1`) is taken relative to the current
    folder when something is there, else relative to `DATA_ROOT` (the checkout's top, or the installed
    package's data), so the shipped sets are found from any folder.
    """
    path = Path(path).expanduser()
    if path.is_absolute():
        return path
    here = Path.cwd() / path
    return here if here.exists() else DATA_ROOT / path
