"""Command line: ``labelnoise-sim``.

Subcommands register themselves in :data:`COMMANDS`; with no subcommand the
default run (``labelnoise-sim run``) is executed. Options carry the names of
:func:`labelnoise_sim.simulate`'s parameters, and their values are checked by
the library itself, so the command line reports exactly the library's errors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main", "add_simulation_options", "simulation_kwargs"]

#: Parameters of ``simulate`` offered as options: name -> (help, kind).
SIMULATION_OPTIONS = {
    "n": ("training samples", "number"),
    "d": ("dimension of each patch", "number"),
    "m": ("filters per class", "number"),
    "eta": ("learning rate", "number"),
    "steps": ("gradient steps", "number"),
    "tau": ("flip rate of both classes", "number"),
    "tau_pos": ("flip rate P(noisy=-1 | y=+1)", "number"),
    "tau_neg": ("flip rate P(noisy=+1 | y=-1)", "number"),
    "mu_norm": ("signal norm ||mu||", "number"),
    "snr": ("signal-to-noise ratio ||mu|| / (sigma_xi sqrt(d))", "number"),
    "n_snr2": ("n * snr^2", "number"),
    "sigma0": ("std of the initial weights", "number"),
    "sigma_xi": ("std of the noise patch", "number"),
    "noise": ("'isotropic' or 'orthogonal'", "text"),
    "seed": ("random seed", "number"),
    "record": ("record every k steps (default: logarithmic grid)", "number"),
    "sampling": ("'explicit' or 'gram' (Gram statistics drawn directly, cost free of d)", "text"),
}


def _number(text: str):
    """Parse ints as int and everything else as float; the library validates ranges."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def add_simulation_options(parser: argparse.ArgumentParser, defaults: dict | None = None) -> None:
    """Add one ``--name`` option per simulate() parameter (``--tau_pos`` also as ``--tau-pos``)."""
    group = parser.add_argument_group("simulation parameters (as in simulate())")
    for name, (help_text, kind) in SIMULATION_OPTIONS.items():
        flags = [f"--{name}"] + ([f"--{name.replace('_', '-')}"] if "_" in name else [])
        default = (defaults or {}).get(name)
        suffix = f" (default: {default})" if default is not None else ""
        group.add_argument(*flags, dest=name, type=_number if kind == "number" else str,
                           default=default, metavar=name.upper(), help=help_text + suffix)


def simulation_kwargs(args: argparse.Namespace) -> dict:
    """The simulate() keywords the user gave (others keep the library defaults)."""
    return {name: getattr(args, name) for name in SIMULATION_OPTIONS if getattr(args, name) is not None}


def _run(args: argparse.Namespace) -> int:
    from .dynamics import simulate
    from .reporting import run_report

    result = simulate(**simulation_kwargs(args))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for line in run_report(result, out):
        print(line)
    return 0


def _add_run(subparsers) -> None:
    p = subparsers.add_parser("run", help="run one simulation; print a summary, write the result and figures")
    add_simulation_options(p)
    p.add_argument("--out", default="labelnoise_run", help="output directory (default: %(default)s)")
    p.set_defaults(handler=_run)


#: Subcommand builders; each adds its parser and sets ``handler``.
COMMANDS = [_add_run]

from ._stage_commands import add_figure  # noqa: E402  (it uses the helpers above)

COMMANDS.append(add_figure)

from ._sweep_commands import add_phase, add_sweep  # noqa: E402  (they use the helpers above)

COMMANDS += [add_sweep, add_phase]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labelnoise-sim",
        description="Exact simulation of feature learning under label noise (two-layer ReLU CNN).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["run"] + argv
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ValueError as exc:
        parser.exit(2, f"labelnoise-sim: error: {exc}\n")


if __name__ == "__main__":
    sys.exit(main())
