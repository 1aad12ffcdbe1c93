"""Build hook: a wheel carries the checkout's `conf/`, shipped trace sets and `examples/` as `harness/_data/`.

`conf/`, `traces/` and `examples/` stay at the top of the checkout (docs and scripts refer to them there);
`harness.paths` finds the copies in an installed wheel (`harness.paths.DATA_ROOT / "examples"`: docs/extending.md).
Everything else about the build is in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

# traces/falcon-release (imported locally) is not shipped
SHIPPED = ("conf", "examples", "traces/sim-v1", "traces/sim-v2", "traces/measured-cpu", "traces/llm-v1")


class BuildPyWithData(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads conf/ and traces/ from the checkout itself
            return
        for folder in SHIPPED:
            for file in sorted(Path(folder).rglob("*")):
                if file.is_file() and "__pycache__" not in file.parts:
                    target = Path(self.build_lib) / "harness" / "_data" / file
                    self.mkpath(str(target.parent))
                    self.copy_file(str(file), str(target))


setup(cmdclass={"build_py": BuildPyWithData})
