"""What a gallery entry declares, and how :func:`reproduce` runs one.

An entry is a :class:`Paper`: data (its citation, the setup the paper states
beside the setup we run, the claims it makes) and one function, ``run``, that
takes a :class:`Context` and returns the :class:`Verdict` of each claim. The
context is the entry's view of its output directory: sweeps go through
:func:`labelnoise_sim.sweep` with a store of their own there (so an
interrupted run resumes where it stopped), and figures and tables are written
there under the entry's key.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = ["Setting", "Assumption", "RegimeRow", "Verdict", "VERDICTS", "Paper", "Context", "Outcome", "reproduce",
           "markdown_table", "regime_rows", "regime_label", "wilson", "broken_assumptions", "regime_table", "log_slope",
           "bootstrap_slope", "seed_share"]


@dataclasses.dataclass(frozen=True)
class Setting:
    """A row of an entry's setup table: one setting as the paper states it and as the simulator runs it.

    Attributes
    ----------
    name : str
        The setting.
    paper : str
        Its value in the paper.
    ours : str
        Its value in our run, or "the same".
    note : str, default ""
        Why the two differ, when they do.
    """

    name: str
    paper: str
    ours: str
    note: str = ""  #: why the two differ, when they do

    @property
    def differs(self) -> bool:
        """Whether what we run is not what the paper states ("the same" says it is)."""
        return self.ours not in ("the same", self.paper)


#: The words a verdict may say. "inconclusive": the measurement's uncertainty straddles the criterion;
#: "outside assumptions": the run breaks an assumption the claim states, so the measurement is reported and
#: nothing is said about the paper.
VERDICTS = ("confirmed", "not confirmed", "inconclusive", "outside assumptions")


@dataclasses.dataclass(frozen=True)
class Assumption:
    """One condition a paper's claim is stated under, as code.

    ``value(config)`` measures the condition on a run's
    :class:`~labelnoise_sim.SimulationConfig`, and the condition holds when
    that value is ``>= bound`` (``kind=">="``) or ``<= bound``
    (``kind="<="``). A condition the paper states up to constants
    ("d ≳ m⁴n⁴", "σ₀ small") is read as a number: ``reading`` says which
    and why, and it was fixed before any run.

    Parameters
    ----------
    name : str
        A short name, unique within its entry ("large dimension").
    condition : str
        The condition in the paper's notation.
    where : str
        Where the paper states it (theorem or condition number).
    value : callable
        ``value(config) -> float``, the quantity the condition bounds.
    bound : float
        The numeric reading of the bound.
    kind : {">=", "<="}
        Whether ``value`` must be at least or at most ``bound``.
    reading : str
        How a condition up to constants was turned into ``bound``.
    claims : tuple of int or None
        The indexes (from 0, into ``Paper.claims``) of the claims stated
        under this assumption; None for every claim.
    """

    name: str
    condition: str
    where: str
    value: Callable
    bound: float
    kind: str = ">="
    reading: str = ""
    claims: tuple[int, ...] | None = None

    def __post_init__(self):
        if self.kind not in (">=", "<="):
            raise ValueError(f"kind must be '>=' or '<='; got {self.kind!r}")

    def applies_to(self, claim: int | None) -> bool:
        """Tell whether the claim of index ``claim`` is stated under this assumption.

        Parameters
        ----------
        claim : int or None
            The claim's index; None stands for any claim.

        Returns
        -------
        bool
            True if the assumption applies to it.
        """
        return claim is None or self.claims is None or claim in self.claims

    def check(self, config) -> "RegimeRow":
        """Measure this assumption on ``config``: its value, its bound and whether it holds.

        Parameters
        ----------
        config : SimulationConfig
            The run.

        Returns
        -------
        RegimeRow
            The measurement; ``holds`` is False for a NaN value.
        """
        value = float(self.value(config))
        holds = bool(value >= self.bound) if self.kind == ">=" else bool(value <= self.bound)
        return RegimeRow(self.name, self.condition, self.where, value, self.kind, self.bound, holds)


@dataclasses.dataclass(frozen=True)
class RegimeRow:
    """One assumption measured on one run (a row of :func:`labelnoise_sim.papers.regime`).

    Attributes
    ----------
    name, condition, where : str
        As the :class:`Assumption`'s fields.
    value : float
        The assumption's value on the run.
    kind : {">=", "<="}
        Whether the value must be at least or at most the bound.
    bound : float
        The numeric reading of the bound.
    holds : bool
        Whether the value is on the bound's side (False for NaN).
    """

    name: str
    condition: str
    where: str
    value: float
    kind: str
    bound: float
    holds: bool  #: False also when the value is NaN

    def describe(self) -> str:
        """Describe the row as the regime column prints a broken assumption.

        Returns
        -------
        str
            ``name value (needs kind bound)``.
        """
        return f"{self.name} {self.value:.3g} (needs {self.kind} {self.bound:.3g})"


def regime_rows(assumptions, config, claim: int | None = None) -> list[RegimeRow]:
    """Every assumption of ``assumptions`` that applies to ``claim``, measured on ``config``."""
    return [assumption.check(config) for assumption in assumptions if assumption.applies_to(claim)]


def regime_label(rows) -> str:
    """Label a run's regime from its rows.

    Parameters
    ----------
    rows : iterable of RegimeRow
        The assumptions measured on the run.

    Returns
    -------
    str
        "inside" if every row holds, else the broken assumptions with their values, joined by "; ".
    """
    broken = [row.describe() for row in rows if not row.holds]
    return "; ".join(broken) if broken else "inside"


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What the run measured about one claim of the paper, and whether it agrees.

    Build one with :meth:`decide`, which turns an interval of the measured
    quantity and the interval that the claim accepts into one of
    :data:`VERDICTS`.

    Attributes
    ----------
    measured : str
        What was measured, in words and numbers.
    verdict : str
        One of :data:`VERDICTS`: words a reviewer reads, not a score.
    region : str, default ""
        Where it was measured (the parameters run).
    seeds : int, default 0
        The independent repetitions behind the measurement.
    uncertainty : str, default ""
        Its standard error or interval, and how it was obtained.
    regime : str, default "inside"
        "inside" the claim's assumptions, or the broken ones with their values.
    quick : bool, default False
        Whether a ``--quick`` run (small grids, few seeds) measured it.
    """

    measured: str
    verdict: str  #: one of VERDICTS: words a reviewer reads, not a score
    region: str = ""  #: where it was measured (the parameters run)
    seeds: int = 0  #: independent repetitions behind the measurement
    uncertainty: str = ""  #: its standard error or interval, and how it was obtained
    regime: str = "inside"  #: "inside" the claim's assumptions, or the broken ones with their values
    quick: bool = False  #: measured by a --quick run (small grids, few seeds)

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(map(repr, VERDICTS))}; got {self.verdict!r}")

    @classmethod
    def decide(cls, measured: str, interval, accepted, *, seeds: int, uncertainty: str, region: str = "",
               regime: str = "inside", quick: bool = False) -> "Verdict":
        """The verdict of an interval of the measured quantity against the range the claim accepts.

        Parameters
        ----------
        measured : str
            What was measured, in words and numbers.
        interval : tuple of float
            ``(low, high)``: the measured quantity's interval (a confidence
            interval, or estimate ± its uncertainty). NaN ends make the
            verdict "inconclusive".
        accepted : tuple of float
            ``(low, high)``: the values the claim accepts (``-inf``/``inf``
            for a one-sided claim).
        seeds : int
            The independent repetitions behind the measurement.
        uncertainty : str
            Its standard error or interval, and how it was obtained.
        region : str, default ""
            Where it was measured.
        regime : str, default "inside"
            "inside" the claim's assumptions, or the broken ones with their values.
        quick : bool, default False
            Whether a ``--quick`` run measured it.

        Returns
        -------
        Verdict
            "outside assumptions" if ``regime`` is not "inside"; else
            "confirmed" if the interval lies within the accepted range, "not
            confirmed" if it lies wholly outside it, "inconclusive" if it
            straddles an end of it.
        """
        low, high = (float(v) for v in interval)
        lo_ok, hi_ok = (float(v) for v in accepted)
        if regime != "inside":
            word = "outside assumptions"
        elif math.isnan(low) or math.isnan(high):
            word = "inconclusive"
        elif lo_ok <= low and high <= hi_ok:
            word = "confirmed"
        elif high < lo_ok or low > hi_ok:
            word = "not confirmed"
        else:
            word = "inconclusive"
        return cls(measured, word, region, seeds, uncertainty, regime, quick)

    @property
    def label(self) -> str:
        """The verdict as the claims tables print it, "(quick)" after it for a --quick run."""
        return f"{self.verdict} (quick)" if self.quick else self.verdict


@dataclasses.dataclass(frozen=True)
class Paper:
    """One entry of the gallery, declared as data.

    Attributes
    ----------
    key : str
        The entry's key, e.g. ``"han2025"``: the name of its directory and files.
    citation : str
        The paper.
    setup : tuple of Setting
        The setup as the paper states it and as we run it.
    claims : tuple of str
        The paper's claims that the entry checks.
    run : callable
        ``run(context)`` returns a list of :class:`Verdict`, one per claim (in the order of ``claims``).
    runtime : str, default ""
        The full run's time, as measured on the machine that made docs/papers/KEY.
    assumptions : tuple of Assumption, default ()
        The conditions the claims are stated under (each names the claims it applies to).
    """

    key: str
    citation: str
    setup: tuple[Setting, ...]
    claims: tuple[str, ...]
    #: run(context) -> list of Verdict, one per claim (in the order of ``claims``)
    run: Callable[["Context"], list]
    #: the full run's time, as measured on the machine that made docs/papers/KEY
    runtime: str = ""
    #: the conditions the claims are stated under (each names the claims it applies to)
    assumptions: tuple[Assumption, ...] = ()

    def regime(self, config, claim: int | None = None) -> list[RegimeRow]:
        """Measure the assumptions of ``claim`` (of every claim if None) on ``config``.

        Parameters
        ----------
        config : SimulationConfig
            The run.
        claim : int or None, default None
            The claim's index in ``claims``; None for every assumption.

        Returns
        -------
        list of RegimeRow
            One row per assumption that applies.
        """
        return regime_rows(self.assumptions, config, claim)


@dataclasses.dataclass
class Context:
    """Where an entry writes, and how big it runs.

    Attributes
    ----------
    key : str
        The entry's key.
    out : pathlib.Path
        The output directory.
    quick : bool, default False
        Whether to run the quick version.
    seeds : int or None, default None
        Repetitions per cell, or None for the entry's own choice.
    progress : bool, default True
        Whether the sweeps show a progress bar.
    written : list of pathlib.Path
        The files written so far.
    assumptions : tuple of Assumption, default ()
        The entry's, to mark the cells of its sweeps.
    """

    key: str
    out: Path
    quick: bool = False
    seeds: int | None = None  #: repetitions per cell, or None for the entry's own choice
    progress: bool = True
    written: list = dataclasses.field(default_factory=list)
    assumptions: tuple[Assumption, ...] = ()  #: the entry's, to mark the cells of its sweeps

    def repetitions(self, full: int, quick: int = 1) -> int:
        """Choose the seeds per cell: ``seeds`` if the user gave it, else ``quick`` or ``full``.

        Parameters
        ----------
        full : int
            The seeds of a full run.
        quick : int, default 1
            The seeds of a quick run.

        Returns
        -------
        int
            The seeds per cell.
        """
        return self.seeds if self.seeds is not None else (quick if self.quick else full)

    def sweep(self, name: str, grid, fixed=None, *, claims: tuple[int, ...] | None = None, **options):
        """Run :func:`labelnoise_sim.sweep` with the store ``out/store/KEY-name``: rerunning resumes it.

        Its table gains a column ``inside``: whether the cell meets every
        assumption of the claims ``claims``.

        Parameters
        ----------
        name : str
            The sweep's name in the store's (``-quick`` is added for a quick run).
        grid : dict
            The swept parameters and their values.
        fixed : dict or None, default None
            The parameters shared by every cell.
        claims : tuple of int or None, default None
            The claims (indexes into the entry's claims) whose assumptions mark the cells; None: every claim.
        **options
            The other keywords of :func:`labelnoise_sim.sweep`.

        Returns
        -------
        SweepResult
            The sweep, its table with the column ``inside``.
        """
        from ..sweep import sweep

        store = self.out / "store" / f"{self.key}-{name}{'-quick' if self.quick else ''}"
        swept = sweep(grid, fixed, store=store, progress=self.progress, **options)
        assumptions = [a for a in self.assumptions if claims is None or any(a.applies_to(c) for c in claims)]
        swept.table["inside"] = [all(row.holds for row in regime_rows(assumptions, config))
                                 for config in swept.configs]
        return swept

    def regime(self, config, claim: int | None = None) -> str:
        """Label the regime of ``config`` for ``claim``: :func:`regime_label` of the entry's assumptions.

        Parameters
        ----------
        config : SimulationConfig
            The run.
        claim : int or None, default None
            The claim's index; None for every assumption.

        Returns
        -------
        str
            "inside", or the broken assumptions with their values.
        """
        return regime_label(regime_rows(self.assumptions, config, claim))

    def figure(self, fig, name: str) -> None:
        """Write ``fig`` as ``out/KEY_name.png`` and ``.pdf``.

        Parameters
        ----------
        fig : matplotlib.figure.Figure
            The figure.
        name : str
            Its name in the file names.
        """
        from ..figures import save_figure

        self.written += save_figure(fig, self.out / f"{self.key}_{name}")

    def table(self, frame, name: str) -> None:
        """Write a pandas DataFrame as ``out/KEY_name.csv`` and ``.md``.

        Parameters
        ----------
        frame : pandas.DataFrame
            The table.
        name : str
            Its name in the file names.
        """
        stem = self.out / f"{self.key}_{name}"
        frame.to_csv(stem.with_suffix(".csv"), index=False)
        stem.with_suffix(".md").write_text(markdown_table(frame.columns, frame.itertuples(index=False)) + "\n")
        self.written += [stem.with_suffix(".csv"), stem.with_suffix(".md")]

    def outside_verdicts(self, rows) -> None:
        """Write the verdicts of designs outside the claims' assumptions as ``out/KEY_outside.md``.

        Parameters
        ----------
        rows : iterable of (claim, design, Verdict)
            The claim's text, the design's name and its verdict, one row each.
        """
        path = self.out / f"{self.key}_outside.md"
        path.write_text(markdown_table(
            ("claim", "design", "measured", "verdict", "seeds", "uncertainty", "regime", "region"),
            [(claim, name, v.measured, v.label, v.seeds, v.uncertainty, v.regime, v.region)
             for claim, name, v in rows]) + "\n")
        self.written.append(path)


#: The columns of every ``KEY_claims.md``.
CLAIMS_COLUMNS = ("claim", "measured", "verdict", "seeds", "uncertainty", "regime", "region")


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What :func:`reproduce` did.

    Attributes
    ----------
    paper : Paper
        The entry.
    verdicts : list of Verdict
        One per claim.
    written : list of pathlib.Path
        The files written.
    seconds : float
        The seconds it took.
    """

    paper: Paper
    verdicts: list
    written: list
    seconds: float

    def claims_table(self) -> str:
        """Tabulate the claims in Markdown: statement, measurement, verdict, seeds, uncertainty, regime, region.

        Returns
        -------
        str
            The table, with the columns ``CLAIMS_COLUMNS``.
        """
        return markdown_table(CLAIMS_COLUMNS, [(claim, v.measured, v.label, v.seeds, v.uncertainty, v.regime, v.region)
                                               for claim, v in zip(self.paper.claims, self.verdicts)])

    def summary(self) -> str:
        """The citation, a line per claim with its verdict, and a line for the files written.

        Returns
        -------
        str
            The lines, joined by newlines.
        """
        lines = [f"{self.paper.key}: {self.paper.citation}"]
        lines += [f"  [{v.label}] {claim}: {v.measured}" for claim, v in zip(self.paper.claims, self.verdicts)]
        lines.append(f"  {len(self.written)} files in {self.written[0].parent if self.written else '-'}; "
                     f"{self.seconds:.0f} s")
        return "\n".join(lines)


def reproduce(paper: Paper, out, *, quick: bool = False, seeds: int | None = None,
              progress: bool = True) -> Outcome:
    """Run ``paper``'s experiments into the directory ``out``; write its figures, tables and ``KEY_claims.md``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    context = Context(paper.key, out, quick=quick, seeds=seeds, progress=progress, assumptions=paper.assumptions)
    start = time.perf_counter()
    verdicts = paper.run(context)
    if len(verdicts) != len(paper.claims):
        raise RuntimeError(f"entry {paper.key} returned {len(verdicts)} verdicts for {len(paper.claims)} claims")
    outcome = Outcome(paper, verdicts, context.written, time.perf_counter() - start)
    claims = out / f"{paper.key}_claims.md"
    claims.write_text(outcome.claims_table() + "\n")
    context.written.append(claims)
    return outcome


def markdown_table(header, rows) -> str:
    """A Markdown table; floats with 4 significant digits, NaN and None as a dash, "|" escaped.

    Parameters
    ----------
    header : sequence of str
        The column names.
    rows : iterable of sequence
        The rows, a value per column.

    Returns
    -------
    str
        The table, without a final newline.
    """
    def cell(value):
        if value is None or isinstance(value, float) and math.isnan(value):
            return "-"
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(map(cell, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in rows]
    return "\n".join(lines)


# Statistics the entries share -----------------------------------------------


def wilson(successes: float, trials: int, z: float = 1.959963984540054) -> tuple[float, float]:
    r"""The 95% Wilson interval of a share :math:`\hat q = k/n` of ``successes`` k in ``trials`` n.

    .. math:: \frac{\hat q + z^2/(2n) \pm z\sqrt{\hat q(1-\hat q)/n + z^2/(4n^2)}}{1 + z^2/n}

    k may be fractional (a share of runs counted in seeds); (NaN, NaN) for no trials.
    """
    if trials == 0:
        return math.nan, math.nan
    q, n = successes / trials, trials
    centre, half = q + z**2 / (2 * n), z * math.sqrt(q * (1 - q) / n + z**2 / (4 * n**2))
    return max(0.0, (centre - half) / (1 + z**2 / n)), min(1.0, (centre + half) / (1 + z**2 / n))


def _span(values) -> str:
    """"low..high" of an assumption's values over a design's runs, or the one value they all share."""
    low, high = min(values), max(values)
    return f"{low:.3g}" if low == high else f"{low:.3g}..{high:.3g}"


def broken_assumptions(assumptions, configs) -> str:
    """The assumptions some config breaks, each with the range of its value: "inside" if none."""
    parts = []
    for assumption in assumptions:
        rows = [assumption.check(config) for config in configs]
        if not all(row.holds for row in rows):
            span = _span([row.value for row in rows])
            broken = sum(not row.holds for row in rows)
            some = "" if broken == len(rows) else f"; broken in {broken} of {len(rows)} runs"
            parts.append(f"{assumption.name} {span} (needs {assumption.kind} {assumption.bound:.3g}{some})")
    return "; ".join(parts) if parts else "inside"


def regime_table(assumptions, designs):
    """One row per assumption: the condition, its reading and, per design (name -> configs), the range of its
    value and whether it holds in every run."""
    import pandas as pd

    rows = []
    for assumption in assumptions:
        row = {"assumption": assumption.name, "condition": assumption.condition, "stated in": assumption.where,
               "reading (fixed before the run)": assumption.reading}
        for name, configs in designs.items():
            checks = [assumption.check(config) for config in configs]
            broken = sum(not check.holds for check in checks)
            row[name] = f"{_span([check.value for check in checks])}: " + (
                "holds" if broken == 0 else f"broken in {broken} of {len(checks)}")
        rows.append(row)
    return pd.DataFrame(rows)


def log_slope(xs, ys) -> float:
    """The least-squares slope of log y on log x over the finite, positive y (NaN under 3 of them)."""
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    good = np.isfinite(ys) & (ys > 0)
    return float(np.polyfit(np.log(xs[good]), np.log(ys[good]), 1)[0]) if good.sum() >= 3 else math.nan


def bootstrap_slope(xs, boundary: Callable, seeds: int, resamples: int, seed: int = 0) -> tuple:
    """:func:`log_slope` of ``boundary()`` on ``xs``, its 95% bootstrap interval over the seeds, and the share of
    resamples without a slope.

    ``boundary(indices)`` is the boundary from the runs of those seeds (None: all of them); each resample draws
    ``seeds`` of them with replacement from ``np.random.default_rng(seed)``. The interval is NaN under 2 seeds
    (the share too), or when over 5% of the resamples have no slope.
    """
    slope = log_slope(xs, boundary(None))
    if seeds < 2:
        return slope, math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    boot = np.array([log_slope(xs, boundary(rng.integers(0, seeds, seeds))) for _ in range(resamples)])
    missing = float(np.isnan(boot).mean())
    if missing > 0.05:
        return slope, math.nan, math.nan, missing
    low, high = np.nanpercentile(boot, [2.5, 97.5])
    return slope, float(low), float(high), missing


def seed_share(success, where, resamples) -> tuple[int, int, tuple[float, float]]:
    """Successes among the runs ``where`` of arrays (..., seeds), with a 95% interval that treats a seed as one
    trial.

    A seed is one training set, shared by every cell of a design, so the runs of a seed are not independent:
    the interval is the wider of a bootstrap over the seeds (``resamples``, shape (B, seeds), indices of seeds)
    and the Wilson interval of the share counted in seeds (a bootstrap of a share without a failure has no
    width); NaN under 2 seeds or without runs.
    """
    seeds = success.shape[-1]
    axes = tuple(range(success.ndim - 1))
    per_seed = (success & where).sum(axis=axes)
    runs = where.sum(axis=axes)
    total = int(runs.sum())
    interval = (math.nan, math.nan)
    if total and seeds >= 2:
        shares = per_seed[resamples].sum(axis=1) / runs[resamples].sum(axis=1)
        low, high = np.percentile(shares, [2.5, 97.5])
        floor = wilson(per_seed.sum() / total * seeds, seeds)
        interval = (min(float(low), floor[0]), max(float(high), floor[1]))
    return int(per_seed.sum()), total, interval
