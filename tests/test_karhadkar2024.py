"""The karhadkar2024 entry: its stopping rule (the first step of zero training error), the authors' released data
and how the entry compares with them, its assumptions, and its quick run (slow)."""

import math

import numpy as np
import pytest

from labelnoise_sim import SimulationConfig, simulate
from labelnoise_sim.papers import karhadkar2024 as entry
from labelnoise_sim.papers._base import Context

pd = pytest.importorskip("pandas")

SMALL = dict(n=20, m=4, tau=0.1, flips="bernoulli", eta=1 / 8, layout="additive", noise="orthogonal",
             activation="leaky_relu(0.1)", loss="hinge", output_scale="sum")


def test_first_fit_finds_the_first_step_of_zero_training_error_and_its_test_error(tmp_path):
    context = Context("k", tmp_path, progress=False, assumptions=entry.ASSUMPTIONS)
    grid = {("d", "mu_norm", "sigma_xi", "sigma0"): [tuple(entry._data(20, d, 0.1).values())[1:] for d in (20, 60)],
            "seed": [0, 1]}
    steps, every = 400, 50
    table = entry.first_fit(context, "small", grid, SMALL, steps=steps, every=every, claims=(0, 1, 2))
    assert len(table) == 4
    for row in table.itertuples():
        config = dict(SMALL, d=row.d, mu_norm=row.mu_norm, sigma_xi=row.sigma_xi, sigma0=row.sigma0, seed=row.seed)
        # Every step recorded: the authors' loop, which checks the training error after each step.
        full = simulate(**config, steps=steps, record=1)
        fitted = full.fitted.all(axis=1)
        assert fitted.any(), "the small case must reach zero training error for the test to mean something"
        first = int(np.argmax(fitted))
        # Once 0, the training error stays 0 here: what lets pass 2 look in pass 1's last interval only.
        assert fitted[first:].all()
        assert row.t2 == full.t[first]
        assert row.error_first_fit == pytest.approx(full.test_error_at(np.array([first]))[0], rel=1e-12)
        assert row.error_end == pytest.approx(full.test_error_at(np.array([len(full.t) - 1]))[0], rel=1e-12)
        assert row.zero_loss == bool(full.train_loss[-1] == 0.0)
    # Both d/n = 1 and 3 are inside the moderate-dimension reading d/n >= 1, the only condition of claims 0-2.
    assert table.inside.all()
    # Run again: every pass resumes from its store, and the table is the same.
    again = entry.first_fit(context, "small", grid, SMALL, steps=steps, every=every, claims=(0, 1, 2))
    pd.testing.assert_frame_equal(table, again)
    # Under every claim's assumptions γ = 0.1 is far from Theorem 3.4's weak signal.
    assert not entry.first_fit(context, "small", grid, SMALL, steps=steps, every=every).inside.any()


def test_first_fit_reports_a_run_that_never_fits_as_nan(tmp_path):
    context = Context("k", tmp_path, progress=False)
    grid = {("d", "mu_norm", "sigma_xi", "sigma0"): [tuple(entry._data(20, 40, 0.1).values())[1:]], "seed": [0]}
    table = entry.first_fit(context, "short", grid, {**SMALL, "eta": 1e-6}, steps=2, every=1)
    assert math.isnan(table.t2[0]) and math.isnan(table.error_first_fit[0]) and not math.isnan(table.error_end[0])


def test_first_fit_refuses_a_record_interval_below_one_before_running(tmp_path):
    context = Context("k", tmp_path, progress=False)
    grid = {("d", "mu_norm", "sigma_xi", "sigma0"): [tuple(entry._data(20, 40, 0.1).values())[1:]], "seed": [0]}
    with pytest.raises(ValueError, match="every must be an integer >= 1; got 0"):
        entry.first_fit(context, "bad", grid, SMALL, steps=10, every=0)
    assert not (tmp_path / "store").exists()


def test_the_authors_heatmap_data_parse_as_their_notebook_grid():
    authors = entry.load_authors()
    assert len(authors) == len(entry.AUTHORS_N) * len(entry.RATIOS)
    assert sorted(authors.n.unique()) == list(entry.AUTHORS_N)
    assert sorted(authors.ratio.unique()) == list(entry.RATIOS)
    # Means of 5 runs on 1000 test points each: multiples of 1/5000, between 0 and chance.
    assert ((authors.error >= 0) & (authors.error <= 0.5)).all()
    assert np.allclose(authors.error * 5000, np.round(authors.error * 5000), atol=1e-3)
    source = (entry.AUTHORS_DATA.parent / "authors_d_over_n_heatmap.source.txt").read_text()
    assert "github.com/kedar2/benign_overfitting" in source and "d_over_n_heatmap.csv" in source


def test_a_wrong_data_file_is_refused_naming_its_columns(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(",n,ratio,err\n0,50,1,0.1\n")
    with pytest.raises(ValueError, match=r"must have the columns \['n', 'd/n', 'generalization_error'\]"):
        entry.load_authors(path)
    with pytest.raises(FileNotFoundError, match="missing: it is kept in the repository's docs/papers/karhadkar2024/"):
        entry.load_authors(tmp_path / "absent.csv")


def test_the_comparison_scores_a_variant_by_its_distance_from_the_authors():
    authors = pd.DataFrame({"n": [50, 50], "ratio": [1, 2], "error": [0.06, 0.03]})
    seeds = np.arange(5)
    ours = pd.DataFrame({"n": 50, "d": np.repeat([50, 100], 5), "seed": np.tile(seeds, 2),
                         # First fit: spread around the authors' values; end: far above them.
                         "error_first_fit": np.concatenate([0.06 + 0.01 * (seeds - 2), 0.03 + 0.01 * (seeds - 2)]),
                         "error_end": np.concatenate([0.16 + 0.01 * (seeds - 2), 0.13 + 0.01 * (seeds - 2)])})
    cells, fit = entry.compare_authors(ours, authors)
    assert list(cells["d/n"]) == [1.0, 2.0]
    assert cells.z_error_first_fit.abs().max() < 1e-9
    # The end variant is 0.1 above: z = -0.1 / sqrt(2 s²/5 + p(1-p)/5000), s = 0.0158.
    s = np.std(0.01 * (seeds - 2), ddof=1)
    assert cells.z_error_end[0] == pytest.approx(-0.1 / math.sqrt(2 * s**2 / 5 + 0.16 * 0.84 / 5000))
    first, end = fit.set_index("variant")["χ² per cell"]
    assert first < 1e-12 < end
    assert list(fit["share with |z| ≤ 2"]) == [1.0, 0.0]
    assert list(fit["cells with ours above theirs"]) == [0, 2]
    assert list(fit["matches"]) == [True, False]


def test_the_assumptions_read_the_paper_conditions_as_declared():
    def config(n, d, gamma):
        return SimulationConfig.from_params(**{**SMALL, **entry._data(n, d, gamma)}, steps=1)

    names = {a.name: a for a in entry.ASSUMPTIONS}
    assert names["moderate dimension"].check(config(50, 50, 0.1)).holds
    assert not names["moderate dimension"].check(config(50, 49, 0.1)).holds
    # γ ≤ α³/d: 2.5e-6 at d = 400, α = 0.1, the reviewer's number.
    weak = names["weak signal"]
    assert weak.check(config(200, 400, 2.4e-6)).holds and not weak.check(config(200, 400, 2.6e-6)).holds
    assert weak.claims == (3,)
    assert not weak.check(SimulationConfig.from_params(**{**SMALL, "activation": "relu", **entry._data(20, 40, 1e-9)},
                                                       steps=1)).holds


@pytest.mark.slow
def test_the_quick_run_marks_its_verdicts_quick_and_compares_with_the_authors(tmp_path):
    from labelnoise_sim import papers

    outcome = papers.reproduce("karhadkar2024", tmp_path, quick=True, progress=False)
    assert all(v.quick for v in outcome.verdicts)
    assert all(v.label.endswith("(quick)") for v in outcome.verdicts)
    assert {v.verdict for v in outcome.verdicts} <= set(papers.VERDICTS)
    fit = pd.read_csv(tmp_path / "karhadkar2024_fit.csv")
    assert len(fit) == 2 and fit["matches"].dtype == bool
    cells = pd.read_csv(tmp_path / "karhadkar2024_authors.csv")
    assert set(cells.n) == {50} and len(cells) == 4


def test_the_fall_rate_is_minus_the_least_squares_slope_with_its_t_interval():
    x = np.repeat(np.arange(1.0, 6.0), 3)
    noise = np.tile([-0.01, 0.0, 0.01], 5)
    rate, half = entry._fall_rate(x, 0.5 - 0.02 * x + noise)
    assert rate == pytest.approx(0.02)
    # The noise is the same at every x: it shifts no slope, but widens the interval.
    assert 0 < half < 0.01
    assert all(math.isnan(v) for v in entry._fall_rate([1.0, 2.0], [0.1, 0.0]))
