"""Assumptions as code: a run's regime, and verdicts that say whether they were measured inside it."""

import math

import pytest

from labelnoise_sim import SimulationConfig
from labelnoise_sim.cli import main
from labelnoise_sim.papers import Assumption, Paper, Setting, Verdict
from labelnoise_sim.papers._base import Context, regime_label, regime_rows

LARGE_D = Assumption("large dimension", "d ≳ n²", "Condition 1", lambda c: c.d / c.n**2, 1.0,
                     reading="ratio ≥ 1")
SMALL_STEP = Assumption("small step", "η ≤ 1/(σ_ξ² d)", "Condition 2", lambda c: c.eta * c.sigma_xi**2 * c.d,
                        1.0, kind="<=", claims=(1,))


def test_an_assumption_holds_exactly_on_its_side_of_the_bound():
    assert LARGE_D.check(SimulationConfig(n=10, d=100)).holds  # d / n² = 1: on the bound
    assert not LARGE_D.check(SimulationConfig(n=10, d=99)).holds
    row = SMALL_STEP.check(SimulationConfig(d=100, eta=0.02, sigma_xi=1.0))
    assert (row.value, row.holds) == (pytest.approx(2.0), False)
    assert SMALL_STEP.check(SimulationConfig(d=100, eta=0.01, sigma_xi=1.0)).holds


def test_a_nan_value_never_holds():
    nan = Assumption("undefined", "-", "-", lambda c: math.nan, 0.0)
    assert not nan.check(SimulationConfig()).holds


def test_an_assumption_applies_to_the_claims_it_names():
    config = SimulationConfig(n=10, d=99, eta=1.0)
    assert [row.name for row in regime_rows((LARGE_D, SMALL_STEP), config, claim=0)] == ["large dimension"]
    assert [row.name for row in regime_rows((LARGE_D, SMALL_STEP), config, claim=1)] == ["large dimension",
                                                                                        "small step"]
    label = regime_label(regime_rows((LARGE_D, SMALL_STEP), config))
    assert label == "large dimension 0.99 (needs >= 1); small step 99 (needs <= 1)"
    assert regime_label(regime_rows((LARGE_D,), SimulationConfig(n=10, d=1000))) == "inside"


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind must be '>=' or '<='; got '>'"):
        Assumption("x", "x", "x", lambda c: 0.0, 0.0, kind=">")


@pytest.mark.parametrize("interval, verdict", [
    ((0.26, 0.30), "confirmed"),
    ((0.10, 0.20), "not confirmed"),
    ((0.45, 0.50), "not confirmed"),
    ((0.20, 0.30), "inconclusive"),
    ((0.30, 0.50), "inconclusive"),
    ((math.nan, 0.30), "inconclusive"),
])
def test_a_verdict_compares_the_whole_interval_with_the_accepted_range(interval, verdict):
    assert Verdict.decide("m", interval, (0.25, 0.42), seeds=10, uncertainty="95% CI").verdict == verdict


def test_a_run_outside_the_assumptions_gets_no_verdict_on_the_paper():
    verdict = Verdict.decide("m", (0.26, 0.30), (0.25, 0.42), seeds=10, uncertainty="95% CI",
                             regime="large dimension 0.5 (needs >= 1)")
    assert verdict.verdict == "outside assumptions" and verdict.regime.startswith("large dimension")


def test_a_quick_verdict_says_so():
    verdict = Verdict.decide("m", (0.26, 0.30), (0.25, 0.42), seeds=1, uncertainty="-", quick=True)
    assert verdict.label == "confirmed (quick)"


def test_a_verdict_word_outside_the_vocabulary_is_refused():
    with pytest.raises(ValueError, match="verdict must be one of 'confirmed'"):
        Verdict("m", "maybe")


def test_an_entrys_sweep_table_says_which_cells_are_inside(tmp_path):
    pytest.importorskip("pandas")
    context = Context("fake", tmp_path, progress=False, assumptions=(LARGE_D, SMALL_STEP))
    swept = context.sweep("grid", {"d": [50, 200]}, dict(n=10, m=2, eta=0.001, steps=2, record=(0, 2)))
    assert list(swept.table.inside) == [False, True]
    # Only the assumptions of the claims the sweep measures: claim 0 has no step condition.
    swept = context.sweep("grid-step", {"eta": [0.001, 1.0]}, dict(n=10, m=2, d=200, steps=2, record=(0, 2)),
                          claims=(0,))
    assert list(swept.table.inside) == [True, True]


def _fake_entry(monkeypatch):
    entry = Paper("fake", "Nobody 2099", (Setting("n", "1", "the same"),), ("a", "b"), lambda c: [],
                  assumptions=(LARGE_D, SMALL_STEP))
    monkeypatch.setattr("labelnoise_sim.papers.papers", lambda: {"fake": entry})
    return entry


def test_regime_builds_the_run_from_simulate_keywords(monkeypatch):
    from labelnoise_sim.papers import regime

    _fake_entry(monkeypatch)
    rows = regime("fake", n=10, d=100, eta=0.001)
    assert [(row.name, row.holds) for row in rows] == [("large dimension", True), ("small step", True)]
    assert [row.name for row in regime("fake", SimulationConfig(n=10, d=100), claim=0)] == ["large dimension"]


def test_the_regime_command_prints_one_row_per_assumption(monkeypatch, capsys):
    _fake_entry(monkeypatch)
    assert main(["regime", "fake", "--n", "10", "--d", "99", "--eta", "0.001"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("| assumption | condition | stated in | value | bound | holds |")
    assert out[2].startswith("| large dimension | d ≳ n² | Condition 1 | 0.99 | >= 1 | NO |")
    assert out[3].startswith("| small step |") and out[3].endswith("| yes |")
    assert out[-1] == "regime: large dimension 0.99 (needs >= 1)"
