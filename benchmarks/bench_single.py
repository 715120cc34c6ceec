"""One run, same data, same steps: ``simulate`` against gradient descent on the raw weights.

Baselines, all on the data of the run being timed:

- PyTorch autograd, full-batch gradient descent on the (2, m, d) weights, CPU,
  float64 and float32, written as a user would: the two patches of every sample
  go through the same filters, ReLU, the mean over filters, the soft-margin
  (logistic) loss, ``loss.backward()`` and ``torch.optim.SGD``.
- The full-weight NumPy gradient descent of ``labelnoise_sim.reference``.

Each baseline is timed with its default thread count and with one thread
(``simulate`` uses one; BLAS threads are set with threadpoolctl when it is
installed) and the faster counts: on a shared machine, oversubscribed BLAS
threads can be many times slower than one.

Before any ratio is reported, the float64 trajectories (network outputs on the
training set) of all three are checked against each other.

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

Usage::

    python benchmarks/bench_single.py            # full: 2,000 steps, d up to 1e5
    python benchmarks/bench_single.py --quick    # a minute or so

Without PyTorch installed the torch columns are skipped (install the extra with
``pip install -e ".[bench]"``); the ratio against the NumPy gradient descent
(issue 2's benchmark) is measured either way.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    format_table,
    machine_info,
    median_time,
    print_header,
    try_import_torch,
    write_json,
)

from labelnoise_sim import SimulationConfig, run, simulate  # noqa: E402
from labelnoise_sim.data import Data, explicit_gram, sample_data  # noqa: E402
from labelnoise_sim.reference import full_weight_gd  # noqa: E402

DEFAULT = dict(n=200, d=2000, m=10, eta=0.1, steps=2000)
D_SERIES = (1_000, 10_000, 100_000)
#: A trajectory "agrees" when max |Δf| / max |f| stays below this.
AGREEMENT_RTOL = 1e-9


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
    return full_weight_gd(data, eta, steps, record_steps=[steps])[1]


def from_vectors(config: SimulationConfig, data: Data):
    """Gram matrix of the given vectors, then the coefficient dynamics (what the baselines do)."""
    gram = explicit_gram(config.mu_norm, data.xi, data.W0)
    fresh = Data(data.y, data.y_noisy, gram, mu=data.mu, xi=data.xi, W0=data.W0)
    return run(config, fresh)


# Agreement -----------------------------------------------------------------------

def relative_gap(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(b)))


def check_agreement(params: dict, steps: int, with_torch: bool, check_every: int = 10) -> dict:
    """Float64 trajectories of simulate, the NumPy GD and (if installed) torch, compared.

    Outputs are compared at every ``check_every``-th step for torch and at the
    last step for NumPy; the float32 gap is informative only.
    """
    config = SimulationConfig(**{**params, "steps": steps, "record": check_every})
    result = run(config)
    out = {"steps": steps}
    out["numpy_rel_gap"] = relative_gap(result.outputs[-1], numpy_gd(result.data, config.eta, steps)[-1])
    if with_torch:
        f64 = torch_gd(result.data, config.eta, steps, "float64", record=result.t)
        out["torch_float64_rel_gap"] = relative_gap(result.outputs, f64)
        f32 = torch_gd(result.data, config.eta, steps, "float32", record=result.t)
        out["torch_float32_rel_gap"] = relative_gap(result.outputs, f32)
    out["agree"] = out["numpy_rel_gap"] < AGREEMENT_RTOL and out.get("torch_float64_rel_gap", 0.0) < AGREEMENT_RTOL
    return out


# Timing ----------------------------------------------------------------------------

def time_case(params: dict, baseline_steps: int, repeats: int, with_torch: bool, threads_list,
              conv1d: bool = False, pilot_steps: int = 20) -> dict:
    """Seconds for ``params['steps']`` steps of every method (baselines extrapolated).

    With several thread counts, a pilot of ``pilot_steps`` steps picks each
    baseline's faster count, which is then timed over ``baseline_steps``.
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
    for name, (train, counts, limit) in baselines.items():
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
    for base in ("numpy", "torch_float64", "torch_float32"):
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
    ("x_numpy", "x NumPy"), ("x_torch_float64", "x torch f64"), ("x_torch_float32", "x torch f32"),
    ("x_torch_float64_from_vectors", "x f64 (from vectors)"),
    ("x_torch_float64_gram_sampling", "x f64 (gram sampling)"),
    ("x_torch_float64_per_step", "x f64 per step"),
]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats (about a minute)")
    parser.add_argument("--repeats", type=int, default=None, help="timing repeats (median reported)")
    parser.add_argument("--out", default=None, help="directory of the JSON result (default benchmarks/results)")
    args = parser.parse_args(argv)

    torch = try_import_torch()
    info = machine_info()
    print_header("bench_single: simulate vs gradient descent on the raw weights", info)
    if torch is None:
        print("# PyTorch is not installed: torch columns skipped (pip install -e '.[bench]' adds them)")
    repeats = args.repeats or (1 if args.quick else 3)
    default_baseline_steps = 100 if args.quick else DEFAULT["steps"]
    # Full runs time the baselines with their default thread count and with one
    # thread and keep the faster; --quick times one thread only.
    threads_list = [1] if args.quick else [None, 1]

    agreement = check_agreement(DEFAULT, 100 if args.quick else DEFAULT["steps"], torch is not None)
    print(f"# float64 agreement over {agreement['steps']} steps (max |Δf| / max |f|): "
          f"NumPy GD {agreement['numpy_rel_gap']:.1e}"
          + (f", torch float64 {agreement['torch_float64_rel_gap']:.1e}, "
             f"(torch float32 {agreement['torch_float32_rel_gap']:.1e}, informative)" if torch else ""))
    if not agreement["agree"]:
        print("# TRAJECTORIES DISAGREE: no ratio is reported")
        payload = {"machine": info, "agreement": agreement, "quick": args.quick}
        write_json("bench_single_quick" if args.quick else "bench_single", payload, args.out)
        return payload

    default_row = time_case(DEFAULT, default_baseline_steps, repeats, torch is not None, threads_list,
                            conv1d=torch is not None and not args.quick)
    series = []
    for d in D_SERIES:
        # Baselines cost O(m n d) per step: time a fixed number of steps, extrapolate.
        baseline_steps = series_baseline_steps(d, args.quick)
        series_agreement = check_series_agreement(d, min(baseline_steps, 50), torch is not None)
        row = time_case({**DEFAULT, "d": d}, baseline_steps, repeats if d <= 10_000 else 1,
                        torch is not None, threads_list)
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
    print(f"\n## d-scaling (n=200, m=10, {DEFAULT['steps']} steps; baselines timed over the steps shown "
          "and extrapolated linearly to 2,000)")
    print(format_table(series, COLUMNS))
    print(f"\nHeadline: simulate is {default_row['x_numpy']:.0f}x faster than the NumPy gradient descent"
          + (f", {default_row['x_torch_float64']:.0f}x than torch float64 and "
             f"{default_row['x_torch_float32']:.0f}x than torch float32" if torch else "")
          + " at the default size (whole simulate call, warm).")

    payload = {"machine": info, "quick": args.quick, "repeats": repeats, "agreement": agreement,
               "default": default_row, "d_series": series}
    path = write_json("bench_single_quick" if args.quick else "bench_single", payload, args.out)
    print(f"# written {path}")
    return payload


def series_baseline_steps(d: int, quick: bool) -> int:
    """Steps the baselines run at dimension d: about 2e6/d (2e5/d quick), within [5, 2000]."""
    return int(np.clip((2e5 if quick else 2e6) / d, 5, DEFAULT["steps"]))


def check_series_agreement(d: int, steps: int, with_torch: bool) -> dict:
    """Float64 agreement of simulate and torch (or NumPy) over the first ``steps`` steps at dimension d."""
    config = SimulationConfig(**{**DEFAULT, "d": d, "steps": steps, "record": [steps]})
    result = run(config)
    if with_torch:
        other = torch_gd(result.data, config.eta, steps, "float64", record=[steps])
    else:
        other = numpy_gd(result.data, config.eta, steps)
    gap = relative_gap(result.outputs, other)
    return {"check_steps": steps, "check_rel_gap": gap, "agree": gap < AGREEMENT_RTOL}


if __name__ == "__main__":
    main()
