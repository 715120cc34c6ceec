"""One run, same data, same steps: ``simulate`` against gradient descent on the raw weights.

Baselines, all on the data of the run being timed:

- PyTorch autograd, full-batch gradient descent on the (2, m, d) weights, CPU,
  float64 and float32, written as a user would: the two patches of every sample
  go through the same filters, ReLU, the mean over filters, the soft-margin
  (logistic) loss, ``loss.backward()`` and ``torch.optim.SGD``.
- JAX, float64 and float32 (``_jax_baseline.py``): the same network and loss
  with ``jax.grad``, the whole loop of gradient descent inside ``jax.jit``
  (``lax.fori_loop``), the strongest baseline we know how to write. Its timed
  call is warm (compiled); the compilation, first call minus warm call, is
  reported beside it.
- The full-weight NumPy gradient descent of ``labelnoise_sim.reference``.

The PyTorch and NumPy baselines are timed with their default thread count and
with one thread (``simulate`` uses one; BLAS threads are set with threadpoolctl
when it is installed) and the faster counts: on a shared machine,
oversubscribed BLAS threads can be many times slower than one. JAX runs with
XLA's default threads: its thread pool is fixed when JAX starts, so one
process cannot try both, and on the 2-core development machine, processes
started with ``XLA_FLAGS="--xla_cpu_multi_thread_eigen=false
intra_op_parallelism_threads=1"`` were no faster in either dtype.

Before any ratio is reported, the float64 trajectories (network outputs on the
training set) of all of them are checked against each other (relative gap
below ``AGREEMENT_RTOL``), and the float32 ones against the float64
trajectory of ``simulate`` to the looser ``FLOAT32_RTOL``.

Timed quantities of ``simulate`` (warm: compiled kernels already loaded):

- ``simulate``: the whole call, drawing the d-dimensional data and its Gram
  matrix, then running the dynamics. The baselines do not pay for drawing data,
  so this is the conservative side of the ratio.
- ``from vectors``: the Gram matrix of the given vectors plus the dynamics; the
  same work the baselines do, start (vectors) to end (trajectory).
- ``gram sampling``: ``simulate(sampling="gram")``, which draws the Gram matrix
  without ever forming a d-dimensional vector (another draw of the same law).

Baselines that would take long (large d) run for fewer steps and are
extrapolated linearly to the full count: their cost per step is constant.

The large case, n=2000, d=20000, m=10, 200 steps, times the whole
``simulate()`` call (explicit sampling: drawing the (n + 2m) × d Gaussian
vectors and their O(n² d) Gram matrix dominate it) against the whole warm JAX
float32 call, each baseline credited with its fastest repeat.

Usage::

    python benchmarks/bench_single.py                    # full: 2,000 steps, d up to 1e5, the large case
    python benchmarks/bench_single.py --quick            # a minute or so, without the large case
    python benchmarks/bench_single.py --quick --large    # with it: about two minutes more

Without PyTorch or JAX installed their columns are skipped (install the extra
with ``pip install -e ".[bench]"``); the ratio against the NumPy gradient
descent (issue 2's benchmark) is measured either way.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _jax_baseline as jaxb  # noqa: E402
from _common import (  # noqa: E402
    AGREEMENT_RTOL,
    FLOAT32_RTOL,
    format_table,
    machine_info,
    median_time,
    print_header,
    relative_gap,
    try_import_torch,
    write_json,
)

from labelnoise_sim import SimulationConfig, run, simulate  # noqa: E402
from labelnoise_sim.data import Data, explicit_gram, sample_data  # noqa: E402
from labelnoise_sim.reference import full_weight_gd  # noqa: E402

DEFAULT = dict(n=200, d=2000, m=10, eta=0.1, steps=2000)
D_SERIES = (1_000, 10_000, 100_000)
LARGE = dict(n=2000, d=20000, m=10, eta=0.1, steps=200)


# Baselines ---------------------------------------------------------------------

def torch_gd(data: Data, eta: float, steps: int, dtype: str = "float64", threads: int | None = None,
             record=(), model: str = "matmul"):
    """Full-batch gradient descent with PyTorch autograd on the raw weights.

    Returns the network outputs (len(record), n) at the steps in ``record``.
    ``model="conv1d"`` writes the network as a 1-D convolution with kernel and
    stride d over the concatenated patches (slower on CPU; reported once).
    """
    torch = try_import_torch()
    if torch is None:
        raise RuntimeError("PyTorch is not installed: pip install -e '.[bench]'")
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        dt = getattr(torch, dtype)
        m, d = data.W0.shape[1], data.W0.shape[2]
        # Patches of each sample: the signal patch y_i μ and the noise patch ξ_i, (n, 2, d).
        X = torch.from_numpy(np.stack([data.y[:, None] * data.mu, data.xi], axis=1)).to(dt)
        y_noisy = torch.from_numpy(data.y_noisy).to(dt)
        net = _torch_model(torch, model, torch.from_numpy(data.W0).to(dt), m, d)
        if model == "conv1d":
            X = X.reshape(X.shape[0], 1, 2 * d)
        opt = torch.optim.SGD(net.parameters(), lr=eta)
        record = set(int(s) for s in record)
        outputs = []
        for t in range(steps + 1):
            f = net(X)
            if t in record:
                outputs.append(f.detach().to(torch.float64).numpy().copy())
            if t == steps:
                break
            loss = torch.nn.functional.soft_margin_loss(f, y_noisy)  # mean log(1 + exp(-ỹ f))
            opt.zero_grad()
            loss.backward()
            opt.step()
        return np.array(outputs)
    finally:
        torch.set_num_threads(previous_threads)


def _torch_model(torch, kind: str, W0, m: int, d: int):
    class TwoLayerCNN(torch.nn.Module):
        """f(x) = (1/m) Σ_r Σ_p [σ(⟨w_{+1,r}, x⁽ᵖ⁾⟩) - σ(⟨w_{-1,r}, x⁽ᵖ⁾⟩)]; W is (2, m, d)."""

        def __init__(self):
            super().__init__()
            self.W = torch.nn.Parameter(W0.clone())

        def forward(self, X):
            if kind == "conv1d":  # X (n, 1, 2d) -> (n, 2m, 2): filter q on patch p
                act = torch.relu(torch.nn.functional.conv1d(X, self.W.reshape(2 * m, 1, d), stride=d))
                F = act.reshape(X.shape[0], 2, m, 2).sum(dim=(2, 3)) / m
            else:  # X (n, 2, d) -> (n, 2, 2, m): patch p, class j, filter r
                act = torch.relu(torch.einsum("npd,jrd->npjr", X, self.W))
                F = act.sum(dim=(1, 3)) / m
            return F[:, 0] - F[:, 1]

    return TwoLayerCNN()


def numpy_gd(data: Data, eta: float, steps: int):
    """The reference full-weight NumPy gradient descent; outputs at the last step."""
    return full_weight_gd(data, eta, steps, record_steps=[steps]).outputs


def from_vectors(config: SimulationConfig, data: Data):
    """Gram matrix of the given vectors, then the coefficient dynamics (what the baselines do)."""
    gram = explicit_gram(config.mu_norm, data.xi, data.W0)
    fresh = Data(data.y, data.y_noisy, gram, mu=data.mu, xi=data.xi, W0=data.W0)
    return run(config, fresh)


# Agreement -----------------------------------------------------------------------

def check_agreement(params: dict, steps: int, with_torch: bool, check_every: int = 10,
                    with_jax: bool = False) -> dict:
    """Trajectories of simulate, the NumPy GD and (if installed) torch and JAX, compared.

    Outputs are compared at every ``check_every``-th step (which must divide
    ``steps``) for torch and JAX and at the last step for NumPy: the float64
    ones to ``AGREEMENT_RTOL``, the float32 ones to ``FLOAT32_RTOL``.
    """
    config = SimulationConfig(**{**params, "steps": steps, "record": check_every})
    result = run(config)
    out = {"steps": steps}
    out["numpy_rel_gap"] = relative_gap(result.outputs[-1], numpy_gd(result.data, config.eta, steps)[-1])
    for dtype in ("float64", "float32"):
        if with_torch:
            f = torch_gd(result.data, config.eta, steps, dtype, record=result.t)
            out[f"torch_{dtype}_rel_gap"] = relative_gap(result.outputs, f)
        if with_jax:
            f = jaxb.jax_gd(result.data, config.eta, steps, dtype, record_every=check_every)
            out[f"jax_{dtype}_rel_gap"] = relative_gap(result.outputs, f)
    out["agree"] = out["numpy_rel_gap"] < AGREEMENT_RTOL and all(
        value < (FLOAT32_RTOL if key.endswith("float32_rel_gap") else AGREEMENT_RTOL)
        for key, value in out.items() if key.endswith("_rel_gap"))
    return out


# Timing ----------------------------------------------------------------------------

def time_case(params: dict, baseline_steps: int, repeats: int, with_torch: bool, threads_list,
              conv1d: bool = False, pilot_steps: int = 20, with_jax: bool = False) -> dict:
    """Seconds for ``params['steps']`` steps of every method (baselines extrapolated).

    With several thread counts, a pilot of ``pilot_steps`` steps picks each
    baseline's faster count, which is then timed over ``baseline_steps``.
    JAX runs with its default threads; its compilation (first call minus warm
    call) is recorded as ``jax_<dtype>_compile_s``.
    """
    config = SimulationConfig(**params)
    steps = config.steps
    data = sample_data(config)
    scale = steps / baseline_steps
    row = {"n": config.n, "d": config.d, "m": config.m, "steps": steps, "baseline_steps": baseline_steps}
    simulate(**{**params, "steps": 1})  # load the compiled kernels
    ours = repeats + 2  # cheap: a few more repeats steady the median
    row["simulate_s"] = median_time(lambda: simulate(**params), ours)
    row["from_vectors_s"] = median_time(lambda: from_vectors(config, data), ours)
    row["dynamics_s"] = median_time(lambda: run(config, data), ours)
    row["gram_sampling_s"] = median_time(lambda: simulate(**params, sampling="gram"), ours)
    row["dynamics_per_step_us"] = 1e6 * row["dynamics_s"] / steps

    baselines = {"numpy": (lambda k, threads: numpy_gd(data, config.eta, k), numpy_threads(threads_list),
                           blas_threads)}
    if with_torch:
        for dtype in ("float64", "float32"):
            baselines[f"torch_{dtype}"] = (
                lambda k, threads, dtype=dtype: torch_gd(data, config.eta, k, dtype, threads),
                threads_list, lambda threads: contextlib.nullcontext())
    if with_jax:
        for dtype in ("float64", "float32"):
            baselines[f"jax_{dtype}"] = (
                lambda k, threads, dtype=dtype: jaxb.jax_gd(data, config.eta, k, dtype),
                [None], lambda threads: contextlib.nullcontext())
    for name, (train, counts, limit) in baselines.items():
        if name.startswith("jax_"):
            row[f"{name}_compile_s"] = jax_compile_time(lambda: train(2, None))
        pilot = {}
        for threads in counts:
            with limit(threads):
                train(2, threads)  # warm-up
                if len(counts) > 1:
                    pilot[threads] = median_time(lambda: train(pilot_steps, threads), 1) / pilot_steps
        best = min(pilot, key=pilot.get) if pilot else counts[0]
        for threads, seconds in pilot.items():
            row[f"{name}_pilot_ms_per_step_t{threads or 'default'}"] = 1e3 * seconds
        row[f"{name}_threads"] = best or "default"
        with limit(best):
            row[f"{name}_timed_s"] = scale * median_time(lambda: train(baseline_steps, best), repeats)
        # A disturbance during the long timed run must not inflate a ratio: the
        # baseline is credited with the faster of the timed run and the pilot's rate.
        row[f"{name}_s"] = min([row[f"{name}_timed_s"]] + [steps * v for v in pilot.values()])
    if with_torch and conv1d:
        row["torch_conv1d_float64_s"] = min(
            steps / pilot_steps * median_time(
                lambda: torch_gd(data, config.eta, pilot_steps, "float64", threads, model="conv1d"), 1)
            for threads in threads_list)
    add_ratios(row)
    return row


def jax_compile_time(call) -> float:
    """Seconds XLA spends compiling ``call``: its first call, all caches cleared, minus a warm call.

    The loop's step count is a traced value, so one compilation serves every
    step count and a short ``call`` measures it with little else.
    """
    jaxb.clear_compiled()
    first = median_time(call, 1)
    return max(first - median_time(call, 3), 0.0)


def numpy_threads(threads_list):
    """BLAS thread counts to time the NumPy baseline with (one thread needs threadpoolctl)."""
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        return [None]
    return threads_list


def blas_threads(threads):
    """Limit BLAS to ``threads`` threads inside the block (None: leave as is)."""
    if threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads, user_api="blas")


def add_ratios(row: dict) -> None:
    """Speed-ups of simulate over each baseline."""
    for base in ("numpy", "torch_float64", "torch_float32", "jax_float64", "jax_float32"):
        if f"{base}_s" not in row:
            continue
        row[f"x_{base}"] = row[f"{base}_s"] / row["simulate_s"]
        row[f"x_{base}_from_vectors"] = row[f"{base}_s"] / row["from_vectors_s"]
        row[f"x_{base}_per_step"] = (row[f"{base}_s"] / row["steps"]) / (row["dynamics_s"] / row["steps"])
        row[f"x_{base}_gram_sampling"] = row[f"{base}_s"] / row["gram_sampling_s"]


COLUMNS = [
    ("d", "d"), ("baseline_steps", "timed steps"), ("simulate_s", "simulate s"),
    ("from_vectors_s", "from vectors s"), ("gram_sampling_s", "gram sampling s"),
    ("dynamics_per_step_us", "µs/step"), ("numpy_s", "NumPy GD s"),
    ("torch_float64_s", "torch f64 s"), ("torch_float32_s", "torch f32 s"),
    ("jax_float64_s", "JAX f64 s"), ("jax_float32_s", "JAX f32 s"),
    ("x_numpy", "x NumPy"), ("x_torch_float64", "x torch f64"), ("x_torch_float32", "x torch f32"),
    ("x_jax_float64", "x JAX f64"), ("x_jax_float32", "x JAX f32"),
    ("x_torch_float64_from_vectors", "x f64 (from vectors)"),
    ("x_torch_float64_gram_sampling", "x f64 (gram sampling)"),
    ("x_torch_float64_per_step", "x f64 per step"),
]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats (about a minute)")
    parser.add_argument("--large", action="store_true",
                        help="with --quick, also time the large case (full runs always do)")
    parser.add_argument("--repeats", type=int, default=None, help="timing repeats (median reported)")
    parser.add_argument("--out", default=None, help="directory of the JSON result (default benchmarks/results)")
    args = parser.parse_args(argv)

    torch = try_import_torch()
    with_torch, with_jax = torch is not None, jaxb.available()
    info = machine_info()
    print_header("bench_single: simulate vs gradient descent on the raw weights", info)
    if not with_torch:
        print("# PyTorch is not installed: torch columns skipped (pip install -e '.[bench]' adds them)")
    if not with_jax:
        print("# JAX is not installed: JAX columns skipped (pip install -e '.[bench]' adds them)")
    repeats = args.repeats or (1 if args.quick else 3)
    default_baseline_steps = 100 if args.quick else DEFAULT["steps"]
    # Full runs time the baselines with their default thread count and with one
    # thread and keep the faster; --quick times one thread only.
    threads_list = [1] if args.quick else [None, 1]
    name = "bench_single_quick" if args.quick else "bench_single"

    agreement = check_agreement(DEFAULT, 100 if args.quick else DEFAULT["steps"], with_torch,
                                with_jax=with_jax)
    print(f"# agreement over {agreement['steps']} steps (max |Δf| / max |f|; float64 below {AGREEMENT_RTOL:g}, "
          f"float32 below {FLOAT32_RTOL:g}): " + ", ".join(
              f"{key.removesuffix('_rel_gap')} {value:.1e}" for key, value in agreement.items()
              if key.endswith("_rel_gap")))
    if not agreement["agree"]:
        print("# TRAJECTORIES DISAGREE: no ratio is reported")
        payload = {"machine": info, "agreement": agreement, "quick": args.quick}
        write_json(name, payload, args.out)
        return payload

    default_row = time_case(DEFAULT, default_baseline_steps, repeats, with_torch, threads_list,
                            conv1d=with_torch and not args.quick, with_jax=with_jax)
    series = []
    for d in D_SERIES:
        # Baselines cost O(m n d) per step: time a fixed number of steps, extrapolate.
        baseline_steps = series_baseline_steps(d, args.quick)
        series_agreement = check_series_agreement(d, min(baseline_steps, 50), with_torch, with_jax)
        if not series_agreement["agree"]:
            print(f"# d={d}: TRAJECTORIES DISAGREE ({series_agreement}): no ratio is reported")
            continue
        row = time_case({**DEFAULT, "d": d}, baseline_steps, repeats if d <= 10_000 else 1,
                        with_torch, threads_list, with_jax=with_jax)
        row.update(series_agreement)
        series.append(row)

    print(f"\n## Default size (n=200, d=2000, m=10, {DEFAULT['steps']} steps); "
          f"baselines timed over {default_baseline_steps} steps"
          + (" and extrapolated" if default_baseline_steps < DEFAULT["steps"] else ""))
    print(format_table([default_row], COLUMNS))
    pilot_keys = [k for k in default_row if "_pilot_ms_per_step_" in k]
    if pilot_keys or "torch_conv1d_float64_s" in default_row:
        print("pilot, ms per step by thread count: "
              + ", ".join(f"{k.replace('_pilot_ms_per_step_t', ' threads=')} {default_row[k]:.2f}" for k in pilot_keys)
              + (f"; conv1d form float64 {default_row['torch_conv1d_float64_s']:.2f} s"
                 if "torch_conv1d_float64_s" in default_row else ""))
    if with_jax:
        print(f"JAX compilation (first call minus warm call, not in the times above): "
              f"float64 {default_row['jax_float64_compile_s']:.2f} s, "
              f"float32 {default_row['jax_float32_compile_s']:.2f} s")
    print(f"\n## d-scaling (n=200, m=10, {DEFAULT['steps']} steps; baselines timed over the steps shown "
          "and extrapolated linearly to 2,000)")
    print(format_table(series, COLUMNS))

    large = None
    if (not args.quick or args.large) and not with_jax:
        print("\n# JAX is not installed: the large case, simulate against JAX float32, is skipped")
    elif not args.quick or args.large:
        large = time_large(repeats=1 if args.quick else 2)
        print(f"\n## Large case (n={LARGE['n']}, d={LARGE['d']}, m={LARGE['m']}, {LARGE['steps']} steps), "
              f"whole calls, {large['seconds']:.0f} s for this part")
        print(format_table([large], LARGE_COLUMNS))
        if not large["agree"]:
            print("# TRAJECTORIES DISAGREE: no ratio is reported for the large case")

    print(f"\nHeadline: simulate is {default_row['x_numpy']:.0f}x faster than the NumPy gradient descent"
          + (f", {default_row['x_torch_float64']:.0f}x than torch float64 and "
             f"{default_row['x_torch_float32']:.0f}x than torch float32" if with_torch else "")
          + (f", {default_row['x_jax_float64']:.0f}x than JAX float64 and "
             f"{default_row['x_jax_float32']:.0f}x than JAX float32" if with_jax else "")
          + " at the default size (whole simulate call, warm).")
    if large is not None and "x_jax_float32" in large:
        print(f"At n={LARGE['n']}, d={LARGE['d']}, {LARGE['steps']} steps: the whole simulate call is "
              f"{large['x_jax_float32']:.2f}x as fast as JAX float32.")

    payload = {"machine": info, "quick": args.quick, "repeats": repeats, "agreement": agreement,
               "default": default_row, "d_series": series, "large": large}
    path = write_json(name, payload, args.out)
    print(f"# written {path}")
    return payload


def time_large(repeats: int, params: dict = LARGE, check_steps: int = 20) -> dict:
    """The whole ``simulate()`` call against the whole warm JAX float32 call, at ``params``' size.

    Agreement first: JAX float64 against ``simulate`` over the first
    ``check_steps`` steps (to ``AGREEMENT_RTOL``; a float64 run of all the
    steps would cost more than the rest of the case), and JAX float32 over all
    the steps (the outputs of its timed calls, to ``FLOAT32_RTOL``). The ratio
    uses the median of ``simulate`` and the fastest JAX call.
    """
    start = time.perf_counter()
    result = simulate(**params)  # loads the compiled kernels; its data and outputs are the reference
    config, data, steps = result.config, result.data, params["steps"]
    row = {"n": config.n, "d": config.d, "m": config.m, "steps": steps}
    row["simulate_s"] = median_time(lambda: simulate(**params), repeats)
    row["dynamics_s"] = median_time(lambda: run(config, data), repeats)
    # The same law without any d-dimensional vector: its own draw of the Gram matrix (not this data's).
    gram = {**params, "sampling": "gram"}
    simulate(**gram)
    row["gram_sampling_s"] = median_time(lambda: simulate(**gram), repeats)
    check = run(config.replace(steps=check_steps, record=[check_steps]), data).outputs[-1]
    row["check_steps"] = check_steps
    row["jax_float64_rel_gap"] = relative_gap(check, jaxb.jax_gd(data, config.eta, check_steps, "float64")[-1])
    row["jax_float32_compile_s"] = jax_compile_time(lambda: jaxb.jax_gd(data, config.eta, 2, "float32"))
    times, gaps = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f = jaxb.jax_gd(data, config.eta, steps, "float32")
        times.append(time.perf_counter() - t0)
        gaps.append(relative_gap(result.outputs[-1], f[-1]))
    row["jax_float32_s"], row["jax_float32_rel_gap"] = min(times), max(gaps)
    row["agree"] = row["jax_float64_rel_gap"] < AGREEMENT_RTOL and row["jax_float32_rel_gap"] < FLOAT32_RTOL
    if row["agree"]:
        row["x_jax_float32"] = row["jax_float32_s"] / row["simulate_s"]
        row["x_jax_float32_gram"] = row["jax_float32_s"] / row["gram_sampling_s"]
    row["seconds"] = time.perf_counter() - start
    return row


LARGE_COLUMNS = [
    ("n", "n"), ("d", "d"), ("steps", "steps"), ("simulate_s", "simulate s"), ("dynamics_s", "dynamics s"),
    ("jax_float32_s", "JAX f32 s"), ("jax_float32_compile_s", "JAX f32 compile s"),
    ("jax_float64_rel_gap", "f64 gap (first steps)"), ("jax_float32_rel_gap", "f32 gap"),
    ("x_jax_float32", "x JAX f32"), ("gram_sampling_s", "gram sampling s"), ("x_jax_float32_gram", "x JAX f32 (gram)"),
]


def series_baseline_steps(d: int, quick: bool) -> int:
    """Steps the baselines run at dimension d: about 2e6/d (2e5/d quick), within [5, 2000]."""
    return int(np.clip((2e5 if quick else 2e6) / d, 5, DEFAULT["steps"]))


def check_series_agreement(d: int, steps: int, with_torch: bool, with_jax: bool = False) -> dict:
    """Float64 agreement of simulate with torch (or NumPy) and JAX over the first ``steps`` steps at dimension d."""
    config = SimulationConfig(**{**DEFAULT, "d": d, "steps": steps, "record": [steps]})
    result = run(config)
    if with_torch:
        other = torch_gd(result.data, config.eta, steps, "float64", record=[steps])
    else:
        other = numpy_gd(result.data, config.eta, steps)
    gap = relative_gap(result.outputs, other)
    out = {"check_steps": steps, "check_rel_gap": gap}
    if with_jax:
        out["check_jax_rel_gap"] = relative_gap(result.outputs[-1],
                                                jaxb.jax_gd(result.data, config.eta, steps, "float64")[-1])
    out["agree"] = max(gap, out.get("check_jax_rel_gap", 0.0)) < AGREEMENT_RTOL
    return out


if __name__ == "__main__":
    main()
