"""The stage figure draws without a display and offers its columns as documented."""

from pathlib import Path

import pytest

from labelnoise_sim import simulate
from labelnoise_sim.figures import save_figure, stage_figure, twin_without_noise


@pytest.fixture(scope="module")
def small_run():
    return simulate(n=30, d=300, m=4, steps=40, seed=1)


def test_twin_is_the_same_draw_without_flipped_labels(small_run):
    twin = twin_without_noise(small_run)
    assert twin.config.tau_pos == twin.config.tau_neg == 0.0
    assert twin.config.replace(tau_pos=0.2, tau_neg=0.2) == small_run.config
    assert not twin.data.is_noisy.any()
    assert (twin.data.y == small_run.data.y).all()


@pytest.mark.slow  # draws the figure three times (5 s)
def test_figure_has_one_column_per_run(small_run, tmp_path):
    with_twin = stage_figure(small_run)
    alone = stage_figure(small_run, twin=None)
    assert len(with_twin.subfigs) == 2 and len(alone.subfigs) == 1
    # (a) with its log-error twin axis, (b), and the two loss histograms of (c)
    assert len(alone.subfigs[0].axes) == 5
    paths = save_figure(alone, tmp_path / "fig")
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size for p in paths)
    save_figure(with_twin, tmp_path / "twin")


def test_run_without_noise_gets_no_twin(tmp_path):
    clean = simulate(n=20, d=200, m=4, steps=20, tau=0.0)
    fig = stage_figure(clean)
    assert len(fig.subfigs) == 1
    save_figure(fig, tmp_path / "clean")


def test_a_given_stage_analysis_is_drawn_not_computed_again(small_run, monkeypatch):
    """``labelnoise-sim run`` analyses its run once, for the summary and the figure."""
    from labelnoise_sim import figures
    from labelnoise_sim.analysis import analyze

    stages = analyze(small_run)

    def again(result, **kwargs):
        raise AssertionError("analyze() called again")

    monkeypatch.setattr(figures, "analyze", again)
    fig = stage_figure(small_run, twin=None, stages=stages)
    assert len(fig.subfigs) == 1
    with pytest.raises(AssertionError, match="again"):
        stage_figure(small_run, twin=None)


def test_bad_twin_is_named(small_run):
    # Checked before anything is drawn.
    with pytest.raises(ValueError, match="twin"):
        stage_figure(small_run, twin="yes")


def test_figure_command_reproduces_the_documented_figure_byte_for_byte(tmp_path, capsys):
    import matplotlib
    from PIL import Image

    from labelnoise_sim.cli import main

    documented = Path(__file__).resolve().parents[1] / "docs" / "figures" / "stages.png"
    # Other matplotlib versions may rasterise differently; the PNG names the version that drew it.
    drawn_with = Image.open(documented).info.get("Software", "")
    if f"version{matplotlib.__version__}," not in drawn_with:
        pytest.skip(f"docs/figures/stages.png was drawn by {drawn_with!r}, this is matplotlib {matplotlib.__version__}")
    assert main(["figure", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "stages.png").read_bytes() == documented.read_bytes()


def test_stage_marks_are_labelled_above_the_panel_where_no_curve_runs(small_run):
    fig = stage_figure(small_run, twin=None)
    fig.canvas.draw()
    panel = fig.subfigs[0].axes[0]
    labels = [text for text in panel.texts if text.get_text()]
    assert labels, "the stage marks of panel (a) carry no label"
    top = panel.get_window_extent().y1
    for text in labels:
        assert text.get_window_extent().y0 >= top - 0.5, f"{text.get_text()!r} is drawn inside the panel"


def test_step_zero_is_drawn_at_zero_on_the_step_axis(small_run):
    fig = stage_figure(small_run, twin=None)
    panel = fig.subfigs[0].axes[0]
    assert panel.get_xscale() == "symlog" and panel.get_xlim()[0] == 0.0
    assert small_run.t[0] == 0 and panel.lines[0].get_xdata()[0] == 0


def test_log_ticks_read_as_plain_numbers():
    import matplotlib.pyplot as plt

    from labelnoise_sim.figures import plain_log_ticks

    fig, ax = plt.subplots()
    ax.plot([12, 45], [1, 2])
    ax.set_xscale("log")
    plain_log_ticks(ax.xaxis)
    fig.canvas.draw()
    shown = [t.get_text() for t in ax.get_xticklabels(minor=True) + ax.get_xticklabels() if t.get_text()]
    plt.close(fig)
    assert shown and all("10^" not in s and "times" not in s and "×" not in s for s in shown), shown
    assert "20" in shown


@pytest.mark.parametrize("colour, text", [((0.993, 0.906, 0.144), "black"),  # viridis' yellow end
                                          ((0.267, 0.005, 0.329), "white"),  # viridis' purple end
                                          ((1.0, 1.0, 1.0), "black"), ((0.0, 0.0, 0.0), "white")])
def test_cell_text_takes_the_colour_that_reads_on_its_cell(colour, text):
    from labelnoise_sim.figures import text_color_on

    assert text_color_on(colour) == text


def test_a_figure_that_cannot_be_written_leaves_no_file_behind(small_run, tmp_path, monkeypatch):
    import errno

    from matplotlib.figure import Figure

    def full_disk(self, fname, *args, **kwargs):
        with open(fname, "wb") as fh:
            fh.write(b"half a PNG")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", full_disk)
    with pytest.raises(OSError):
        save_figure(stage_figure(small_run, twin=None), tmp_path / "stages")
    assert list(tmp_path.iterdir()) == []
