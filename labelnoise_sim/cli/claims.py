"""The ``labelnoise-sim claims`` subcommand: the paper's statements as measured laws (:mod:`labelnoise_sim.claims`)."""

from __future__ import annotations

from ._checks import prepare_sweep_output

__all__ = ["add_parser"]


def _claims(args) -> int:
    prepare_sweep_output(args.out, "claims")
    from ..claims import measure

    outcome = measure(args.out, quick=args.quick)
    print(outcome.summary())
    return 0


def add_parser(subparsers) -> None:
    """Add ``claims`` to the subcommands."""
    p = subparsers.add_parser(
        "claims", help="measure the paper's statements as laws (exponents, constants, regions) from one sweep",
        description="Run one designed sweep, inside the paper's assumptions as the gallery entry han2025 declares "
                    "them, and decide the paper's statements as laws: the exponents of T1, the Stage I boundary, "
                    "the early-stopping and no-label-noise error rates, the Stage II bound and the log 2 selection "
                    "rule's precision. Writes OUT/claims.md (claim, theory, measured, verdict, seeds, uncertainty, "
                    "regime, region), "
                    "OUT/claims_table.md, OUT/claims_cells.csv and the figures OUT/claims_*.png. The sweep keeps "
                    "a store in OUT/store: an interrupted run resumes.",
    )
    p.add_argument("--quick", action="store_true",
                   help="a smaller design (about a minute on 2 cores); its verdicts are marked (quick)")
    p.add_argument("--out", default="claims", help="output directory (default: claims)")
    p.set_defaults(handler=_claims)
