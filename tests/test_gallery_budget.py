"""The gallery's time budget counts CPU time, never wall-clock time (docs/_ext/gallery_budget.py)."""

import importlib
import logging
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("sphinx")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "_ext"))
gallery_budget = importlib.import_module("gallery_budget")


def _run(seconds_of, budget, monkeypatch, caplog):
    monkeypatch.setattr(gallery_budget, "BUDGET_S", budget)
    with caplog.at_level(logging.INFO, logger="sphinx.gallery_budget"):
        gallery_budget.time_budget({}, "example.py", "before")
        seconds_of()
        gallery_budget.time_budget({}, "example.py", "after")
    return [r for r in caplog.records if r.name == "sphinx.gallery_budget"]


def _burn(seconds):
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass


def test_an_example_that_waits_past_its_budget_does_not_warn(monkeypatch, caplog):
    records = _run(lambda: time.sleep(0.4), 0.2, monkeypatch, caplog)
    assert [r.levelno for r in records] == [logging.INFO]
    assert "busy machine" in records[0].getMessage()


def test_an_example_over_its_cpu_budget_warns_and_names_the_override(monkeypatch, caplog):
    records = _run(lambda: _burn(0.4), 0.2, monkeypatch, caplog)
    assert [r.levelno for r in records] == [logging.WARNING]
    assert "GALLERY_BUDGET_S" in records[0].getMessage() and "CPU time" in records[0].getMessage()


def test_an_example_within_its_budget_says_nothing(monkeypatch, caplog):
    assert _run(lambda: _burn(0.05), 10.0, monkeypatch, caplog) == []
