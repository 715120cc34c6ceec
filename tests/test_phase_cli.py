"""labelnoise-sim sweep / phase, and the phase-diagram helpers."""

import numpy as np
import pandas as pd
import pytest

from labelnoise_sim import sweep
from labelnoise_sim.cli.sweep import parse_values
from labelnoise_sim.cli import main
from labelnoise_sim.phase import kou_boundary, phase_maps, phase_table

SMALL = dict(n=30, d=300, m=3, steps=100, record=10)


def test_grid_values_parse_as_lists_and_ranges():
    assert parse_values("0,0.1,0.2") == [0, 0.1, 0.2]
    assert parse_values("orthogonal,isotropic") == ["orthogonal", "isotropic"]
    assert parse_values("range:0:4") == [0, 1, 2, 3]
    assert parse_values("lin:0:0.4:5") == [0.0, 0.1, 0.2, 0.3, 0.4]
    assert parse_values("geom:1:100:3") == [1.0, 10.0, 100.0]
    for bad in ("geom:0:1:3", "lin:0:1", "range:0:1.5", ""):
        with pytest.raises(ValueError):
            parse_values(bad)


def test_sweep_command_writes_the_table_of_sweep(tmp_path, capsys):
    config = tmp_path / "grid.toml"
    config.write_text('[grid]\ntau = [0.0, 0.2]\n\n[fixed]\nn = 30\nd = 300\nm = 3\nsteps = 100\n'
                      '\n[sweep]\nbackend = "serial"\n')
    out = tmp_path / "table.csv"
    code = main(["sweep", "--config", str(config), "--grid", "seed=0,1", "--record", "10", "--out", str(out),
                 "--no-progress"])
    assert code == 0 and "4 cells" in capsys.readouterr().out
    written = pd.read_csv(out, index_col="cell")
    expected = sweep({"tau": [0.0, 0.2], "seed": [0, 1]}, SMALL, backend="serial", progress=False).table
    assert list(written.columns) == list(expected.columns)
    for column in ("tau", "seed", "t1", "t2", "final_test_error", "select_f1_t1"):
        np.testing.assert_allclose(written[column].astype(float), expected[column].astype(float), rtol=1e-15)


def test_sweep_command_accepts_zipped_parameters(tmp_path):
    out = tmp_path / "zip.csv"
    assert main(["sweep", "--grid", "d+eta=200/0.4,800/0.1", "--n", "30", "--m", "3", "--steps", "60",
                 "--record", "10", "--backend", "serial", "--out", str(out)]) == 0
    table = pd.read_csv(out, index_col="cell")
    assert table[["d", "eta"]].values.tolist() == [[200, 0.4], [800, 0.1]]


def test_sweep_command_reports_bad_input_as_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["sweep", "--grid", "tau", "--out", str(tmp_path / "t.csv")])
    assert info.value.code == 2 and "NAME=VALUES" in capsys.readouterr().err


@pytest.fixture(scope="module")
def dn_table():
    res = sweep({"d": [60, 240], "n_snr2": [0.5, 4.0], "seed": [0, 1]},
                dict(n=30, m=3, steps=100, record=10, sampling="gram"), backend="serial", progress=False)
    return res.table


def test_phase_table_averages_over_seeds_and_derives_d_over_n(dn_table):
    means = phase_table(dn_table, "d_over_n", "n_snr2")
    assert len(means) == 4
    rows = dn_table[(dn_table["d"] == 240) & (dn_table["n_snr2"] == 4.0)]
    assert means.loc[(4.0, 8.0), "final_test_error"] == pytest.approx(rows["final_test_error"].mean())
    with pytest.raises(ValueError, match="axis 'width'"):
        phase_table(dn_table, "width", "n_snr2")


def test_kou_boundary_is_where_n_mu4_equals_sigma4_d():
    n, d, sigma = 100, 1600, 1.3
    n_snr2 = kou_boundary(d / n)
    mu_sq = n_snr2 * sigma**2 * d / n
    assert n * mu_sq**2 == pytest.approx(sigma**4 * d)


def test_phase_command_draws_the_maps(tmp_path, dn_table):
    csv = tmp_path / "dn.csv"
    dn_table.to_csv(csv, index_label="cell")
    out = tmp_path / "phase.png"
    assert main(["phase", str(csv), "--x", "d_over_n", "--y", "n_snr2", "--out", str(out)]) == 0
    assert out.stat().st_size > 10_000
    fig = phase_maps(dn_table, "d_over_n", "n_snr2")
    assert len([ax for ax in fig.axes if ax.get_visible() and ax.get_title()]) == 5
    assert any(line.get_label().startswith("Kou") for ax in fig.axes for line in ax.get_lines())
