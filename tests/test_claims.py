"""The claims as measured laws (labelnoise_sim.claims, ``labelnoise-sim claims``).

The thresholds of the property tests come from the full run committed in docs/claims/ (see
docs/claims.md, "Thresholds of the tests"): each is the measured value with a margin for the
quick design's single seed and fewer levels.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from labelnoise_sim import SimulationConfig, claims
from labelnoise_sim.papers import markdown_table
from labelnoise_sim.sweep import expand_grid

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _synthetic_t1(exponents, constant=0.7, noise=0.03, seed=0):
    """t1 = constant · n^a · m^b · ... with log-normal noise, over a one-factor-at-a-time design."""
    rng = np.random.default_rng(seed)
    base = dict(n=100, m=5, eta=0.01, sigma_xi=1.0, d=1000)
    rows = [dict(base)]
    for name in claims.T1_FACTORS:
        for level in (0.5, 0.7, 1.4, 2.0):
            rows += [{**base, name: base[name] * level}] * 2
    factors = {k: np.array([r[k] for r in rows]) for k in claims.T1_FACTORS}
    log_t1 = math.log(constant) + sum(a * np.log(factors[k]) for k, a in zip(claims.T1_FACTORS, exponents))
    return factors, np.exp(log_t1 + noise * rng.standard_normal(len(rows)))


def test_the_power_law_fit_recovers_known_exponents_within_its_intervals():
    factors, t1 = _synthetic_t1(claims.THEORY_T1)
    fit = claims.fit_power_law(factors, t1)
    assert np.all(fit.low <= claims.THEORY_T1) and np.all(np.array(claims.THEORY_T1) <= fit.high)
    assert np.allclose(fit.coef, claims.THEORY_T1, atol=0.1)
    assert fit.intercept_low <= math.log(0.7) <= fit.intercept_high
    assert fit.r2 > 0.99 and fit.masked == 0


def test_the_power_law_fit_tells_wrong_exponents_apart():
    factors, t1 = _synthetic_t1((1.5, 1.0, -1.0, -2.0, -0.5))
    fit = claims.fit_power_law(factors, t1)
    assert not fit.low[0] <= 1.0 <= fit.high[0]  # n's exponent 1.5 is not 1
    assert fit.low[4] <= -0.5 <= fit.high[4]


def test_a_line_fit_masks_zero_errors_and_counts_them():
    x = np.arange(1.0, 9.0)
    err = np.exp(-0.5 - x / 2.0)
    err[-2:] = 0.0  # what a Monte Carlo estimate reads far in the tail
    with np.errstate(divide="ignore"):
        fit = claims.fit_line(x, np.log(err))
    assert fit.used == 6 and fit.masked == 2
    assert fit.coef[0] == pytest.approx(-0.5) and fit.intercept == pytest.approx(-0.5) and fit.r2 == pytest.approx(1)


def test_weights_leave_an_exact_line_exact_and_zero_weights_out():
    x = np.arange(6.0)
    y = 2.0 - 3.0 * x
    y[0] = 100.0
    fit = claims.fit_line(x, y, weights=[0, 1, 2, 3, 4, 5])
    assert fit.used == 5 and fit.coef[0] == pytest.approx(-3.0)


def test_a_fit_with_too_few_points_names_them():
    with pytest.raises(ValueError, match=r"at least 3 finite points; got 2 \(1 masked\)"):
        claims.fit_line([1.0, 2.0, 3.0], [0.0, 1.0, np.nan])
    with pytest.raises(ValueError, match=r"x must have shape"):
        claims.fit_line(np.ones((3, 2, 1)), [1.0, 2.0, 3.0])


@pytest.mark.parametrize("quick", [True, False])
def test_the_design_is_valid_and_keeps_each_part_where_its_law_is_measured(quick):
    cells = claims.design(quick)
    names = tuple(cells[0][1])
    expand_grid({"+".join(names): [tuple(c[k] for k in names) for _, c in cells]}, claims.FIXED)
    parts = [part for part, _ in cells]
    assert set(parts) == {"t1", "boundary", "early", "clean", "stage2", "stage2_extra"}
    assert len({tuple(sorted(c.items())) for _, c in cells}) == len(cells)  # no cell twice
    for part, cell in cells:
        if part == "t1":
            assert (cell["tau"], cell["n_snr2"]) == (claims.BASE["tau"], claims.BASE["n_snr2"])
            assert 100 <= claims._theory_t1(cell) <= 500  # hundreds of steps
        if part == "early":
            assert (cell["tau"], cell["n_snr2"]) == (claims.BASE["tau"], claims.EARLY_N_SNR2)
        if part in ("clean", "stage2"):
            assert (cell["tau"] == 0) == (part == "clean")
    # n varies at each fixed d/n of the early-stopping part
    early = {(c["d"] / c["n"], c["n"]) for part, c in cells if part == "early"}
    assert all(len({n for r, n in early if r == ratio}) >= 2 for ratio, _ in early)
    # the boundary's levels straddle the rule's constant
    xs = {round(c["n_snr2"] * (1 - 2 * c["tau"]), 9) for part, c in cells if part == "boundary"}
    assert min(xs) < claims.BOUNDARY_RULE < max(xs)
    assert len(cells) < (100 if quick else 700)


def _cells_frame():
    """The quick design with synthetic measurements that follow known laws: T₁ = 0.8 × its scale, a Stage I
    boundary at n·SNR²·(1 − 2τ) = 2 for every τ, an early-stopping error exp(−1 − (d/n)/2)/n, an error without
    label noise exp(−1 − x/10), a converged error 0.07 (above 0.5τ at τ = 0.1, below it at τ = 0.3) and a
    precision of 1; the extra Stage II part outside the assumptions."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(1)
    rows = []
    for part, cell in claims.design(quick=True):
        t1 = 0.8 * claims._theory_t1(cell) * math.exp(0.02 * rng.standard_normal())
        ratio = cell["d"] / cell["n"]
        x = cell["n_snr2"] ** 2 * ratio
        boundary_x = cell["n_snr2"] * (1 - 2 * cell["tau"])
        err = {"early": math.exp(-1 - ratio / 2) / cell["n"], "clean": math.exp(-1 - x / 10)}.get(part, 0.07)
        rows.append({"part": part, **cell, "regime": "large dimension 0.02 (needs >= 1)" if part == "stage2_extra"
                     else "inside", "t1": 1, "t1_margin": t1, "t1_scale": claims._theory_t1(cell), "d_over_n": ratio,
                     "clean_x": x, "boundary_x": boundary_x, "t2": 10.0, "noisy_count": 4,
                     "noisy_true_share_T1": 1 / (1 + (2 / boundary_x) ** 4), "test_error_T1": err, "kept_T1": 10,
                     "kept_clean_T1": 10, "best_step": 5, "best_test_error": err, "final_test_error": err,
                     "final_test_error_noisy": cell["tau"] + (1 - 2 * cell["tau"]) * err})
    return pd.DataFrame(rows)


def test_claim_rows_decide_synthetic_laws_and_mark_quick_runs():
    rows = claims.claim_rows(_cells_frame(), quick=True)
    assert [row[3] for row in rows] == [f"{word} (quick)" for word in (
        "confirmed", "confirmed", "confirmed", "confirmed", "not confirmed", "outside assumptions", "confirmed")]
    assert "C′ = 2" in rows[2][2] and "C = 10" in rows[3][2]
    assert "c = 2 [" in rows[1][2]  # the boundary's constant, for each τ
    assert rows[5][6].startswith("large dimension")  # the regime column names the broken assumption
    for row in rows:
        assert row[4] >= 2 and row[5], row  # seeds and uncertainty, every row
    table = markdown_table(claims.COLUMNS, rows)
    assert table.count("\n") == len(rows) + 1 and "partly" not in table


def test_a_boundary_never_crossed_lies_beyond_the_range():
    assert claims.crossing([1.0, 2.0, 4.0], [0.1, 0.2, 0.3]) == math.inf
    assert claims.crossing([1.0, 2.0, 4.0], [0.6, 0.7, 0.9]) == 0.0
    assert claims.crossing([1.0, 4.0], [0.0, 1.0]) == pytest.approx(2.0)  # halfway in log x
    assert math.isnan(claims.crossing([1.0, 2.0], [0.1, np.nan]))


def test_the_intervals_cover_what_they_should():
    low, high = claims.wilson_interval(10, 10)
    assert high == 1.0 and low == pytest.approx(10 / (10 + 1.959964**2), rel=1e-4)
    assert all(math.isnan(v) for v in claims.wilson_interval(0, 0))
    low, high = claims.bootstrap_interval([1.0, 2.0, 3.0, 4.0])
    assert 1.0 <= low < 2.5 < high <= 4.0
    assert claims.bootstrap_interval([0.5, 0.5]) == (0.5, 0.5)
    assert all(math.isnan(v) for v in claims.bootstrap_interval([0.5]))  # one seed decides nothing


def test_a_set_of_intervals_is_decided_against_a_band_by_the_worst_of_them():
    band = (1.0, 4.0)
    assert claims.outside_band([(2.0, 3.0), (1.0, 4.0)], band) == (0.0, 0.0)  # all within: confirmed
    low, high = claims.outside_band([(2.0, 3.0), (3.0, math.inf)], band)
    assert low == 0.0 and high == math.inf  # one straddles the band's end: inconclusive
    low, high = claims.outside_band([(2.0, 3.0), (3.0, 5.0), (5.5, math.inf)], band)
    assert low == pytest.approx(1.5)  # one wholly beyond it: not confirmed, whatever the others
    assert math.isnan(claims.outside_band([(2.0, math.nan)], band)[0])


@pytest.mark.parametrize("quick", [True, False])
def test_every_part_but_the_extra_lies_inside_the_papers_assumptions(quick):
    """The design's cells, measured against han2025's assumptions of the claim each part is judged under."""
    for part, cell in claims.design(quick):
        config = SimulationConfig.from_params(**claims.FIXED, **cell)
        regime = claims._regime(part, config)
        assert (regime == "inside") == (part != "stage2_extra"), (part, cell, regime)


def test_the_docs_page_shows_the_table_and_figures_the_command_wrote():
    """docs/claims.md includes docs/claims/claims_table.md, which the rows judged from the committed per-cell
    table reproduce exactly; every committed figure is shown, and the page names its command."""
    pytest.importorskip("pandas")
    page = (DOCS / "claims.md").read_text()
    folder = DOCS / "claims"
    assert "{include} claims/claims_table.md" in page
    assert "labelnoise-sim claims --out docs/claims" in page
    rows = claims.claim_rows(claims.read_cells(folder / "claims_cells.csv"))
    table = markdown_table(claims.COLUMNS, rows) + "\n"
    assert (folder / "claims_table.md").read_text() == table
    assert table in (folder / "claims.md").read_text()
    images = sorted(folder.glob("*.png"))
    assert images
    for image in images:
        assert f"(claims/{image.name})" in page, f"{image.name} is not shown on docs/claims.md"
    for linked in re.findall(r"\(claims/([^)]+\.png)\)", page):
        assert (folder / linked).exists(), linked


@pytest.mark.slow
def test_the_quick_claims_run_holds_its_laws_and_resumes(tmp_path):
    pytest.importorskip("pandas")
    from labelnoise_sim.cli import main

    assert main(["claims", "--quick", "--out", str(tmp_path)]) == 0
    for name in ("claims.md", "claims_table.md", "claims_cells.csv", "claims_t1.png", "claims_boundary.png",
                 "claims_early_stopping.png", "claims_no_label_noise.png", "claims_stage2.png",
                 "claims_selection.png"):
        assert (tmp_path / name).exists(), name
    cells = claims.read_cells(tmp_path / "claims_cells.csv")
    t1 = cells[cells.part == "t1"]
    fit = claims.fit_power_law({k: t1[k] for k in claims.T1_FACTORS}, t1.t1_margin)
    # Thresholds from the full run (docs/claims.md): every exponent within 0.5 of theory, R² > 0.8.
    assert np.all(np.abs(fit.coef - np.array(claims.THEORY_T1)) <= 0.5), fit.coef
    assert fit.r2 > 0.8
    # No label noise: the log error falls with n‖μ‖⁴/(σ_ξ⁴ d).
    clean = cells[cells.part == "clean"]
    with np.errstate(divide="ignore"):
        slope = claims.fit_line(clean.clean_x, np.log(clean.final_test_error)).coef[0]
    assert slope < -0.02
    # Early stopping: the median error at T₁ falls with d/n at every n.
    early = cells[cells.part == "early"].groupby(["n", "d_over_n"]).test_error_T1.median().unstack()
    assert (early.diff(axis=1).iloc[:, 1:] < 0).all().all(), early
    # The log 2 rule at T₁ where Stage I is clear (the T₁ part): at least 0.75 of the kept samples clean in
    # every run (full run: 0.8 at worst).
    assert (t1.kept_clean_T1 / t1.kept_T1).min() >= 0.75
    table = (tmp_path / "claims_table.md").read_text()
    quick = [row.split(" | ")[3] for row in table.splitlines()[2:]]
    assert all(word.endswith(" (quick)") for word in quick)
    # The quick design never contradicts the full run: where one confirms, the other does not say the opposite.
    full = [row.split(" | ")[3] for row in (DOCS / "claims" / "claims_table.md").read_text().splitlines()[2:]]
    for q, f in zip(quick, full, strict=True):
        assert {q.removesuffix(" (quick)"), f} != {"confirmed", "not confirmed"}, (q, f)
    # A second run resumes from the store and judges the same.
    assert main(["claims", "--quick", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "claims_table.md").read_text() == table


def test_zero_errors_become_minus_infinity_for_the_fits_to_mask():
    pd = pytest.importorskip("pandas")
    err, log_err = claims._log_error(pd.DataFrame({"e": [0.1, 0.0]}), "e")
    assert log_err[0] == pytest.approx(np.log(0.1)) and log_err[1] == -np.inf
    assert claims.fit_line(np.array([0.0, 1, 2, 3]), np.r_[log_err[:1], log_err[:1] - 1, -np.inf, -3]).masked == 1


def test_the_committed_cells_are_what_the_simulator_gives_today():
    """A few rows of docs/claims/claims_cells.csv, recomputed: a kernel change that moves them must come with a
    rerun of ``labelnoise-sim claims --out docs/claims``."""
    pytest.importorskip("pandas")
    from labelnoise_sim.sweep import run_cells

    committed = claims.read_cells(DOCS / "claims" / "claims_cells.csv")
    cells = claims.design(quick=False)
    assert len(committed) == len(cells)
    first = {}
    for index, (part, _) in enumerate(cells):
        first.setdefault(part, index)
    indices = [first["t1"], first["early"], first["clean"]]
    configs = [SimulationConfig.from_params(**claims.FIXED, **cells[i][1]) for i in indices]
    outcomes = run_cells(configs, trajectories=True)
    for index, outcome in zip(indices, outcomes):
        row = committed.iloc[index]
        assert row.part == cells[index][0]
        metrics = {**outcome["metrics"], **claims.at_t1(outcome["result"])}
        for name in ("t1", "best_step", "best_test_error", "final_test_error", "t1_margin", "test_error_T1",
                     "kept_T1", "kept_clean_T1"):
            assert row[name] == metrics[name], f"cell {index} {name}: {row[name]!r}, now {metrics[name]!r}"
