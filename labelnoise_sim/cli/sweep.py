"""The ``labelnoise-sim sweep`` subcommand: a parameter grid, one table row per cell.

Takes its grid from ``--grid NAME=VALUES`` options and/or a TOML file (tables
``[grid]``, ``[fixed]`` and ``[sweep]`` for options such as ``store`` or
``backend``); command-line values win. It writes the result table of
:func:`labelnoise_sim.sweep` as CSV.
"""

from __future__ import annotations

import math
import re
import time
import tomllib

from ..config import PARAMETERS
from ._checks import CommandError, check_output, output_file, require
from ._options import add_simulation_options, parse_number, simulation_kwargs, value_type

__all__ = ["add_parser", "parse_values"]

SWEEP_OPTIONS = ("store", "backend", "workers", "progress", "test_error", "out")


#: A comma between values, not one inside parentheses (``smoothed_relu(3,0.5),relu``).
_VALUE_SEPARATOR = re.compile(r",(?![^()]*\))")


def parse_values(text: str, parse=parse_number) -> list:
    """Values of one grid axis: ``0,0.1,0.2``; ``lin:A:B:K`` or ``geom:A:B:K`` (K values from A to B);
    ``range:A:B`` (the integers A..B-1). ``parse`` reads one listed value (the parameter's kind of value)."""
    kind, _, rest = text.partition(":")
    if kind in ("lin", "geom", "range") and rest:
        parts = [parse_number(p) for p in rest.split(":")]
        if kind == "range" and len(parts) == 2 and all(isinstance(p, int) for p in parts):
            return list(range(parts[0], parts[1]))
        if kind != "range" and len(parts) == 3 and isinstance(parts[2], int) and parts[2] >= 1:
            a, b, k = parts
            if kind == "geom" and (a <= 0 or b <= 0):
                raise ValueError(f"geom:A:B:K needs A, B > 0; got {text!r}")
            spaced = (lambda: [a + (b - a) * i / (k - 1) for i in range(k)]) if kind == "lin" else (
                lambda: [a * (b / a) ** (i / (k - 1)) for i in range(k)])
            return [float(f"{v:.6g}") for v in (spaced() if k > 1 else [a])]
        raise ValueError(f"grid values {text!r}: use lin:A:B:K, geom:A:B:K or range:A:B")
    values = [parse(v.strip()) for v in _VALUE_SEPARATOR.split(text) if v.strip()]
    if not values:
        raise ValueError(f"grid values {text!r}: give a comma-separated list")
    return values


def _grid_option(text: str) -> tuple[str, list]:
    """``NAME=VALUES``, or ``A+B=a1/b1,a2/b2`` for parameters zipped on one axis."""
    name, sep, values = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise ValueError(f"--grid takes NAME=VALUES (e.g. tau=0,0.1,0.2); got {text!r}")
    if "+" not in name:
        return name, parse_values(values, _parser(name))
    names = name.split("+")
    width = len(names)
    zipped = [[_parser(key)(v) for key, v in zip(names, item.split("/"))]
              for item in _VALUE_SEPARATOR.split(values) if item.strip()]
    if not zipped or any(len(item) != width for item in zipped):
        raise ValueError(f"--grid {name}=... zips {width} parameters: give items like "
                         f"{'/'.join(['v'] * width)}, comma-separated; got {values!r}")
    return name, zipped


def _parser(name: str):
    """How a grid value of parameter ``name`` is read from text (numbers, or text, or true/false)."""
    parameter = PARAMETERS.get(name.strip())
    return parse_number if parameter is None else value_type(parameter.constraint)


def _read_config(path) -> dict:
    """The ``grid``, ``fixed`` and ``sweep`` tables of a TOML file (empty if absent), their names checked."""
    try:
        with open(path, "rb") as fh:
            spec = tomllib.load(fh)
    except OSError as exc:
        raise CommandError(f"--config {path}: cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise CommandError(f"--config {path}: not valid TOML ({exc})") from None
    except RecursionError:  # tomllib recurses once per level of nested arrays and tables
        raise CommandError(f"--config {path}: not valid TOML (arrays or tables nested too deeply)") from None
    unknown = set(spec) - {"grid", "fixed", "sweep"}
    if unknown:
        raise CommandError(f"--config {path}: unknown table(s) {', '.join(sorted(unknown))}; "
                           "use [grid], [fixed] and [sweep]")
    for table in ("grid", "fixed", "sweep"):
        if not isinstance(spec.setdefault(table, {}), dict):
            raise CommandError(f"--config {path}: [{table}] must be a table; got {table} = {spec[table]!r}")
    bad = set(spec["sweep"]) - set(SWEEP_OPTIONS)
    if bad:
        raise CommandError(f"--config {path}: [sweep] accepts {', '.join(SWEEP_OPTIONS)}; "
                           f"got {', '.join(sorted(bad))}")
    for name in ("out", "store"):
        value = spec["sweep"].get(name)
        if value is not None and not isinstance(value, str):
            raise CommandError(f"--config {path}: [sweep] {name} must be a path (a string); got {value!r}")
    for key in spec["grid"]:
        _check_names(key.split("+"), f"[grid] of {path}")
    _check_names(spec["fixed"], f"[fixed] of {path}")
    return spec


def _check_names(names, where: str) -> None:
    """Refuse a name that is no parameter of simulate() (the library would raise TypeError)."""
    for name in names:
        if name not in PARAMETERS:
            raise CommandError(f"{where}: unknown parameter {name!r}; parameters: {', '.join(PARAMETERS)}")


def _sweep(args) -> int:
    require("pandas", "sweep")
    from ..sweep import sweep

    spec = _read_config(args.config) if args.config else {"grid": {}, "fixed": {}, "sweep": {}}
    grid, fixed, options = dict(spec["grid"]), dict(spec["fixed"]), dict(spec["sweep"])
    swept = {key: f"[grid] {key} in {args.config}" for key in grid}  # where each axis was given
    for text in args.grid or []:
        name, values = _grid_option(text)
        _check_names(name.split("+"), f"--grid {text}")
        grid[name], swept[name] = values, f"--grid {text}"
    given = simulation_kwargs(args)
    fixed.update(given)
    for key in grid:
        for name in key.split("+"):
            if name in fixed:
                where = (f"--{name} {fixed[name]}" if name in given
                         else f"[fixed] {name} = {fixed[name]!r} in {args.config}")
                raise CommandError(f"{name} is both swept ({swept[key]}) and fixed ({where}); keep one")
    for name in SWEEP_OPTIONS:
        value = getattr(args, name)
        if value is not None:
            options[name] = value
    if not grid:
        raise CommandError("no grid: give --grid NAME=VALUES or a --config TOML file with a [grid] table")
    out = options.pop("out", "sweep.csv")
    out = check_output(out, _where(args, spec, "out", out), directory=False)
    if options.get("store") is not None:
        check_output(options["store"], _where(args, spec, "store", options["store"]), directory=True)
    start = time.perf_counter()
    result = sweep(grid, fixed, **options)
    out.parent.mkdir(parents=True, exist_ok=True)
    kept = "" if result.store is None else (f"; the sweep's cells are in the store {result.store}: rerun "
                                            "to write the table without computing them")
    with output_file(out, _where(args, spec, "out", out), kept) as tmp:
        result.table.to_csv(tmp, index_label="cell")
    cells = len(result.table)
    stage_one = result.table["stage_one"].mean() if "stage_one" in result.table else math.nan
    print(f"{cells} cells in {time.perf_counter() - start:.1f} s; Stage I seen in {100 * stage_one:.0f}% of them")
    print(f"table: {out}")
    return 0


def _where(args, spec, name: str, value) -> str:
    """How the user gave the sweep option ``name`` (= ``value``), for messages: option or TOML file."""
    if getattr(args, name) is None and name in spec["sweep"]:
        return f"[sweep] {name} = {value!r} in {args.config}"
    return f"--{name} {value}"


def add_parser(subparsers) -> None:
    """Add ``sweep`` to the subcommands."""
    p = subparsers.add_parser(
        "sweep", help="run a parameter grid; write one row of stage metrics per cell (CSV)",
        description="Run the Cartesian product of --grid values (and/or a TOML [grid] table) with the other "
                    "simulation options fixed; write the sweep table as CSV.",
    )
    p.add_argument("--grid", action="append", metavar="NAME=VALUES",
                   help="a swept parameter: NAME=v1,v2,... or NAME=lin:A:B:K, geom:A:B:K, range:A:B; "
                        "zipped parameters: A+B=a1/b1,a2/b2; repeatable (default: none, the grid of --config)")
    p.add_argument("--config", metavar="TOML",
                   help="TOML file with [grid], [fixed] and [sweep] tables (default: none)")
    p.add_argument("--out", default=None, help="CSV file of the table (default: sweep.csv)")
    p.add_argument("--store", default=None, help="store directory: keeps finished cells, resumes a killed sweep "
                                                 "(default: none, nothing kept)")
    p.add_argument("--backend", default=None, choices=["auto", "serial", "processes"],
                   help="where cells run (default: auto, worker processes when the work pays for starting them)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: all CPUs)")
    p.add_argument("--no-progress", dest="progress", action="store_const", const=False, default=None,
                   help="no progress bar (default: a progress bar while standard error is a terminal)")
    p.add_argument("--no-test-error", dest="test_error", action="store_const", const=False, default=None,
                   help="skip the test error, faster; the test-error columns stay empty "
                        "(default: computed)")
    add_simulation_options(p)
    p.set_defaults(handler=_sweep)
