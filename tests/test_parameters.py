"""What is derived from the parameter declarations stays in step with them."""

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from labelnoise_sim import simulate
from labelnoise_sim.cli import main
from labelnoise_sim.config import PARAMETERS


def test_simulate_signature_follows_the_declarations():
    replaced = {field for parameter in PARAMETERS.values() for field in parameter.replaces}
    signature = dict(inspect.signature(simulate).parameters)
    # One more keyword, last, that is no parameter of the run: what the call reports while it works.
    progress = signature.pop("progress")
    assert list(inspect.signature(simulate).parameters)[-1] == "progress"
    assert progress.kind is progress.KEYWORD_ONLY and progress.default is None
    # A field that an alternative replaces defaults to None: "not given", so that the alternative may be.
    expected = [(name, None if name in replaced else p.default) for name, p in PARAMETERS.items()]
    assert [(name, p.default) for name, p in signature.items()] == expected
    keyword_only = [name for name, p in signature.items() if p.kind is p.KEYWORD_ONLY]
    assert keyword_only == list(PARAMETERS)[-len(keyword_only):]
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in list(signature.values())[: -len(keyword_only)])


def test_simulate_docstring_lists_every_parameter_with_its_range():
    for name, parameter in PARAMETERS.items():
        assert f"\n    {name} : " in simulate.__doc__
        assert parameter.allowed in simulate.__doc__


@pytest.mark.parametrize("command", ["run", "figure", "sweep"])
def test_every_subcommand_offers_every_parameter_with_its_help_and_default(command, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # no help text wrapped inside
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name, parameter in PARAMETERS.items():
        default = "" if parameter.default is None else f" (default: {parameter.default})"
        assert f"--{name} {name.upper()}" in text and parameter.description + default in text


def test_the_command_line_runs_as_a_module():
    done = subprocess.run([sys.executable, "-m", "labelnoise_sim.cli", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "labelnoise-sim" in done.stdout


def test_docs_parameter_table_is_the_one_the_declarations_give():
    script = Path(__file__).resolve().parents[1] / "docs" / "scripts" / "parameter_table.py"
    done = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
