"""What a long call says while it works, on standard error: a notice before numba compiles, and progress bars.

``progress`` takes three values wherever a call has it:

- ``None`` (auto): a bar that appears only once the work has run for
  :data:`AUTO_DELAY` seconds, and only where someone can see it (standard
  error a terminal, or a Jupyter notebook); quick library calls print nothing;
- ``True``: a bar from the start, wherever standard error goes;
- ``False``: nothing at all, the compilation notice included.

Bars are tqdm's (``tqdm.auto``: text in a terminal, a widget in Jupyter), from
the ``sweep`` extra; without tqdm there is no bar (``True`` warns once).
Progress is reported between pieces of work that run anyway (the chunks of
steps of the dynamics, blocks of recorded steps of the test error), so it
changes no number.
"""

from __future__ import annotations

import sys
import warnings

__all__ = ["AUTO_DELAY", "check_progress", "bar", "announce_compilation", "KERNEL_GROUPS"]

#: Seconds of work after which an automatic bar (``progress=None``) appears.
AUTO_DELAY = 2.0

#: What a first call compiles, by kernel group: how the notice names it, and about how long it takes (seconds,
#: rounded up from measurements on this project's 2-core machine with an empty cache: the data and the dynamics
#: of a first simulate() 6 s, its test error 11 s, a ReLU^2 run 14 s; a whole first `labelnoise-sim run` took
#: 26-38 s, and 230 s under a load of 15 on the two cores).
KERNEL_GROUPS = {
    "dynamics": ("kernels", 10),
    "family dynamics": ("the model family's kernels", 20),
    "test error": ("the test error's kernels", 15),
}

_announced: set[tuple] = set()


def check_progress(progress) -> bool | None:
    """``progress`` if it is None, True or False; a ValueError naming it otherwise."""
    if progress is None or isinstance(progress, bool):
        return progress
    raise ValueError(f"progress must be None (automatic), True or False; got {progress!r}")


class NoBar:
    """A bar that shows nothing (progress off, or no tqdm)."""

    def update(self, n=1) -> None:
        pass

    def close(self) -> None:
        pass


def bar(total: int, desc: str, unit: str, progress: bool | None, initial: int = 0, *, delay: bool = True):
    """A tqdm bar on standard error for ``total`` units, or a :class:`NoBar`.

    ``progress=None`` gives a bar that tqdm keeps off when standard error is
    not a terminal (notebooks have their widget) and, with ``delay``, shows
    only after :data:`AUTO_DELAY` seconds.
    """
    if progress is False:
        return NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        if progress:
            warnings.warn("progress=True needs tqdm (pip install 'labelnoise-sim[sweep]'); no progress bar",
                          stacklevel=3)
        return NoBar()
    options = dict(total=total, initial=initial, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True,
                   disable=None if progress is None else False,
                   delay=AUTO_DELAY if progress is None and delay else 0.0)
    try:
        return tqdm(**options)
    except ImportError:  # a notebook without ipywidgets: tqdm.auto chose the widget but cannot draw it
        from tqdm.std import tqdm as text_tqdm

        return text_tqdm(**options)


def announce_compilation(group: str, dispatchers, progress: bool | None) -> None:
    """Say on standard error, once per process and ``group``, that numba is about to compile.

    Said only when it will happen: one of ``dispatchers`` (numba functions)
    has no compiled signature in this process and none in its on-disk cache
    for this machine; looked at once per ``group`` and set of ``dispatchers``.
    Not said with ``progress=False``.
    """
    # Once per group and set of kernels: a smooth activation's test error, after a ReLU one, still says so.
    key = (group, tuple(getattr(dispatcher, "__qualname__", repr(dispatcher)) for dispatcher in dispatchers))
    if progress is False or key in _announced:
        return
    _announced.add(key)
    if all(_ready(dispatcher) for dispatcher in dispatchers):
        return
    what, seconds = KERNEL_GROUPS[group]
    print(f"labelnoise-sim: compiling {what} (first run only, about {seconds} s)", file=sys.stderr, flush=True)


def _ready(dispatcher) -> bool:
    """Whether calling ``dispatcher`` runs compiled code without compiling (best effort: True when unsure)."""
    if getattr(dispatcher, "signatures", None):
        return True
    cache = getattr(dispatcher, "_cache", None)
    try:
        # numba's on-disk index: (signature, machine, code hash) -> file; empty when absent or stale.
        index = cache._cache_file._load_index()
        machine = dispatcher.targetctx.codegen().magic_tuple()
    except Exception:  # NUMBA_DISABLE_JIT (plain functions), no disk cache, or numba's internals changed
        return True
    return any(key[1] == machine for key in index)
