"""The tune app's config search path: its own folder (conf/tune/), then conf/ (the `method` and `space` groups,
as harness.run and harness.sim compose them) and conf/collect/ (the collector's `settings` presets).

Only the app whose primary config folder is conf/tune/ is touched; every other app's search path stays as it is
(the collector's own `settings` group is not shadowed by a second definition).
"""

from pathlib import Path

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin


class TuneSearchPath(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        from harness.paths import CONF_DIR

        main = [e for e in search_path.get_path() if e.provider == "main"]
        if main and Path(main[0].path.removeprefix("file://")).resolve() == (CONF_DIR / "tune").resolve():
            search_path.append("falcon-bench", f"file://{CONF_DIR}")
            search_path.append("falcon-bench", f"file://{CONF_DIR / 'collect'}")
