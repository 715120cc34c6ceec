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

__all__ = ["Setting", "Verdict", "Paper", "Context", "Outcome", "reproduce", "markdown_table"]


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


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What the run measured about one claim of the paper, and whether it agrees.

    Attributes
    ----------
    measured : str
        What was measured, in words and numbers.
    verdict : str
        "confirmed", "partly" or "not confirmed": in words a reviewer reads, not a score.
    region : str, default ""
        Where it was measured (the parameters run).
    """

    measured: str
    verdict: str  #: "confirmed", "partly" or "not confirmed": in words a reviewer reads, not a score
    region: str = ""  #: where it was measured (the parameters run)

    @classmethod
    def judge(cls, measured: str, confirmed: bool, partly: bool, region: str = "") -> "Verdict":
        """Make the verdict "confirmed" if ``confirmed``, else "partly" if ``partly``, else "not confirmed".

        Parameters
        ----------
        measured : str
            What was measured.
        confirmed : bool
            Whether the claim holds.
        partly : bool
            Whether it holds in part.
        region : str, default ""
            Where it was measured.

        Returns
        -------
        Verdict
            The verdict.
        """
        return cls(measured, "confirmed" if confirmed else ("partly" if partly else "not confirmed"), region)


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
    """

    key: str
    citation: str
    setup: tuple[Setting, ...]
    claims: tuple[str, ...]
    #: run(context) -> list of Verdict, one per claim (in the order of ``claims``)
    run: Callable[["Context"], list]
    #: the full run's time, as measured on the machine that made docs/papers/KEY
    runtime: str = ""


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
    """

    key: str
    out: Path
    quick: bool = False
    seeds: int | None = None  #: repetitions per cell, or None for the entry's own choice
    progress: bool = True
    written: list = dataclasses.field(default_factory=list)

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

    def sweep(self, name: str, grid, fixed=None, **options):
        """Run :func:`labelnoise_sim.sweep` with the store ``out/store/KEY-name``: rerunning resumes it.

        Parameters
        ----------
        name : str
            The sweep's name in the store's (``-quick`` is added for a quick run).
        grid : dict
            The swept parameters and their values.
        fixed : dict or None, default None
            The parameters shared by every cell.
        **options
            The other keywords of :func:`labelnoise_sim.sweep`.

        Returns
        -------
        SweepResult
            The sweep's table.
        """
        from ..sweep import sweep

        store = self.out / "store" / f"{self.key}-{name}{'-quick' if self.quick else ''}"
        return sweep(grid, fixed, store=store, progress=self.progress, **options)

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
        """The Markdown table of the claims: the paper's statement, what was measured, the verdict, the region.

        Returns
        -------
        str
            The table.
        """
        return markdown_table(("claim", "measured", "verdict", "region"),
                              [(claim, v.measured, v.verdict, v.region)
                               for claim, v in zip(self.paper.claims, self.verdicts)])

    def summary(self) -> str:
        """The citation, a line per claim with its verdict, and a line for the files written.

        Returns
        -------
        str
            The lines, joined by newlines.
        """
        lines = [f"{self.paper.key}: {self.paper.citation}"]
        lines += [f"  [{v.verdict}] {claim}: {v.measured}" for claim, v in zip(self.paper.claims, self.verdicts)]
        lines.append(f"  {len(self.written)} files in {self.written[0].parent if self.written else '-'}; "
                     f"{self.seconds:.0f} s")
        return "\n".join(lines)


def reproduce(paper: Paper, out, *, quick: bool = False, seeds: int | None = None,
              progress: bool = True) -> Outcome:
    """Run ``paper``'s experiments into the directory ``out``; write its figures, tables and ``KEY_claims.md``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    context = Context(paper.key, out, quick=quick, seeds=seeds, progress=progress)
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
