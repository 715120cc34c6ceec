"""A process's first run compiles only the kernels it uses (issue 25, goal 5: a faster first run).

numba compiles every callee of a kernel, whatever branch a call takes, so a kernel that serves several
activations compiles all of them. The checks run child processes with an empty numba cache of their own
(``NUMBA_CACHE_DIR`` in a temporary directory) and look at which dispatchers compiled a signature. No
timings here (the machine is shared): those are ``benchmarks/bench_latency.py``'s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

# Each check compiles the test error into an empty cache in a child process: 20-35 s, so with the slow set.
pytestmark = pytest.mark.slow

ESTIMATE = textwrap.dedent("""
    import json, sys
    from labelnoise_sim import simulate, generalization, _kernels
    result = simulate(n=12, d=60, m=2, steps=4, activation=sys.argv[1], progress=False)
    generalization.estimate(result.gamma, result.rho, result.data.gram, result.config)
    names = ["design_direction", "design_direction_smooth", "_surface", "_surface_piecewise"]
    print(json.dumps({name: len(getattr(_kernels, name).signatures) for name in names}))
""")


def _compiled(tmp_path, activation):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba_cache"))
    done = subprocess.run([sys.executable, "-c", ESTIMATE, activation], env=env, capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("activation", ["relu", "leaky_relu(0.1)"])
def test_a_piecewise_linear_estimate_compiles_no_smooth_activations_bisection(tmp_path, activation):
    compiled = _compiled(tmp_path, activation)
    assert compiled["design_direction"] == 1 and compiled["_surface_piecewise"] == 1
    assert compiled["design_direction_smooth"] == 0 and compiled["_surface"] == 0


def test_a_smooth_estimate_compiles_the_bisection_and_not_the_piecewise_kernel(tmp_path):
    compiled = _compiled(tmp_path, "relu^2")
    assert compiled["design_direction_smooth"] == 1 and compiled["_surface"] == 1
    assert compiled["design_direction"] == 0

