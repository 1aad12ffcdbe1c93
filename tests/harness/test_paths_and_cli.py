"""harness.paths locates configs and trace sets; harness.cli forwards `falcon-bench COMMAND` to each Hydra app."""

import sys

import pytest

from harness import cli, paths


def test_relative_trace_paths_resolve_against_the_cwd_first_then_the_shipped_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert paths.trace_set_path("traces/sim-v1") == paths.DATA_ROOT / "traces" / "sim-v1"
    assert (paths.trace_set_path("traces/sim-v1") / "MANIFEST.json").is_file()
    (tmp_path / "traces" / "sim-v1").mkdir(parents=True)  # the user's own set of that name, here
    assert paths.trace_set_path("traces/sim-v1") == tmp_path / "traces" / "sim-v1"
    assert paths.trace_set_path(tmp_path / "x") == tmp_path / "x"


def test_configs_are_found_where_the_package_is():
    assert (paths.CONF_DIR / "run.yaml").is_file() and (paths.CONF_DIR / "space" / "paper.yaml").is_file()


KEY_OF_EACH_APP = {"run": "target: vgg16", "sweep": "methods:", "report": "path_knobs:", "simulate": "reps:",
                   "collect": "backend: cpu", "import-release": "src:", "import-table": "operators:",
                   "export": "format: csv", "tune": "knowledge: ???", "hpo": "budget: 8", "worlds": "worlds:"}


@pytest.mark.parametrize("command", list(cli.COMMANDS))
def test_every_command_forwards_to_its_hydra_app(command, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["falcon-bench"])
    try:
        cli.main([command, "--cfg", "job"])  # Hydra prints the composed config and stops
    except SystemExit as e:
        assert e.code in (0, None)
    assert KEY_OF_EACH_APP[command] in capsys.readouterr().out


def test_unknown_or_missing_command_gets_one_line_or_the_usage(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["nosuch"])
    assert e.value.code == 2
    assert capsys.readouterr().err == "error: unknown command 'nosuch'; commands: " + ", ".join(cli.COMMANDS) + "\n"
    with pytest.raises(SystemExit):
        cli.main([])
    assert "usage: falcon-bench COMMAND" in capsys.readouterr().out
