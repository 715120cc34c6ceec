"""The paper gallery: the synthetic experiments of the papers of this line, run on the simulator.

Each entry is one small module here declaring a :class:`Paper` named
``PAPER``: the citation, the setup the paper states beside the one we run
(every difference named), the claims it makes, and the run that measures
them. ``labelnoise-sim reproduce KEY`` (or :func:`reproduce`) runs an entry;
docs/papers/KEY.md shows its full run beside the paper's statements.
Adding an entry means adding its module to :data:`MODULES` and its page.
"""

from __future__ import annotations

import importlib

from ._base import (VERDICTS, Assumption, Context, Outcome, Paper, RegimeRow, Setting, Verdict, markdown_table,
                    regime_label)
from ._base import reproduce as _reproduce

__all__ = ["Paper", "Setting", "Assumption", "RegimeRow", "Verdict", "VERDICTS", "Context", "Outcome", "papers",
           "paper", "reproduce", "regime", "regime_label", "markdown_table", "MODULES"]

#: The entries' modules, in the order of ``labelnoise-sim reproduce --list``.
MODULES = ("han2025", "huang2025_lngd", "kou2023", "karhadkar2024", "cao2022", "xu2024_xor_cluster", "meng2024_xor")


def papers() -> dict[str, Paper]:
    """Every entry, by key, in the order of :data:`MODULES`.

    Returns
    -------
    dict of str to Paper
        The entries.
    """
    entries = (importlib.import_module(f".{name}", __name__).PAPER for name in MODULES)
    return {entry.key: entry for entry in entries}


def paper(key: str) -> Paper:
    """The entry ``key``.

    Parameters
    ----------
    key : str
        An entry's key, e.g. ``"han2025"``.

    Returns
    -------
    Paper
        The entry.

    Raises
    ------
    ValueError
        Naming the keys there are, for an unknown key.
    """
    entries = papers()
    if key not in entries:
        raise ValueError(f"paper must be one of {', '.join(map(repr, entries))}; got {key!r}")
    return entries[key]


def reproduce(key: str, out=None, *, quick: bool = False, seeds: int | None = None,
              progress: bool = True) -> Outcome:
    """Run the entry ``key`` into ``out``: its figures, tables and claims.

    The figures are PNG and PDF, the tables CSV and Markdown, and ``KEY_claims.md`` has each claim beside
    what was measured. Sweeps keep a store in ``out/store``, so an interrupted run resumes.

    Parameters
    ----------
    key : str
        The entry's key (:func:`papers` lists them).
    out : str or os.PathLike or None, default None
        The directory to write into; None for ``reproduce_KEY``.
    quick : bool, default False
        Shrink grids and steps so that the entry finishes in a minute or two on 2 cores.
    seeds : int or None, default None
        The repetitions per cell, >= 1; None for the entry's own choice.
    progress : bool, default True
        Show the sweeps' progress bars.

    Returns
    -------
    Outcome
        The verdicts and the files written.
    """
    from .._validation import check_int

    if seeds is not None:
        seeds = check_int("seeds", seeds, low=1)
    entry = paper(key)
    return _reproduce(entry, out if out is not None else f"reproduce_{key}", quick=quick, seeds=seeds,
                      progress=progress)


def regime(key: str, config=None, claim: int | None = None, **params) -> list[RegimeRow]:
    """Whether a run is inside the assumptions of the entry ``key``: one row per assumption.

    Parameters
    ----------
    key : str
        The entry (see :func:`papers`).
    config : SimulationConfig, optional
        The run; if None, it is built from ``params`` as :func:`~labelnoise_sim.simulate` builds it.
    claim : int, optional
        Only the assumptions of this claim (its index in the entry's claims); all of them if None.
    **params
        :func:`~labelnoise_sim.simulate` keywords, when ``config`` is None.

    Returns
    -------
    list of RegimeRow
        Each assumption's name, the paper's condition and where it is stated, the value on this run, the
        bound and whether it holds.

    Examples
    --------
    >>> from labelnoise_sim.papers import regime
    >>> rows = regime("han2025", n=200, d=2000)
    >>> all(isinstance(row.holds, bool) for row in rows)
    True
    """
    from ..config import SimulationConfig

    if config is None:
        config = SimulationConfig.from_params(**params)
    elif params:
        raise TypeError(f"give config or simulate() keywords, not both; got config and {', '.join(params)}")
    return paper(key).regime(config, claim)
