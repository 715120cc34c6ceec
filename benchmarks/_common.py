"""Shared helpers of the benchmark scripts: timing, machine description, output.

Benchmarks time with ``time.perf_counter`` over several repeats and report the
median; ratios are always formed from timings taken in the same process, so a
busy machine slows both sides of a ratio alike.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ENV_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
            "NUMBA_NUM_THREADS", "XLA_FLAGS")
#: A float64 baseline's trajectory "agrees" with simulate's when max |Δf| / max |f|
#: over the compared outputs stays below this.
AGREEMENT_RTOL = 1e-9
#: The same for a float32 baseline against simulate's float64 trajectory.
#: Float32 rounding (unit 6e-8) accumulates over the steps, 3e-5 to 5e-5 after
#: the 2,000 default steps, and where a filter's pre-activation on a sample is
#: within rounding of 0 it can flip that ReLU, which moves the run's later
#: outputs by more: 1.5e-3 for the worst of 32 default cells over 500 steps
#: (seed 4; PyTorch float32 the same). The float32 runs are the float64 code
#: in another dtype, which the float64 check validates to 1e-9; this bound only
#: asks that rounding has not taken the run elsewhere (a wrong network, loss
#: or step moves the outputs by order 1).
FLOAT32_RTOL = 1e-2


def relative_gap(a, b) -> float:
    """max |a - b| / max |b|: how far the outputs ``a`` are from the reference ``b``."""
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(b)))


def try_import_torch():
    """``torch`` if it is installed (the ``bench`` extra), else ``None``."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def median_time(fn, repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cpu_model() -> str:
    """The CPU's model name, with LLVM's name of its microarchitecture and its widest vector instructions
    (the model name alone can be as vague as "AMD EPYC"), e.g. "AMD EPYC (znver3; AVX2, FMA)"."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    try:
        import llvmlite.binding as llvm  # numba's: the CPU its kernels are compiled for

        arch = llvm.get_host_cpu_name()
    except Exception:  # noqa: BLE001 - a name for the record only
        arch = None
    vector = ["AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else None, "FMA" if "fma" in flags else None]
    details = "; ".join(part for part in (arch, ", ".join(v for v in vector if v)) if part)
    return f"{name} ({details})" if details else name


def machine_info() -> dict:
    """What the timings depend on: CPU, cores, library versions, threading variables."""
    import numba

    info = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "blas": _blas_name(),
        "load_average_1min": os.getloadavg()[0],
        "env": {name: os.environ.get(name) for name in ENV_VARS if os.environ.get(name) is not None},
    }
    torch = try_import_torch()
    if torch is not None:
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    try:  # the version only: importing jax here would fix its configuration for the caller
        info["jax"] = importlib.metadata.version("jax")
    except importlib.metadata.PackageNotFoundError:
        pass
    return info


def _blas_name() -> str:
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # the layout of show_config is not a stable API
        return "unknown"


def write_json(name: str, payload: dict, out_dir: Path | None = None) -> Path:
    out_dir = RESULTS_DIR if out_dir is None else Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n")
    return path


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def format_table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    """A plain-text table; ``columns`` are (key, header) pairs, missing values print as '-'."""
    cells = [[header for _, header in columns]]
    for row in rows:
        cells.append([_fmt(row.get(key)) for key, _ in columns])
    widths = [max(len(r[c]) for r in cells) for c in range(len(columns))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 1:
            return f"{value:.2f}"
        return f"{value:.3g}"
    return str(value)


def print_header(title: str, info: dict) -> None:
    print(f"# {title}")
    print(f"# {info['cpu']}, {info['cores']} cores; numpy {info['numpy']} ({info['blas']}), "
          f"numba {info['numba']}, torch {info.get('torch', 'not installed')}, jax {info.get('jax', 'not installed')}; "
          f"{info['date']}")
    print(f"# load average (1 min) at start: {info['load_average_1min']:.2f} on {info['cores']} cores: "
          "other processes slow the baselines' threads and the simulator alike; compare ratios")
    if info["env"]:
        print(f"# environment: {info['env']}")
    sys.stdout.flush()
