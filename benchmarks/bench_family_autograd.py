"""The model family: ``simulate`` checked against PyTorch autograd, and what each option costs per step.

For each variant, a sample of the options and of their combinations, at one
size (by default n=200, d=2000, m=10, η=0.1 or as the variant says):

1. The check. The outputs of ``simulate`` at every ``--check-every``-th of
   the first ``--check-steps`` steps against those of PyTorch autograd on the
   same data and schedule (``_torch_family.torch_family_gd``: float64, the
   model written as a user would, ``torch.optim.SGD``, SAM by hand). The
   relative gap max |Δf| / max |f| is printed; a gap above ``RTOL`` makes the
   script exit with status 1, after the table. Without PyTorch the check is
   against the NumPy reference (``labelnoise_sim.reference.full_weight_gd``,
   itself checked against autograd by tests/test_reference_autograd.py), and
   the table says so.
2. The time, of a variant that passed its check. The dynamics of ``simulate``
   (``labelnoise_sim.run`` on data drawn beforehand: the step's cost, not the
   Gram matrix's), recording only the first and last step, the best of
   ``--repeats`` calls after a warm-up one; per step, and as a ratio to the
   default ReLU run (the paper's model) of the same size.

A variant the kernel does not run (NotImplementedError) prints as "not built".
The table is Markdown.

A full run keeps its rows in benchmarks/results/bench_family_autograd.json;
``--docs`` writes the table to docs/tables/family_autograd.md, which
docs/family.md includes (tests/test_benchmarks.py checks that it is the
table of the kept rows).

Usage::

    python benchmarks/bench_family_autograd.py --docs     # 2,000 timed steps, 100 checked; the docs table
    python benchmarks/bench_family_autograd.py --quick    # 200 timed steps, 30 checked
    python benchmarks/bench_family_autograd.py --reuse    # the table of the kept rows
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS_DIR, machine_info, print_header, relative_gap, try_import_torch, write_json  # noqa: E402

from labelnoise_sim import SimulationConfig, run, simulate  # noqa: E402
from labelnoise_sim.data import sample_data  # noqa: E402
from labelnoise_sim.reference import full_weight_gd  # noqa: E402

#: Where a full run keeps its rows, and the table of them that docs/family.md includes (``--docs``).
RESULT = RESULTS_DIR / "bench_family_autograd.json"
TABLE = Path(__file__).resolve().parents[1] / "docs" / "tables" / "family_autograd.md"
#: The largest relative gap to autograd a float64 run may show.
RTOL = 1e-10
SIZE = dict(n=200, d=2000, m=10, eta=0.1)
#: Each variant: the options given to simulate besides SIZE (an η of its own where the default would diverge).
VARIANTS = {
    "relu (the paper's model)": {},
    "relu^2": dict(activation="relu^2"),
    "leaky_relu": dict(activation="leaky_relu(0.1)"),
    "smoothed_relu": dict(activation="smoothed_relu(2,0.5)"),
    "hinge": dict(loss="hinge"),
    "exponential": dict(loss="exponential"),
    "squared": dict(loss="squared"),
    "patches=3": dict(patches=3),
    "patches=5": dict(patches=5),
    "additive": dict(layout="additive"),
    "bias": dict(bias=True),
    "output_scale=sum": dict(output_scale="sum", eta=0.01),
    "minibatch dividing n": dict(batch_size=50),
    "minibatch not dividing n": dict(batch_size=64),
    "momentum": dict(momentum=0.9, eta=0.01),
    "weight_decay": dict(weight_decay=1e-3),
    "label_noise": dict(label_noise=0.1),
    "sam": dict(sam=0.05),
    "leaky + hinge + bias + momentum + decay": dict(activation="leaky_relu(0.2)", loss="hinge", bias=True,
                                                    momentum=0.9, weight_decay=1e-3, eta=0.01),
    "relu^2 + label_noise + minibatch": dict(activation="relu^2", label_noise=0.05, batch_size=50),
    "smoothed + sam + patches=3": dict(activation="smoothed_relu(2,0.1)", sam=0.05, patches=3),
    "additive + exponential + weight decay": dict(layout="additive", loss="exponential", weight_decay=1e-3),
    "squared + sum + additive": dict(loss="squared", output_scale="sum", layout="additive", eta=0.01),
}


def check_variant(params: dict, steps: int, every: int) -> tuple[float, str]:
    """The relative gap of ``simulate``'s outputs to autograd's (or the reference's), and which it was."""
    result = simulate(**params, steps=steps, record=every)
    config, data = result.config, result.data
    if try_import_torch() is None:
        return relative_gap(result.outputs, full_weight_gd(data, config.eta, steps, result.t, config=config).outputs), \
            "reference"
    from _torch_family import full_batch, torch_family_gd

    schedule = result.schedule if config.stochastic else full_batch(config.n)
    outputs = torch_family_gd(data, config, steps, schedule, record=result.t)[0]
    return relative_gap(result.outputs, outputs), "autograd"


def time_per_step(variants: dict, steps: int, repeats: int) -> dict:
    """Seconds per step of the dynamics of each variant (name: params), the best of ``repeats`` calls after a
    warm-up one; the variants take turns within each repeat, so that a busy machine slows them alike."""
    runs = {}
    for name, params in variants.items():
        config = SimulationConfig.from_params(**params, steps=steps, record=steps)
        runs[name] = config, sample_data(config)
        run(*runs[name])  # compiles the kernel, or loads it from numba's cache
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, (config, data) in runs.items():
            start = time.perf_counter()
            run(config, data)
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: seconds / steps for name, seconds in best.items()}


def measure(variants: dict, size: dict, steps: int, check_steps: int, check_every: int, repeats: int) -> list[dict]:
    """One row per variant: its check, its time per step and the ratio to the first variant's."""
    rows = []
    timed = {}
    for name, options in variants.items():
        params = {**size, **options}
        row = {"variant": name, "options": ", ".join(f"{k}={v}" for k, v in options.items()) or "defaults"}
        try:
            row["gap"], row["against"] = check_variant(params, check_steps, check_every)
            if row["gap"] <= RTOL:
                timed[name] = params
        except NotImplementedError:
            row["status"] = "not built"
        rows.append(row)
        print(f"# {name}: {describe(row)}", file=sys.stderr, flush=True)
    seconds = time_per_step(timed, steps, repeats)
    for row in rows:
        if row["variant"] in seconds:
            row["s_per_step"] = seconds[row["variant"]]
    base = rows[0].get("s_per_step")
    for row in rows:
        if base is not None and "s_per_step" in row:
            row["ratio"] = row["s_per_step"] / base
    return rows


def describe(row: dict) -> str:
    if row.get("status") == "not built":
        return "not built"
    text = f"gap {row['gap']:.1e} against {row['against']}"
    if row["gap"] > RTOL:
        return text + f", above {RTOL:g}: not timed"
    return text


def markdown(rows: list[dict]) -> str:
    lines = ["| variant | options | relative gap | checked against | µs per step | × relu |",
             "|---|---|---:|---|---:|---:|"]
    for row in rows:
        if row.get("status") == "not built":
            lines.append(f"| {row['variant']} | {row['options']} | not built | | | |")
            continue
        gap = f"{row['gap']:.1e}" + ("" if row["gap"] <= RTOL else " (FAILED)")
        per_step = f"{row['s_per_step'] * 1e6:.1f}" if "s_per_step" in row else "-"
        ratio = f"{row['ratio']:.2f}" if "ratio" in row else "-"
        lines.append(f"| {row['variant']} | {row['options']} | {gap} | {row['against']} | {per_step} | {ratio} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 timed steps, 30 checked (every 3rd)")
    parser.add_argument("--n", type=int, default=SIZE["n"])
    parser.add_argument("--d", type=int, default=SIZE["d"])
    parser.add_argument("--m", type=int, default=SIZE["m"])
    parser.add_argument("--steps", type=int, default=None, help="timed steps (2,000; 200 with --quick)")
    parser.add_argument("--check-steps", type=int, default=None, help="steps checked (100; 30 with --quick)")
    parser.add_argument("--check-every", type=int, default=None, help="check every k-th step (5; 3 with --quick)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help=f"print the table of the last full run ({RESULT.name})")
    parser.add_argument("--docs", action="store_true", help="write the table that docs/family.md includes")
    args = parser.parse_args(argv)
    steps = args.steps or (200 if args.quick else 2000)
    check_steps = args.check_steps or (30 if args.quick else 100)
    check_every = args.check_every or (3 if args.quick else 5)
    size = {**SIZE, "n": args.n, "d": args.d, "m": args.m}

    print_header("The model family: simulate against PyTorch autograd (float64), time per step", machine_info())
    print(f"# n={size['n']}, d={size['d']}, m={size['m']}; outputs checked over {check_steps} steps, every "
          f"{check_every} steps; timed over {steps} steps, best of {args.repeats}\n")
    if args.reuse:
        rows = json.loads(RESULT.read_text())["rows"]
    else:
        rows = measure(VARIANTS, size, steps, check_steps, check_every, args.repeats)
        if not args.quick:
            write_json(RESULT.stem, {"machine": machine_info(), "size": size, "steps": steps,
                                     "check_steps": check_steps, "repeats": args.repeats, "rows": rows},
                       RESULT.parent)
    print(markdown(rows))
    if args.docs:
        TABLE.write_text(markdown(rows) + "\n")
        print(f"wrote {TABLE}")
    failed = [row["variant"] for row in rows if row.get("gap", 0) > RTOL]
    if failed:
        print(f"\nFAILED: relative gap above {RTOL:g} for {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
