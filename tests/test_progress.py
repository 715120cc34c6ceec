"""What a long call says while it works: progress bars and the compilation notice, on standard error only,
silent with ``progress=False``, and without changing a bit of the results."""

import importlib
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from labelnoise_sim import _progress, simulate
from labelnoise_sim.cli import main

pytest.importorskip("tqdm")

SMALL = dict(n=40, d=200, m=3, steps=300, seed=2)


def _fields(result):
    return [result.gamma, result.rho, result.outputs, *result.test_error_estimate]


@pytest.mark.parametrize("options", [{}, pytest.param(dict(activation="relu^2", momentum=0.5), marks=pytest.mark.slow)],
                         ids=["paper", "family"])
def test_a_bar_shows_the_steps_and_the_test_error_and_changes_no_bit(capsys, options):
    silent = simulate(**SMALL, **options, progress=False)
    silent_fields = _fields(silent)
    assert capsys.readouterr() == ("", "")
    shown = simulate(**SMALL, **options, progress=True)
    shown_fields = _fields(shown)  # its test error is estimated in blocks, one bar update each
    out, err = capsys.readouterr()
    assert out == ""
    assert "simulate: 100%" in err and "300/300" in err
    assert "test error: 100%" in err and f"{len(shown.t)}/{len(shown.t)}" in err
    for a, b in zip(silent_fields, shown_fields):
        assert np.array_equal(a, b, equal_nan=True)


def test_the_automatic_default_says_nothing_where_no_one_sees_it(capsys):
    # Standard error is captured here, not a terminal: an automatic bar stays off, whatever the time.
    result = simulate(**SMALL)
    result.test_error
    assert capsys.readouterr() == ("", "")


def test_progress_must_be_none_true_or_false():
    with pytest.raises(ValueError, match="progress must be None .automatic., True or False; got 'yes'"):
        simulate(**SMALL, progress="yes")


def test_a_bar_without_tqdm_is_no_bar(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    simulate(**SMALL, progress=None).test_error
    assert capsys.readouterr().err == ""
    with pytest.warns(UserWarning, match="progress=True needs tqdm"):
        simulate(**SMALL, progress=True)


def test_the_command_line_with_no_progress_writes_nothing_on_standard_error(tmp_path, capfd):
    argv = ["run", "--n", "30", "--d", "300", "--m", "4", "--steps", "60", "--out", str(tmp_path), "--no-progress"]
    assert main(argv) == 0
    out, err = capfd.readouterr()
    assert err == "" and "Stage II" in out


# The compilation notice -------------------------------------------------------

KERNEL_SOURCE = """
from numba import njit


@njit(cache=True)
def twice(x):
    return 2 * x


@njit(cache=True)
def thrice(x):
    return 3 * x
"""


def test_the_compilation_notice_is_said_once_and_only_before_a_compilation(tmp_path, monkeypatch, capsys):
    (tmp_path / "fresh_kernel.py").write_text(KERNEL_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(_progress, "_announced", set())
    monkeypatch.setitem(_progress.KERNEL_GROUPS, "fresh", ("fresh kernels", 7))
    fresh = importlib.import_module("fresh_kernel")
    assert not _progress._ready(fresh.twice)  # neither compiled here nor in a disk cache
    _progress.announce_compilation("fresh", [fresh.twice], progress=False)
    assert capsys.readouterr().err == ""
    _progress.announce_compilation("fresh", [fresh.twice], progress=None)
    _progress.announce_compilation("fresh", [fresh.twice], progress=None)
    assert capsys.readouterr().err == "labelnoise-sim: compiling fresh kernels (first run only, about 7 s)\n"
    assert fresh.twice(3) == 6
    assert _progress._ready(fresh.twice)
    # Another process finds the code in the disk cache: nothing to say.
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        import fresh_kernel
        from labelnoise_sim import _progress
        print(_progress._ready(fresh_kernel.twice))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "True\n"
    # The same group with another kernel to compile (a smooth activation's direction search after a ReLU
    # run's) is said again.
    _progress.announce_compilation("fresh", [fresh.thrice], progress=None)
    assert capsys.readouterr().err == "labelnoise-sim: compiling fresh kernels (first run only, about 7 s)\n"


def test_the_test_error_announces_the_direction_search_its_activation_compiles():
    from labelnoise_sim import _kernels, generalization
    from labelnoise_sim.config import SimulationConfig

    assert generalization.kernels(SimulationConfig())[0] is _kernels.design_direction
    assert generalization.kernels(SimulationConfig(activation="leaky_relu(0.1)"))[0] is _kernels.design_direction
    assert generalization.kernels(SimulationConfig(activation="relu^2"))[0] is _kernels.design_direction_smooth


@pytest.mark.slow
def test_a_first_run_says_it_compiles_and_a_second_one_does_not(tmp_path):
    # An empty numba cache of its own: this process compiles everything (a minute or more on 2 cores).
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    argv = [sys.executable, "-m", "labelnoise_sim", "run", "--n", "20", "--d", "100", "--m", "2", "--steps", "20",
            "--tau", "0", "--out", str(tmp_path / "out")]
    first = subprocess.run(argv, capture_output=True, text=True, env=env, check=True)
    assert first.stderr == ("labelnoise-sim: compiling kernels (first run only, about 10 s)\n"
                            "labelnoise-sim: compiling the test error's kernels (first run only, about 15 s)\n")
    assert first.stdout.startswith("labelnoise-sim run: n=20")
    second = subprocess.run(argv, capture_output=True, text=True, env=env, check=True)
    assert second.stderr == "" and second.stdout == first.stdout
