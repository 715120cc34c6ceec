"""The gallery entry of the library's own paper: its assumptions and where its verdicts are decided."""

from pathlib import Path

import pytest

from labelnoise_sim import SimulationConfig
from labelnoise_sim.papers import VERDICTS, han2025
from labelnoise_sim.papers._base import regime_label, regime_rows

DOCS = Path(__file__).resolve().parent.parent / "docs" / "papers" / "han2025"


def _config(name, tau):
    return SimulationConfig.from_params(**han2025.SETTINGS[name], tau=tau)


@pytest.mark.parametrize("claim", range(len(han2025.CLAIMS)))
def test_the_verdicts_are_decided_inside_the_assumptions_of_each_claim(claim):
    tau = 0.0 if claim in han2025.CLEAN_CLAIMS else han2025.TAU
    assert regime_label(regime_rows(han2025.ASSUMPTIONS, _config("inside", tau), claim)) == "inside"


@pytest.mark.parametrize("name", ["default", "small init", "harmful"])
def test_the_extras_break_the_large_dimension_and_small_step(name):
    broken = {row.name for row in regime_rows(han2025.ASSUMPTIONS, _config(name, han2025.TAU), 0) if not row.holds}
    assert {"large dimension", "small step"} <= broken


def test_each_claim_is_stated_under_the_flip_rates_of_its_theorem():
    names = {claim: {a.name for a in han2025.ASSUMPTIONS if a.applies_to(claim)} for claim in
             range(len(han2025.CLAIMS))}
    for claim, applied in names.items():
        assert ("no label noise" in applied) == (claim in han2025.CLEAN_CLAIMS)
        assert ("label noise" in applied) == (claim in han2025.NOISY_CLAIMS)
    assert han2025.PAPER.assumptions == han2025.ASSUMPTIONS


def test_the_committed_full_run_says_a_verdict_of_the_new_vocabulary_with_seeds_and_regime():
    rows = [line.split(" | ") for line in (DOCS / "han2025_claims.md").read_text().splitlines()[2:]]
    assert len(rows) == len(han2025.CLAIMS)
    for row in rows:
        assert row[2] in VERDICTS and int(row[3]) >= 10 and row[4] and row[5] == "inside", row
