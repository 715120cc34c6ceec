"""`labelnoise-sim run` and `labelnoise-sim figure`, called in-process."""


import importlib

import pytest

from labelnoise_sim import load
from labelnoise_sim.cli import main

TINY = ["--n", "30", "--d", "300", "--m", "4", "--steps", "60", "--seed", "5"]


def test_run_prints_the_stage_summary_and_writes_result_and_figures(tmp_path, capsys):
    assert main(["run", *TINY, "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "Stage I" in printed and "Stage II" in printed and "oracle early stopping" in printed
    for name in ("summary.txt", "result.npz", "stages.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert not (tmp_path / "stages.pdf").exists()  # only with --pdf
    result = load(tmp_path / "result.npz")
    assert (result.config.n, result.config.d, result.config.m, result.config.steps) == (30, 300, 4, 60)
    assert "Stage I" in (tmp_path / "summary.txt").read_text()


def test_options_without_subcommand_mean_run(tmp_path, capsys):
    assert main([*TINY, "--tau", "0", "--out", str(tmp_path)]) == 0
    assert "tau_pos=0.0" in capsys.readouterr().out
    assert (tmp_path / "stages.png").exists()


def test_run_writes_a_pdf_with_the_pdf_option(tmp_path, capsys):
    assert main(["run", *TINY, "--out", str(tmp_path), "--pdf", "--no-progress"]) == 0
    assert (tmp_path / "stages.pdf").read_bytes().startswith(b"%PDF")
    assert "stages.pdf" in capsys.readouterr().out


def test_run_prints_its_parameters_before_it_computes(tmp_path, capsys, monkeypatch):
    dynamics = importlib.import_module("labelnoise_sim.dynamics")
    seen = []

    def run_many(*args, **kwargs):
        seen.append(capsys.readouterr().out)  # what was printed when the simulation started
        raise KeyboardInterrupt

    monkeypatch.setattr(dynamics, "run_many", run_many)
    with pytest.raises(SystemExit):
        main(["run", *TINY, "--out", str(tmp_path)])
    assert seen == ["labelnoise-sim run: n=30 d=300 m=4 eta=0.1 steps=60 tau_pos=0.2 tau_neg=0.2 n*SNR^2=6 "
                    "noise=isotropic seed=5\n"]


def test_ctrl_c_of_run_names_no_store(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib.import_module("labelnoise_sim.dynamics"), "run_many", interrupted)
    with pytest.raises(SystemExit) as exit_:
        main(["run", *TINY, "--out", str(tmp_path)])
    assert exit_.value.code == 130
    assert capsys.readouterr().err == "labelnoise-sim: interrupted\n"


def test_figure_writes_png_and_pdf_under_the_given_name(tmp_path, capsys):
    assert main(["figure", *TINY, "--tau-pos", "0.3", "--tau-neg", "0.1",
                 "--out", str(tmp_path / "figs"), "--name", "tiny", "--pdf"]) == 0
    assert (tmp_path / "figs" / "tiny.png").stat().st_size > 0
    assert (tmp_path / "figs" / "tiny.pdf").stat().st_size > 0
    assert "t1" in capsys.readouterr().out


def test_figure_writes_into_the_current_directory_by_default(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["figure", *TINY, "--no-progress"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stages.png"]


def test_record_takes_a_comma_separated_list_of_steps(tmp_path, capsys):
    assert main(["run", *TINY, "--record", "0,10,60", "--out", str(tmp_path), "--no-progress"]) == 0
    assert load(tmp_path / "result.npz").t.tolist() == [0, 10, 60]
    assert main(["run", *TINY, "--record", "20", "--out", str(tmp_path), "--no-progress"]) == 0
    assert load(tmp_path / "result.npz").t.tolist() == [0, 20, 40, 60]


@pytest.mark.parametrize("command", ["run", "figure"])
@pytest.mark.parametrize("option, value, name", [
    ("--eta", "-0.1", "eta"), ("--tau", "0.5", "tau"), ("--noise", "gaussian", "noise"), ("--n", "2.5", "n"),
])
def test_bad_options_exit_with_the_library_message(tmp_path, capsys, command, option, value, name):
    with pytest.raises(SystemExit) as exc:
        main([command, option, value, "--out", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"{name} must be" in err
    assert not any(tmp_path.iterdir())


def test_no_arguments_run_the_default_simulation_into_labelnoise_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main([]) == 0
    out = tmp_path / "labelnoise_run"
    for name in ("summary.txt", "result.npz", "stages.png"):
        assert (out / name).exists(), name
    printed = capsys.readouterr().out
    assert "n=200 d=2000" in printed and "Stage II" in printed

