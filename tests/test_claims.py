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
def test_the_design_is_valid_and_keeps_the_t1_cells_where_stage_one_exists(quick):
    cells = claims.design(quick)
    names = tuple(cells[0][1])
    expand_grid({"+".join(names): [tuple(c[k] for k in names) for _, c in cells]}, claims.FIXED)
    parts = [part for part, _ in cells]
    assert set(parts) == {"t1", "early", "clean", "stage2"}
    assert len({tuple(sorted(c.items())) for _, c in cells}) == len(cells)  # no cell twice
    for part, cell in cells:
        if part == "t1":
            assert (cell["tau"], cell["n_snr2"]) == (claims.BASE["tau"], claims.BASE["n_snr2"])
            assert 10 <= claims._theory_t1(cell) <= 200  # tens to hundreds of steps
        if part == "early":
            assert (cell["tau"], cell["n_snr2"]) == (claims.BASE["tau"], claims.EARLY_N_SNR2)
        if part == "clean":
            assert cell["tau"] == 0
    assert len(cells) < (30 if quick else 300)


def _cells_frame():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(1)
    rows = []
    for part, cell in claims.design(quick=True):
        t1 = 0.8 * claims._theory_t1(cell) * math.exp(0.02 * rng.standard_normal())
        ratio = cell["d"] / cell["n"]
        x = cell["n_snr2"] ** 2 * ratio
        err = math.exp(-1 - ratio / 2) if part == "early" else (math.exp(-1 - x / 10) if part == "clean" else 0.07)
        rows.append({"part": part, **cell, "t1": 1, "t1_margin": t1, "t1_scale": claims._theory_t1(cell),
                     "d_over_n": ratio, "clean_x": x, "t2": 10.0, "best_test_error": err, "final_test_error": err,
                     "final_test_error_noisy": cell["tau"] + (1 - 2 * cell["tau"]) * err,
                     "select_precision_t1": 1.0, "select_recall_t1": 1.0})
    return pd.DataFrame(rows)


def test_claim_rows_judge_synthetic_laws():
    rows = claims.claim_rows(_cells_frame())
    assert [row[3] for row in rows] == ["confirmed", "confirmed", "confirmed", "partly", "confirmed"]
    assert "C′ = 2" in rows[1][2] and "C = 10" in rows[2][2]
    table = markdown_table(("claim", "theory", "measured", "verdict", "region"), rows)
    assert table.count("\n") == 6


def test_the_docs_page_shows_the_table_and_figures_the_command_wrote():
    """docs/claims.md includes docs/claims/claims_table.md, which the rows judged from the committed per-cell
    table reproduce exactly; every committed figure is shown, and the page names its command."""
    pd = pytest.importorskip("pandas")
    page = (DOCS / "claims.md").read_text()
    folder = DOCS / "claims"
    assert "{include} claims/claims_table.md" in page
    assert "labelnoise-sim claims --out docs/claims" in page
    rows = claims.claim_rows(pd.read_csv(folder / "claims_cells.csv"))
    table = markdown_table(("claim", "theory", "measured", "verdict", "region"), rows) + "\n"
    assert (folder / "claims_table.md").read_text() == table
    assert table in (folder / "claims.md").read_text()
    images = sorted(folder.glob("*.png"))
    assert images
    for image in images:
        assert f"(claims/{image.name})" in page, f"{image.name} is not shown on docs/claims.md"
    for linked in re.findall(r"\(claims/([^)]+\.png)\)", page):
        assert (folder / linked).exists(), linked


def test_the_quick_claims_run_holds_its_laws_and_resumes(tmp_path):
    pytest.importorskip("pandas")
    from labelnoise_sim.cli import main

    assert main(["claims", "--quick", "--out", str(tmp_path)]) == 0
    for name in ("claims.md", "claims_table.md", "claims_cells.csv", "claims_t1.png", "claims_early_stopping.png",
                 "claims_no_label_noise.png", "claims_stage2.png", "claims_selection.png"):
        assert (tmp_path / name).exists(), name
    pd = pytest.importorskip("pandas")
    cells = pd.read_csv(tmp_path / "claims_cells.csv")
    t1 = cells[cells.part == "t1"]
    fit = claims.fit_power_law({k: t1[k] for k in claims.T1_FACTORS}, t1.t1_margin)
    # Thresholds from the full run (docs/claims.md): every exponent within 0.5 of theory, R² > 0.95.
    assert np.all(np.abs(fit.coef - np.array(claims.THEORY_T1)) <= 0.5), fit.coef
    assert fit.r2 > 0.95
    # Early stopping and no label noise: the log error falls with d/n and with n‖μ‖⁴/(σ_ξ⁴ d).
    early = cells[cells.part == "early"]
    with np.errstate(divide="ignore"):
        slope = claims.fit_line(early.d_over_n, np.log(early.best_test_error)).coef[0]
    assert slope < -0.3
    clean = cells[cells.part == "clean"]
    with np.errstate(divide="ignore"):
        slope = claims.fit_line(clean.clean_x, np.log(clean.final_test_error)).coef[0]
    assert slope < -0.02
    # The log 2 rule at t1: recall 1, precision at least 0.9 in every run.
    selected = cells[cells.part.isin(["t1", "early", "stage2"])]
    assert selected.select_recall_t1.min() >= 0.99 and selected.select_precision_t1.min() >= 0.9
    # A second run resumes from the store and judges the same.
    before = (tmp_path / "claims_table.md").read_text()
    assert main(["claims", "--quick", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "claims_table.md").read_text() == before


def test_zero_errors_become_minus_infinity_for_the_fits_to_mask():
    pd = pytest.importorskip("pandas")
    err, log_err = claims._log_error(pd.DataFrame({"e": [0.1, 0.0]}), "e")
    assert log_err[0] == pytest.approx(np.log(0.1)) and log_err[1] == -np.inf
    assert claims.fit_line(np.array([0.0, 1, 2, 3]), np.r_[log_err[:1], log_err[:1] - 1, -np.inf, -3]).masked == 1


def test_the_committed_cells_are_what_the_simulator_gives_today():
    """A few rows of docs/claims/claims_cells.csv, recomputed: a kernel change that moves them must come with a
    rerun of ``labelnoise-sim claims --out docs/claims``."""
    pd = pytest.importorskip("pandas")
    from labelnoise_sim.sweep import run_cells

    committed = pd.read_csv(DOCS / "claims" / "claims_cells.csv")
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
        metrics = outcome["metrics"]
        for name in ("t1", "best_step", "best_test_error", "final_test_error", "select_precision_t1"):
            assert row[name] == metrics[name], f"cell {index} {name}: {row[name]!r}, now {metrics[name]!r}"
        if row.part in ("t1", "early"):
            assert row.t1_margin == claims._t1_margin(outcome["result"])
