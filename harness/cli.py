"""`falcon-bench COMMAND [overrides...]`: one console entry point that forwards to each Hydra app.

    falcon-bench run method=random target=vgg16 trials=5      same as python -m harness.run ...
    falcon-bench sweep|report|simulate|collect|tune|hpo|worlds|import-release|import-table|export ...

Everything after the command goes to the app unchanged (Hydra overrides, -m, --help, --cfg job).
"""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "run": ("harness.run", "one search (add -m for a sweep through Hydra's launcher)"),
    "sweep": ("harness.sweep", "methods x targets x seeds, resumable, with a progress bar"),
    "report": ("harness.report", "summary.json, summary.md and the figures of a results folder"),
    "simulate": ("harness.sim.__main__", "write a simulated trace set"),
    "collect": ("harness.collect.__main__", "measure a model's trace on this machine"),
    "tune": ("harness.tune", "recommend a configuration for a model on this machine, under an SLO"),
    "hpo": ("harness.hpo.__main__", "tune every method's hyperparameters with one protocol, on source models only"),
    "worlds": ("harness.worlds", "the robustness study: every method on several worlds, ranks and tests"),
    "import-release": ("harness.import_release", "import the Falcon authors' released data as a trace set"),
    "import-table": ("harness.import_table", "import your own table of measurements as a trace set"),
    "export": ("harness.export", "write a trace set as a long CSV or in Syne Tune's blackbox format"),
}


def usage() -> str:
    lines = ["usage: falcon-bench COMMAND [overrides...]", "", "commands:"]
    lines += [f"  {name:<15} {what}" for name, (_, what) in COMMANDS.items()]
    lines += ["", "`falcon-bench COMMAND --help` shows a command's config and overrides."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        sys.exit(0 if args else 2)
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        print(f"error: unknown command {command!r}; commands: {', '.join(COMMANDS)}", file=sys.stderr)
        sys.exit(2)
    module = importlib.import_module(COMMANDS[command][0])
    sys.argv = [f"falcon-bench {command}", *rest]  # Hydra reads its overrides from sys.argv
    module.main()


if __name__ == "__main__":
    main()
