"""Regenerate the tables, numbers and figures of docs/performance.md from fresh benchmark runs.

    python benchmarks/make_performance_docs.py           # runs the benchmarks (about 15 minutes)
    python benchmarks/make_performance_docs.py --reuse   # rewrites them from benchmarks/results/*.json

Runs bench_single.py, bench_scaling.py, bench_latency.py (full size), the
JAX part of bench_sweep.py and bench_threads_under_load.py --passive, which
write benchmarks/results/*.json, then writes
docs/performance/ (the tables, the machine, the JAX sections, and
numbers.json: the numbers the page's prose quotes, which the site shows as
MyST substitutions), docs/figures/performance_speedup_vs_d.png and
docs/figures/performance_time_per_step.png. The page itself, its prose,
includes them. Results without the JAX baseline (JAX not installed, or older
JSON) leave the JAX files empty.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _common  # noqa: E402

ROOT = HERE.parent
#: The tables and numbers the page includes, written by this script.
OUT = ROOT / "docs" / "performance"
FIGURES = ROOT / "docs" / "figures"
SPEEDUP_FIG = FIGURES / "performance_speedup_vs_d.png"
STEP_FIG = FIGURES / "performance_time_per_step.png"
COMMAND = "python benchmarks/make_performance_docs.py"


def run_benchmarks() -> None:
    import bench_latency
    import bench_scaling
    import bench_single
    import bench_sweep
    import bench_threads_under_load

    for module, argv in ((bench_single, []), (bench_scaling, []), (bench_latency, []),
                         (bench_sweep, ["--part", "jax"]), (bench_threads_under_load, ["--passive"])):
        module.main(argv)
        print()


def load(name: str, required: bool = True) -> dict | None:
    path = _common.RESULTS_DIR / f"{name}.json"
    if not required and not path.exists():
        return None
    return json.loads(path.read_text())


def fmt(value, digits=2) -> str:
    if value is None:
        return "–"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.{digits}f}"


def speedup_figure(single: dict) -> None:
    rows = single["d_series"]
    d = [r["d"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    series = [
        ("x_torch_float64_per_step", "per step (dynamics alone)", "o-"),
        ("x_torch_float64_gram_sampling", "whole call, sampling='gram'", "s-"),
        ("x_torch_float64_from_vectors", "from the same vectors (Gram + dynamics)", "^-"),
        ("x_torch_float64", "whole call, explicit vectors drawn", "v-"),
    ]
    for key, label, style in series:
        if all(key in r for r in rows):
            ax.plot(d, [r[key] for r in rows], style, label=label)
    ax.axhline(1000, color="grey", lw=0.8, ls=":")
    ax.set(xscale="log", yscale="log", xlabel="dimension d",
           ylabel="speed-up over PyTorch autograd (float64)",
           title="simulate vs autograd GD, n=200, m=10, 2,000 steps")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(SPEEDUP_FIG, dpi=120)
    plt.close(fig)


def step_figure(scaling: dict) -> None:
    fig, (ax_n, ax_m) = plt.subplots(1, 2, figsize=(9, 3.8))
    for ax, rows, key, other in ((ax_n, scaling["by_n"], "n", "m=10"), (ax_m, scaling["by_m"], "m", "n=200")):
        x = [r[key] for r in rows]
        ax.plot(x, [r["us_per_step"] for r in rows], "o-", label="median of repeats")
        best = [r.get("us_per_step_min", r["us_per_step"]) for r in rows]
        ax.plot(x, best, "s--", ms=4, label="fastest repeat")
        power = 2 if key == "n" else 1
        ax.plot(x, [best[-1] * (v / x[-1]) ** power for v in x], "k:", label=f"∝ {key}{'²' if power == 2 else ''}")
        ax.set(xscale="log", yscale="log", xlabel=key, ylabel="µs per step", title=f"time per step vs {key} ({other})")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(STEP_FIG, dpi=120)
    plt.close(fig)


def machine_line(info: dict) -> str:
    env = ", ".join(f"{k}={v}" for k, v in info.get("env", {}).items()) or "none set"
    return (f"{info['cpu']}, {info['cores']} cores; Python {info['python']}, NumPy {info['numpy']} "
            f"({info['blas']}), numba {info['numba']}, PyTorch {info.get('torch', 'not installed')} "
            f"({info.get('torch_threads', '–')} threads by default), JAX {info.get('jax', 'not installed')}; "
            f"threading/BLAS variables: {env}; "
            f"load average at start {info.get('load_average_1min', float('nan')):.1f}; {info['date']}")


def has_jax(row: dict | None) -> bool:
    """Whether a result row holds the JAX baseline (older results and runs without JAX do not)."""
    return row is not None and "jax_float32_s" in row


def gaps(agree: dict, dtype: str) -> str:
    names = {"numpy": "NumPy GD", "torch": "PyTorch", "jax": "JAX"}
    return ", ".join(f"{names[key.split('_')[0]]} {value:.1e}" for key, value in agree.items()
                     if key.endswith(f"{dtype}_rel_gap") or (dtype == "float64" and key == "numpy_rel_gap"))


def single_tables(single: dict) -> str:
    row = single["default"]
    agree = single["agreement"]
    jax_rows = [
        f"| JAX, whole loop jitted, float64 | {fmt(row.get('jax_float64_s'))} "
        f"| **{fmt(row.get('x_jax_float64'), 1)}x** |",
        f"| JAX, whole loop jitted, float32 | {fmt(row.get('jax_float32_s'))} "
        f"| **{fmt(row.get('x_jax_float32'), 1)}x** |",
    ] if has_jax(row) else []
    float32 = gaps(agree, "float32")
    lines = [
        f"Trajectories first ({agree['steps']} steps, max |Δf| / max |f| over the recorded outputs): "
        f"float64: {gaps(agree, 'float64')} (below {_common.AGREEMENT_RTOL:g} required)"
        + (f"; float32: {float32} (its own rounding; below {_common.FLOAT32_RTOL:g} required)." if float32 else "."),
        "",
        "| method | seconds for 2,000 steps | simulate is faster by |",
        "| --- | ---: | ---: |",
        f"| `simulate()`, whole call (draws the data, Gram, dynamics) | {fmt(row['simulate_s'], 3)} | 1 |",
        f"| coefficient dynamics from the same vectors (Gram + dynamics) | {fmt(row['from_vectors_s'], 3)} | – |",
        f"| `simulate(sampling=\"gram\")`, whole call | {fmt(row.get('gram_sampling_s'), 3)} | – |",
        f"| dynamics alone ({fmt(row['dynamics_per_step_us'], 1)} µs per step) | {fmt(row['dynamics_s'], 3)} | – |",
        f"| PyTorch autograd, float64 | {fmt(row.get('torch_float64_s'))} | **{fmt(row.get('x_torch_float64'), 1)}x** |",
        f"| PyTorch autograd, float32 | {fmt(row.get('torch_float32_s'))} | **{fmt(row.get('x_torch_float32'), 1)}x** |",
        *jax_rows,
        f"| NumPy full-weight GD (`reference.full_weight_gd`) | {fmt(row['numpy_s'])} | **{fmt(row['x_numpy'], 1)}x** |",
    ]
    if has_jax(row):
        lines += ["", f"JAX compiles its loop on the first call: {fmt(row['jax_float64_compile_s'])} s in float64 "
                  f"and {fmt(row['jax_float32_compile_s'])} s in float32 (first call minus warm call), not counted "
                  "above; a warm `simulate()` loads its compiled kernels from numba's disk cache instead."]
    pilot = {k: v for k, v in row.items() if "_pilot_ms_per_step_" in k}
    if pilot:
        lines += ["", "Pilot runs that chose each baseline's thread count (ms per step): "
                  + ", ".join(f"{k.split('_pilot')[0]} with {k.rsplit('_t', 1)[1]} threads {fmt(v)}"
                              for k, v in pilot.items())
                  + (f". The same network written with `conv1d` (kernel = stride = d), float64: "
                     f"{fmt(row['torch_conv1d_float64_s'])} s for 2,000 steps (extrapolated)"
                     if "torch_conv1d_float64_s" in row else "") + "."]
    lines += [
        "",
        "Against PyTorch float64, with the work on our side counted three ways: the whole call "
        f"**{fmt(row.get('x_torch_float64'), 1)}x**, from the same vectors "
        f"{fmt(row.get('x_torch_float64_from_vectors'), 1)}x, per step {fmt(row.get('x_torch_float64_per_step'), 1)}x.",
        "",
        "### Scaling in d (n=200, m=10, 2,000 steps)",
        "",
        "The baselines ran the number of steps shown and are extrapolated linearly to 2,000 "
        "(their cost per step is constant); `simulate` always ran all 2,000. Each row first checks "
        + ("that PyTorch float64, JAX float64 and `simulate` agree over the first steps (the larger gap is shown)."
           if all(has_jax(r) for r in single["d_series"]) else
           "that PyTorch float64 and `simulate` agree over the first steps."),
        "",
    ]
    with_jax = all(has_jax(r) for r in single["d_series"])
    jax_head = (" | JAX f64 s | JAX f32 s | x JAX f32 (whole call)", " ---: | ---: | ---: |") if with_jax else ("", "")
    lines += [
        "| d | baseline steps timed | agreement | PyTorch f64 s | PyTorch f32 s | NumPy GD s | simulate s "
        f"| gram sampling s | x f64 (whole call) | x f64 (from vectors) | x f64 (gram sampling) | x f64 per step{jax_head[0]} |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |" + jax_head[1],
    ]
    for r in single["d_series"]:
        check = max(r["check_rel_gap"], r.get("check_jax_rel_gap", 0.0))
        jax_cells = (f" | {fmt(r['jax_float64_s'])} | {fmt(r['jax_float32_s'])} | {fmt(r.get('x_jax_float32'))}"
                     if with_jax else "")
        lines.append(
            f"| {r['d']:,} | {r['baseline_steps']} | {check:.0e} | {fmt(r.get('torch_float64_s'))} "
            f"| {fmt(r.get('torch_float32_s'))} | {fmt(r['numpy_s'])} | {fmt(r['simulate_s'], 3)} "
            f"| {fmt(r.get('gram_sampling_s'), 3)} | {fmt(r.get('x_torch_float64'))} "
            f"| {fmt(r.get('x_torch_float64_from_vectors'))} | {fmt(r.get('x_torch_float64_gram_sampling'))} "
            f"| {fmt(r.get('x_torch_float64_per_step'))}{jax_cells} |")
    large = single.get("large")
    if has_jax(large) and large.get("agree"):
        lines += [
            "",
            f"### A large case (n={large['n']:,}, d={large['d']:,}, m={large['m']}, {large['steps']} steps)",
            "",
            "Whole calls: `simulate()` with explicit sampling draws the (n + 2m) × d vectors and forms their "
            "Gram matrix, O(n² d), which dominates it here; JAX float32 starts from the same vectors, warm "
            "(credited with its fastest call). JAX float64 agrees over the first "
            f"{large['check_steps']} steps ({large['jax_float64_rel_gap']:.0e}), float32 over all of them "
            f"({large['jax_float32_rel_gap']:.0e}).",
            "",
            "| `simulate()` s | its dynamics alone s | JAX f32 s | JAX f32 compile s | simulate is faster by |",
            "| ---: | ---: | ---: | ---: | ---: |",
            f"| {fmt(large['simulate_s'])} | {fmt(large['dynamics_s'])} | {fmt(large['jax_float32_s'])} "
            f"| {fmt(large['jax_float32_compile_s'])} | **{fmt(large['x_jax_float32'])}x** |",
        ]
        if "gram_sampling_s" in large:
            lines += [
                "",
                f"`simulate(sampling=\"gram\")` draws the Gram matrix of the same law directly, without any d-dimensional "
                f"vector (its own draw, not these vectors'): {fmt(large['gram_sampling_s'])} s, "
                f"**{fmt(large['x_jax_float32_gram'])}x** faster than the JAX float32 call above.",
            ]
    return "\n".join(lines)


def scaling_tables(scaling: dict) -> str:
    header = "| {0} | steps | µs per step (median) | µs per step (fastest) | useful GFLOP/s (fastest) |"
    lines = []
    for key in ("n", "m"):
        lines += ["" if lines else None, header.format(key), "| ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| {r[key]} | {r.get('steps', '–')} | {fmt(r['us_per_step'], 1)} "
                  f"| {fmt(r.get('us_per_step_min', r['us_per_step']), 1)} "
                  f"| {fmt(r.get('gflops_max', r['gflops']), 1)} |" for r in scaling[f"by_{key}"]]
    lines = [line for line in lines if line is not None]
    lines += ["", "| steps | whole `simulate()` s | µs per step |", "| ---: | ---: | ---: |"]
    lines += [f"| {r['steps']:,} | {fmt(r['simulate_s'], 3)} | {fmt(r['us_per_step'], 1)} |" for r in scaling["by_steps"]]
    lines += ["", "| d (`sampling=\"gram\"`) | whole `simulate()` s, 2,000 steps |", "| ---: | ---: |"]
    lines += [f"| {r['d']:.0e} | {fmt(r['simulate_s'], 3)} |" for r in scaling["by_d_gram"]]
    if scaling.get("jax_by_d"):
        lines += ["", "Per step against JAX's jitted loop (m=10; fastest repeats; the arrays already in JAX's "
                  "memory and compiled; neither side's one-off work counted, see above):"]
        for key, rows, other in (("d", scaling["jax_by_d"], "n=200"), ("n", scaling["jax_by_n"], "d=2000")):
            lines += ["", f"| {key} ({other}) | simulate µs per step | JAX f64 µs per step | JAX f32 µs per step "
                      "| x JAX f64 | x JAX f32 | trajectory gap f64 / f32 |",
                      "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
            lines += [f"| {r[key]:,} | {fmt(r['us_per_step_min'], 1)} | {fmt(r['jax_float64_us_per_step'], 1)} "
                      f"| {fmt(r['jax_float32_us_per_step'], 1)} | {fmt(r.get('x_jax_float64'), 1)} "
                      f"| {fmt(r.get('x_jax_float32'), 1)} | {r['jax_float64_rel_gap']:.0e} / "
                      f"{r['jax_float32_rel_gap']:.0e} |" for r in rows]
    return "\n".join(lines)


def sweep_section(sweep: dict | None) -> str:
    """The sweep against JAX's vmap, with and without a test set, or nothing when the results lack it."""
    row = None if sweep is None else sweep.get("versus_jax")
    if row is None or not row.get("agree"):
        return ""
    peer = "peer_s" in row
    lines = [
        f"Against JAX: `jax.vmap` of the jitted loop over {row['cells']} default cells (seeds; n={row['n']}, "
        f"d={row['d']}, m={row['m']}, {row['steps']} steps) in float32, from the drawn data; against it the whole "
        "`sweep()` of the same cells, which also draws the data and returns the table users read (stage "
        "analysis and its test error, precise to 2 % at 95 % confidence, at the default record grid). "
        f"Every JAX cell agrees with the simulator ({row['jax_float32_rel_gap']:.0e} in float32; "
        f"{row['jax_float64_rel_gap']:.0e} in float64 on the first cells). Fastest of the repeats.",
    ]
    if peer:
        lines += [
            "",
            f"Two JAX users: one who scores a clean test set of {row['peer_test_set']:,} samples at the "
            f"sweep's {row['peer_records']} recorded steps (the fair peer: it returns a test error too), and one "
            "who returns the final outputs only. The test set's error is a count: it reads 0 below one "
            f"mistake in {row['peer_test_set']:,}, as the peer's best error did in "
            f"{100 * row['peer_best_zero_share']:.0f} % of these cells, and its relative precision at an "
            "error p is about 2 / sqrt(p · size) at 95 % (20 % at p = 0.01), against our 2 % at any p.",
        ]
    lines += [
        "",
        "| method | seconds | cells per second | faster than JAX with a test set by | faster than JAX "
        "without one by |" if peer else "| method | seconds | cells per second | faster than JAX by |",
        "| --- | ---: | ---: | ---: | ---: |" if peer else "| --- | ---: | ---: | ---: |",
    ]
    for backend, what in (("serial", '`sweep(backend="serial")`'),
                          ("processes", '`sweep(backend="processes")`, worker processes'),
                          ("auto", '`sweep()` (backend="auto": ' + str(row.get("auto_backend", "its choice")) + ")")):
        if f"sweep_{backend}_s" not in row:
            continue
        cells = [fmt(row[f"sweep_{backend}_s"]), fmt(row[f"sweep_{backend}_cells_per_s"])]
        if peer:
            cells.append(f"**{fmt(row[f'x_peer_{backend}'])}x**")
        cells.append(f"**{fmt(row[f'x_jax_float32_{backend}'])}x**")
        lines.append(f"| {what} | " + " | ".join(cells) + " |")
    if peer:
        lines.append(f"| JAX `vmap`, float32, test set at every record | {fmt(row['peer_s'])} "
                     f"| {fmt(row['peer_cells_per_s'])} | 1 | |")
    lines.append(f"| JAX `vmap`, float32, final outputs only (compiling: {fmt(row['jax_float32_compile_s'])} s "
                 f"more) | {fmt(row['jax_float32_s'])} | {fmt(row['jax_float32_cells_per_s'])} |"
                 + (" | 1 |" if peer else " 1 |"))
    return "\n".join(lines + ["", ""])


def latency_table(latency: dict) -> str:
    cold, cached = latency["cold"], latency["cached_median"]
    colds = len(latency.get("cold_runs", [cold]))
    return "\n".join([
        "| new process | whole process s | import s | first `simulate()` s |",
        "| --- | ---: | ---: | ---: |",
        f"| first ever (empty cache: compiles; median of {colds}) | {fmt(cold['process_wall_s'])} "
        f"| {fmt(cold['import_s'])} | {fmt(cold['first_run_s'])} |",
        f"| any later one (median of {len(latency['cached_runs'])}) | {fmt(cached['process_wall_s'])} "
        f"| {fmt(cached['import_s'])} | {fmt(cached['first_run_s'])} |",
    ] + ([] if "cli_run" not in latency else [
        "",
        f"The first `labelnoise-sim run` (the default run, its analysis and the PNG figure) with an empty cache: "
        f"{fmt(latency['cli_run']['cold_s'])} s, the whole process (median of {len(latency['cli_run']['cold_runs'])}"
        f"; target {fmt(latency['cli_run']['cold_target_s'])} s); with the cache filled "
        f"{fmt(latency['cli_run']['cached_s'])} s.",
    ]))


def threads_table(threads: dict | None) -> str:
    """One thread, two threads and the library's choice for a single large run, quiet and loaded (or nothing
    when the results lack them)."""
    if threads is None:
        return ""
    args, info = threads["args"], threads["machine"]
    passive = any(row.get("passive_ms") is not None for row in threads["rows"])
    lines = [
        f"n = {args['n']}, m = {args['m']}, {args['steps']:,} steps a run, median of {args['repeats']} runs a "
        f"mode, ms per step; {info['cpu']}, {info['cores']} cores, {info['date']}. \"quiet\": no load added "
        "(the load average says what else ran); \"load L\": L busy processes beside the run.",
        "",
        "| case | load average | one thread | two threads" + (" | two, passive waits" if passive else "")
        + " | library's choice | its steps on two threads | library / one thread |",
        "| --- | ---: | ---: | ---:" + (" | ---:" if passive else "") + " | ---: | ---: | ---: |",
    ]
    for row in threads["rows"]:
        share = "–" if row.get("share") is None else f"{row['share']:.0f} %"
        lines.append(f"| {row['case']} | {fmt(row['load_average'], 1)} | {fmt(row['one_ms'])} | {fmt(row['two_ms'])}"
                     + (f" | {fmt(row.get('passive_ms'))}" if passive else "")
                     + f" | {fmt(row['auto_ms'])} | {share} | **{fmt(row['auto_vs_one'])}x** |")
    return "\n".join(lines)


def jax_headline(default: dict) -> str:
    if not has_jax(default):
        return ""
    return (f" Against JAX with the whole loop compiled (`jax.jit` over `lax.fori_loop`), the strongest "
            f"baseline we know, it is {fmt(default.get('x_jax_float64'), 1)}x faster in float64 and "
            f"{fmt(default.get('x_jax_float32'), 1)}x in float32, not counting JAX's compilation.")


def jax_method(single: dict) -> str:
    return f"""The JAX baseline (`benchmarks/_jax_baseline.py`, JAX {single['machine'].get('jax', '–')} from the
same extra) is what a researcher who cares about CPU speed writes: the same
network and loss, `jax.grad`, and the whole loop of gradient descent inside
`jax.jit` (`lax.fori_loop`), in float64 (`jax_enable_x64`) and float32, so
no Python runs between steps. It uses ⟨w, y_i μ⟩ = y_i ⟨w, μ⟩ (one
(2m×d)·d product for the signal patches), half the work of going through
both patches as the PyTorch baseline does. It runs with XLA's default
threads (fixed when JAX starts); its compilation, the first call minus a
warm call, is reported apart. Float32 runs must agree with `simulate`'s
float64 trajectory to {_common.FLOAT32_RTOL:g}: their rounding can flip a ReLU whose input
is within rounding of 0, and the float64 run of the same code agrees to {_common.AGREEMENT_RTOL:g}."""


def numbers(single: dict, latency: dict, sweep: dict | None = None) -> dict[str, str]:
    """The numbers the page's prose quotes, by the name of its MyST substitution (``{{ perf_x64 }}``); "–" where the
    results lack one (no JAX, older results)."""
    default = single["default"]
    big = {r["d"]: r for r in single["d_series"]}.get(100_000, {})
    large = single.get("large") or {}
    row = (sweep or {}).get("versus_jax") or {}
    return {
        "perf_cpu": single["machine"]["cpu"],
        "perf_x_jax32": fmt(default.get("x_jax_float32"), 1),
        "perf_large_explicit": fmt(large.get("x_jax_float32"), 1),
        "perf_large_gram": fmt(large.get("x_jax_float32_gram"), 1),
        "perf_sweep_peer": fmt(row.get("x_peer_serial"), 1),
        "perf_sweep_nopeer": fmt(row.get("x_jax_float32_serial"), 2),
        "perf_analysis_x": fmt(row.get("analysis_over_dynamics"), 1),
        "perf_auto_x": fmt(row.get("auto_over_serial"), 2),
        "perf_cold_simulate": fmt(latency["cold"]["first_run_s"], 1),
        "perf_cold_run": fmt((latency.get("cli_run") or {}).get("cold_s"), 1),
        "perf_x64": fmt(default.get("x_torch_float64"), 1),
        "perf_x32": fmt(default.get("x_torch_float32"), 1),
        "perf_xnp": fmt(default["x_numpy"], 1),
        "perf_jax_headline": jax_headline(default),
        "perf_big_step": fmt(big.get("x_torch_float64_per_step")),
        "perf_big_gram": fmt(big.get("x_torch_float64_gram_sampling")),
        "perf_big_vectors": fmt(big.get("x_torch_float64_from_vectors")),
        "perf_us_step": fmt(default["dynamics_per_step_us"], 1),
        "perf_cached": fmt(latency["cached_median"]["process_wall_s"]),
    }


#: The README's performance paragraph lies between these lines; the command rewrites it.
README = ROOT / "README.md"
README_START = "<!-- performance: written by python benchmarks/make_performance_docs.py -->"
README_END = "<!-- end of performance -->"


def readme_paragraph(single: dict, sweep: dict | None) -> str:
    """The README's performance paragraph, from the stored results (JAX's ratios only where it ran)."""
    default, info = single["default"], single["machine"]
    big = {r["d"]: r for r in single["d_series"]}.get(100_000, {})
    where = f"on {info['cpu']}, {info['cores']} cores, {info['date'][:10]}"
    if has_jax(default):
        text = (f"Against the strongest baseline we know, the same gradient descent written in JAX with the whole "
                f"loop compiled (`jax.jit` over `lax.fori_loop`), a whole warm `simulate()` call at the default "
                f"size was measured **{fmt(default.get('x_jax_float32'), 1)}x faster than JAX in float32** and "
                f"{fmt(default.get('x_jax_float64'), 1)}x in float64 ({fmt(default.get('x_torch_float64'), 1)}x "
                f"than PyTorch autograd in float64), on the same data and the same trajectory, {where}.")
    else:
        text = (f"A whole warm `simulate()` call at the default size was measured "
                f"**{fmt(default.get('x_torch_float64'), 1)}x faster than PyTorch autograd in float64**, on the "
                f"same data and the same trajectory, {where}.")
    text += f" A step costs the same at any d ({fmt(big.get('x_torch_float64_per_step'))}x cheaper than PyTorch's at d = 10⁵)."
    large = single.get("large") or {}
    if has_jax(large) and large.get("agree"):
        text += (f" At n = 2000, d = 20000 the whole call is {fmt(large['x_jax_float32'], 1)}x faster than JAX "
                 "float32 from the d-dimensional vectors")
        text += (f" and {fmt(large['x_jax_float32_gram'], 1)}x with `sampling=\"gram\"`." if "x_jax_float32_gram" in large
                 else ".")
    row = None if sweep is None else sweep.get("versus_jax")
    if row is not None and row.get("agree") and "x_peer_serial" in row:
        text += (f" A {row['cells']}-cell sweep with its stage analysis and test error precise to 2 % is "
                 f"{fmt(row['x_peer_serial'], 1)}x faster than JAX's `vmap` scoring a "
                 f"{row['peer_test_set']:,}-sample test set at the same steps, and "
                 f"{fmt(row['x_jax_float32_serial'], 2)}x against a `vmap` that computes no test error.")
    elif row is not None and row.get("agree"):
        text += (f" A {row['cells']}-cell sweep with its stage analysis and test error precise to 2 % is "
                 f"{fmt(row['x_jax_float32_serial'], 2)}x faster than JAX's `vmap`, which computes no test error.")
    return text + (" Tables, plots, the targets not reached and why, and the one command that regenerates "
                   "them: [docs/performance.md](docs/performance.md).")


def readme_with(paragraph: str, readme: str) -> str:
    """The README's text with ``paragraph`` between its performance markers."""
    head, rest = readme.split(README_START + "\n", 1)
    _, tail = rest.split(README_END, 1)
    return f"{head}{README_START}\n{paragraph}\n{README_END}{tail}"


def write_results(single: dict, scaling: dict, latency: dict, sweep: dict | None = None,
                  threads: dict | None = None) -> str:
    """Write the page's tables and numbers into OUT; returns all of it as one text."""
    files = {
        "threads.md": threads_table(threads) + "\n" if threads else "",
        "machine.md": machine_line(single["machine"]) + "\n",
        "single.md": single_tables(single) + "\n",
        "scaling.md": scaling_tables(scaling) + "\n",
        "sweep_jax.md": sweep_section(sweep),
        "latency.md": latency_table(latency) + "\n",
        "jax_method.md": jax_method(single) + "\n" if has_jax(single["default"]) else "",
        "numbers.json": json.dumps(numbers(single, latency, sweep), indent=1, ensure_ascii=False) + "\n",
    }
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (OUT / name).write_text(text)
    return "\n".join(files.values())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reuse", action="store_true", help="do not rerun the benchmarks; use stored JSON")
    args = parser.parse_args(argv)
    if not args.reuse:
        run_benchmarks()
    single, scaling, latency = load("bench_single"), load("bench_scaling"), load("bench_latency")
    FIGURES.mkdir(parents=True, exist_ok=True)
    speedup_figure(single)
    step_figure(scaling)
    sweep = load("bench_sweep", required=False)
    write_results(single, scaling, latency, sweep, load("bench_threads_under_load", required=False))
    README.write_text(readme_with(readme_paragraph(single, sweep), README.read_text()))
    print(f"written README.md's performance paragraph,  {OUT.relative_to(ROOT)}/, {SPEEDUP_FIG.relative_to(ROOT)}, {STEP_FIG.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
