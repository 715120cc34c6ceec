"""How `labelnoise-sim` reports a user's mistake: one line on standard error, a non-zero exit, no traceback,
and before any computation starts."""

import ctypes
import fcntl
import importlib
import os
import re
import subprocess
import sys

import pytest

from labelnoise_sim import store as store_module
from labelnoise_sim.cli import main

TINY = ["--n", "20", "--d", "100", "--m", "2", "--steps", "20", "--record", "5"]
SWEEP = ["sweep", "--grid", "seed=0,1", *TINY, "--backend", "serial", "--no-progress", "--no-test-error"]


def _computation(*args, **kwargs):
    raise AssertionError("the computation started before the command was refused")


@pytest.fixture
def no_computation(monkeypatch):
    """Simulations, sweep cells and phase drawings fail: a refusal must come before any of them."""
    for module, name in (("dynamics", "run_many"), ("sweep", "run_cells"), ("phase", "phase_maps")):
        # The module, not the package's attribute: labelnoise_sim.sweep is also the function sweep.
        monkeypatch.setattr(importlib.import_module(f"labelnoise_sim.{module}"), name, _computation)


def refused(capsys, argv, *words, code=2, warned=()):
    """Run the command, expect it to exit with ``code`` and one line on stderr holding ``words``, after one
    warning line per pattern of ``warned``; return the error line."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == code
    *warnings, err = capsys.readouterr().err.splitlines(keepends=True)
    assert len(warnings) == len(warned), warnings
    for line, pattern in zip(warnings, warned):
        assert line.startswith("labelnoise-sim: warning: ") and re.search(pattern, line), (pattern, line)
    assert err.startswith("labelnoise-sim") and " error: " in err and err.count("\n") == 1, err
    for word in words:
        assert word in err, (word, err)
    return err


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "a_file"
    path.write_text("not a directory\n")
    return path


# Names, files and combinations -------------------------------------------------


def test_an_unknown_grid_parameter_is_named(tmp_path, capsys, no_computation):
    refused(capsys, ["sweep", "--grid", "foo=1,2", "--out", str(tmp_path / "t.csv")],
            "--grid foo=1,2", "unknown parameter 'foo'", "tau_pos")


def test_unknown_parameters_of_a_toml_file_are_named(tmp_path, capsys, no_computation):
    config = tmp_path / "grid.toml"
    config.write_text("[grid]\nfoo = [1, 2]\n")
    refused(capsys, ["sweep", "--config", str(config)], f"[grid] of {config}", "unknown parameter 'foo'")
    config.write_text("[grid]\nseed = [0, 1]\n[fixed]\nbar = 3\n")
    refused(capsys, ["sweep", "--config", str(config)], f"[fixed] of {config}", "unknown parameter 'bar'")


def test_a_missing_toml_file_is_named(tmp_path, capsys):
    refused(capsys, ["sweep", "--config", str(tmp_path / "nope.toml")],
            f"--config {tmp_path / 'nope.toml'}", "No such file")
    refused(capsys, ["sweep", "--config", str(tmp_path)], f"--config {tmp_path}", "Is a directory")


def test_a_malformed_toml_file_is_named_with_the_parser_message(tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text("[grid\ntau = [0.0, 0.1]\n")
    refused(capsys, ["sweep", "--config", str(config)], f"--config {config}", "not valid TOML", "line 1")
    config.write_text("grid = 3\n")
    refused(capsys, ["sweep", "--config", str(config)], f"--config {config}", "[grid] must be a table", "3")
    config.write_text('[grid]\nseed = [0, 1]\n[sweep]\nout = 3\n')
    refused(capsys, ["sweep", "--config", str(config)], "[sweep] out must be a path", "3")


def test_argument_errors_are_one_line_too(capsys):
    refused(capsys, ["sweep", "--backend", "dask"], "labelnoise-sim sweep: error:", "invalid choice: 'dask'")
    refused(capsys, ["run", "--no-such-option"], "unrecognized arguments: --no-such-option")


@pytest.mark.parametrize("argv", [
    ["--grid", "tau=0,0.1", "--tau", "0.2"],
    ["--grid", "d+eta=200/0.4,800/0.1", "--d", "500"],
    ["--grid", "tau=0,0.1", "--config", "{fixed_tau}"],
    ["--config", "{both}"],
])
def test_a_parameter_both_swept_and_fixed_is_refused(tmp_path, capsys, no_computation, argv):
    (tmp_path / "fixed_tau.toml").write_text("[fixed]\ntau = 0.2\n")
    (tmp_path / "both.toml").write_text("[grid]\ntau = [0.0, 0.1]\n[fixed]\ntau = 0.2\n")
    argv = [a.format(fixed_tau=tmp_path / "fixed_tau.toml", both=tmp_path / "both.toml") for a in argv]
    err = refused(capsys, ["sweep", *argv, "--out", str(tmp_path / "t.csv")], "both swept", "and fixed")
    swept = "--grid d+eta=" if "--d" in argv else "--grid tau=0,0.1" if "--grid" in argv else "[grid] tau in"
    fixed = "--d 500" if "--d" in argv else "--tau 0.2" if "--tau" in argv else "[fixed] tau = 0.2 in"
    assert swept in err and fixed in err
    assert not (tmp_path / "t.csv").exists()


# Outputs -----------------------------------------------------------------------


@pytest.mark.parametrize("command, option, where, words", [
    (["run", *TINY], "--out", "{file}/sub", ["--out {file}/sub", "{file} is not a directory"]),
    (["run", *TINY], "--out", "{file}", ["--out {file}", "is not a directory"]),
    (["figure", *TINY], "--out", "{file}/sub", ["--out {file}/sub", "{file} is not a directory"]),
    (["figure", *TINY, "--name", "sub/stages"], "--out", "{dir}", ["--name sub/stages", "without directories"]),
    (SWEEP, "--out", "{dir}", ["--out {dir}", "is a directory"]),
    (SWEEP, "--out", "{file}/t.csv", ["--out {file}/t.csv", "{file} is not a directory"]),
    (SWEEP, "--store", "{file}", ["--store {file}", "is not a directory"]),
    (["phase", "{table}"], "--out", "{dir}", ["--out {dir}", "is a directory"]),
    (["phase", "{table}"], "--out", "{file}/p.png", ["--out {file}/p.png", "{file} is not a directory"]),
    (["phase", "{dir}/missing.csv"], "--out", "{dir}/p.png", ["{dir}/missing.csv", "No such file"]),
    (["claims", "--quick"], "--out", "{file}/sub", ["--out {file}/sub", "{file} is not a directory"]),
    (["claims", "--quick"], "--out", "{file}", ["--out {file}", "is not a directory"]),
])
def test_outputs_of_the_wrong_kind_are_refused_before_computing(tmp_path, capsys, a_file, no_computation,
                                                                 command, option, where, words):
    table = tmp_path / "table.csv"
    table.write_text("cell,tau,seed\n0,0.0,0\n")
    names = {"file": a_file, "dir": tmp_path, "table": table}
    argv = [a.format(**names) for a in [*command, option, where]]
    refused(capsys, argv, *[w.format(**names) for w in words])


def _without_root_privileges():
    """Make a child process obey file permissions even when run by root (drop its DAC capabilities)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@pytest.mark.parametrize("command", [["run"], ["figure"], SWEEP, ["phase", "{table}"]])
def test_an_unwritable_output_directory_is_refused_before_computing(tmp_path, command):
    locked = tmp_path / "locked"
    locked.mkdir()
    table = tmp_path / "table.csv"
    table.write_text("cell,tau,seed\n0,0.0,0\n")
    locked.chmod(0o500)
    out = locked / ("table.csv" if "sweep" in command else "p.png" if "phase" in command else "out")
    argv = [a.format(table=table) for a in command] + ["--out", str(out)]
    if "phase" not in command:
        argv += ["--eta", "1e308"]  # diverges: had the command started computing, it would say so
    try:
        done = subprocess.run([sys.executable, "-m", "labelnoise_sim.cli", *argv], capture_output=True, text=True,
                              preexec_fn=_without_root_privileges if os.geteuid() == 0 else None, timeout=300)
    except subprocess.SubprocessError as exc:
        pytest.skip(f"cannot drop root's file privileges here: {exc}")
    finally:
        locked.chmod(0o700)
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"labelnoise-sim: error: --out {out}: {locked} is not writable\n"


# Failures of the computation and of the installation -------------------------


@pytest.mark.parametrize("command", ["run", "figure"])
@pytest.mark.parametrize("eta", ["1e300", "1e308"])  # the test statistics overflow; the outputs overflow
def test_divergence_is_one_line_and_writes_nothing(tmp_path, capsys, command, eta):
    out = tmp_path / "out"
    # At 1e300 the run itself ends, finite, with its first step past the range of the loss: its warning
    # (StepSizeWarning) comes before the test statistics overflow.
    warned = ["by step 1 a training margin passed 745.1"] if eta == "1e300" else []
    refused(capsys, [command, "--n", "20", "--d", "50", "--steps", "20", "--eta", eta, "--out", str(out)],
            "diverged at step", f"lower eta (got eta={float(eta)!r})", code=1, warned=warned)
    assert not out.exists()


@pytest.mark.parametrize("command", [SWEEP, ["phase", "{table}"]])
def test_a_missing_pandas_is_named_with_the_extra_to_install(tmp_path, capsys, monkeypatch, no_computation,
                                                               command):
    table = tmp_path / "table.csv"
    table.write_text("cell,tau,seed\n0,0.0,0\n")
    monkeypatch.setitem(sys.modules, "pandas", None)
    refused(capsys, [a.format(table=table) for a in command] + ["--out", str(tmp_path / "out")],
            "needs pandas", "pip install 'labelnoise-sim[sweep]'")


def test_a_missing_tqdm_is_a_one_line_warning(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    argv = [a for a in SWEEP if a != "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "t.csv")]) == 0
    err = capsys.readouterr().err
    assert re.fullmatch(r"labelnoise-sim: warning: [^\n]*needs tqdm[^\n]*\n", err), err


def test_a_store_of_another_sweep_is_refused(tmp_path, capsys, monkeypatch):
    store = str(tmp_path / "store")
    assert main([*SWEEP, "--store", store, "--out", str(tmp_path / "t.csv")]) == 0
    capsys.readouterr()
    monkeypatch.setattr(importlib.import_module("labelnoise_sim.sweep"), "run_cells", _computation)
    refused(capsys, [*SWEEP, "--grid", "tau=0,0.1", "--store", store, "--out", str(tmp_path / "t.csv")],
            f"store='{store}' belongs to another sweep")


def test_a_store_in_use_by_another_sweep_is_refused(tmp_path, capsys, monkeypatch):
    store = tmp_path / "store"
    assert main([*SWEEP, "--store", str(store), "--out", str(tmp_path / "t.csv")]) == 0
    capsys.readouterr()
    monkeypatch.setattr(importlib.import_module("labelnoise_sim.sweep"), "run_cells", _computation)
    with open(store / store_module.LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a running sweep holds it
        refused(capsys, [*SWEEP, "--store", str(store), "--out", str(tmp_path / "t.csv")],
                f"store='{store}' is in use by another sweep")


def test_a_bug_keeps_its_traceback(tmp_path, monkeypatch):
    def bug(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("labelnoise_sim.dynamics.run_many", bug)
    with pytest.raises(ZeroDivisionError):
        main(["run", *TINY, "--out", str(tmp_path)])


def test_the_installed_command_prints_no_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "labelnoise_sim.cli", "sweep", "--grid", "foo=1,2"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("labelnoise-sim: error: --grid foo=1,2: unknown parameter 'foo'")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


# Help --------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["run", "figure", "sweep", "phase"])
def test_help_shows_the_default_of_every_option(command, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = capsys.readouterr().out
    options = [entry for entry in re.split(r"\n(?=  -)", text) if entry.startswith("  -")]
    assert len(options) > 3
    for entry in options:
        if not entry.startswith("  -h, --help"):
            assert "(default" in entry, entry


# Places that permissions call writable but are not, and tables that are not sweep tables -----------------


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc, where nothing can be created")
@pytest.mark.parametrize("command, option", [
    (["run", *TINY], "--out"),
    (["figure", *TINY], "--out"),
    (SWEEP, "--out"),
    (SWEEP, "--store"),
    (["phase", "{table}"], "--out"),
    (["claims", "--quick"], "--out"),
    (["reproduce", "han2025", "--quick"], "--out"),
])
def test_an_output_where_nothing_can_be_created_is_refused_before_computing(tmp_path, capsys, no_computation,
                                                                           command, option):
    # os.access says yes in /proc to root; only a write tells.
    table = tmp_path / "table.csv"
    table.write_text("cell,tau,n_snr2,stage_one\n0,0.0,1.0,1\n")
    where = "/proc/labelnoise-sim-test/out" + (".csv" if option == "--out" and command is SWEEP else "")
    argv = [a.format(table=table) for a in command] + [option, where]
    if option == "--store":
        argv += ["--out", str(tmp_path / "t.csv")]
    refused(capsys, argv, f"{option} {where}", "cannot write in /proc")


def test_the_write_check_leaves_nothing_behind(tmp_path):
    from labelnoise_sim.cli._checks import check_output

    existing = tmp_path / "kept.csv"
    existing.write_text("cell\n")
    before = existing.stat().st_mtime_ns
    check_output(tmp_path, "--out", directory=True)
    check_output(tmp_path / "a" / "b", "--out", directory=True)
    check_output(existing, "--out", directory=False)
    assert [p.name for p in tmp_path.iterdir()] == ["kept.csv"]
    assert existing.read_text() == "cell\n" and existing.stat().st_mtime_ns == before


@pytest.mark.parametrize("content, x, words", [
    (b"cell,a,b\n0,1,2\n", "n_snr2", ["axis 'n_snr2' is neither a column"]),
    (b"cell,tau,seed\n0,0.0,0\n", "d_over_n", ["axis 'd_over_n' (d / n) needs the column 'd'"]),
    (b"cell,tau,n_snr2\n0,0.0,1\n", "n_snr2", ["none of the metrics"]),
    (b"cell,tau,n_snr2,stage_one\n0,0.0,1,x\n", "n_snr2", ["column 'stage_one' must hold numbers"]),
    (b"x,y\n1,2\n", "n_snr2", ["not a table of `labelnoise-sim sweep`"]),
    (b"garbage\x00\x01\n", "n_snr2", ["not a table of `labelnoise-sim sweep`"]),
    (b"\xff\xfe\x00bad\n", "n_snr2", ["not a table of `labelnoise-sim sweep`", "decode"]),
    (b"", "n_snr2", ["not a table of `labelnoise-sim sweep`"]),
], ids=["no-axis", "no-column-of-a-derived-axis", "no-metric", "text-metric", "no-cell", "binary-header",
        "not-utf8", "empty"])
def test_phase_on_a_table_that_is_not_a_sweep_table_names_it(tmp_path, capsys, content, x, words):
    table = tmp_path / "table.csv"
    table.write_bytes(content)
    refused(capsys, ["phase", str(table), "--x", x, "--out", str(tmp_path / "p.png")], f"table {table}: ", *words)
    assert not (tmp_path / "p.png").exists()
