"""Numba kernels of the coefficient dynamics (private).

State of a run, with q = 0..2m-1 indexing the filters (j, r) in class-major
order (q < m is j = +1):

    gamma[q]     signal coefficient γ_{j,r}
    rho[q, i]    noise coefficient ρ_{j,r,i}

Fixed statistics (all derived from the Gram matrix, see ``data.Data``), held
for a batch of runs by :class:`Statistics`:

    a0[q]     = ⟨w_q⁽⁰⁾, μ⟩                b0[q, k] = ⟨w_q⁽⁰⁾, ξ_k⟩
    c[i]      = ⟨ξ_i, μ⟩ / ‖ξ_i‖²          e[k]     = ⟨μ, ξ_k⟩ / ‖μ‖²
    G[i, k]   = ⟨ξ_i, ξ_k⟩ / ‖ξ_i‖²        jsign[q] = j ∈ {+1, -1}

Inner products of the current filters with the two patches:

    A[q]    = ⟨w_q, μ⟩   = a0[q] + j γ[q] + Σ_i ρ[q, i] c[i]
    B[q, k] = ⟨w_q, ξ_k⟩ = b0[q, k] + j γ[q] e[k] + Σ_i ρ[q, i] G[i, k]

Floating-point contract: every sum over i runs in ascending i, one rounded
multiply and one rounded add per term (no fused multiply-add, no
reassociation). The results therefore do not depend on the blocking, the
instruction set or the thread count, and equal arguments give bit-identical
trajectories on any machine with IEEE doubles. ``run_dynamics`` keeps the
term ρ G of B up to date by adding each step's change (a sum over the active
i, formed the same way) instead of recomputing it, so it follows the
composed step functions to rounding, not bit for bit (see its docstring).

Speed comes from 8-lane vectors (:data:`vector`) handled by five one-line
primitives, ``vload``, ``vstore``, ``vbroadcast``, ``vmul`` and ``vadd``, used
from plain loops: a tile of B held in a few vectors for a whole sum over i
is what keeps the (2m×n)·(n×n) product from being bound by loads and stores
of B, and numba neither runs LLVM's SLP vectoriser nor knows that B does not
alias G. Each primitive is also an ordinary NumPy function of 8-element
arrays, which is what runs under ``NUMBA_DISABLE_JIT=1``: every kernel here
then executes as plain Python with the same operations, in the same order.

The kernels live in the modules of this package, one per topic: ``_vectors``
(the vectors, their primitives, the decorators ``_kernel`` and ``_inner``),
``_model`` (activations, losses), ``_products`` (the dense product, its
tiles, the gathers of the incremental product), ``_dynamics`` (the paper's
model), ``_family`` (the model family, the data family included), ``_gram``,
``_roots`` (``symmetric_roots``), ``_test_error`` and ``_test_loss``. This
module re-exports every name they define: the library reads
``_kernels.NAME``. numba's disk cache checks a compiled function against its
own source file only, so a kernel calling a kernel of another file could keep
running a stale compiled copy of it; ``_cache`` gives every function of the
package's files one stamp instead, a hash of all of them, registered before
any kernel is defined. An edit to any file here recompiles every kernel, as
an edit to the one file did when the kernels were one file; a kernel
elsewhere would have no such guard, so every kernel lives here.

Everything here takes plain arrays and scalars; inputs are trusted (the
public functions validate them).
"""

from __future__ import annotations

from . import _cache

_cache.register()  # first: numba picks a function's cache locator when the function is decorated

from ._vectors import (
    LANES, _InnerDispatcher, _VectorModel, _VectorType, _inner, _is_c_float_array, _kernel, _lanes_at, _vadd,
    _vadd_numpy, _vbroadcast, _vbroadcast_numpy, _vload, _vload_numpy, _vmul, _vmul_numpy, _vstore, _vstore_numpy,
    vadd, vbroadcast, vector, vload, vmul, vstore,
)
from ._model import (
    ACTIVATION_CODES, LOSS_CODES, _power, activate, activation, activation_pair, loss_slope, loss_value,
)
from ._products import (
    GATHER_BLOCK, GATHER_STRIPS, _accumulate_columns, _accumulate_increment, _accumulate_pairs,
    _accumulate_product_compiled, _accumulate_tiled, _active_lists, _gather1, _gather3, _gather_lists, _gather_strips,
    _list_starts, _pack_strips, _tile1, _tile2, _tile4, _tile_rows, accumulate_product, pack_strips, product,
    statistics_products,
)
from ._dynamics import (
    SPLIT_COLUMNS_BYTES, _EXPONENT, State, Statistics, _advance, _all_finite, _class_signs, _finish, _first_at_least,
    _network_outputs, _outputs, _put, _rows_after, _rows_before, _sample_weights, _setup, _signal_and_offsets,
    _update_rows, _update_weighted, class_signs, network_outputs, new_state, products, run_batch, run_dynamics,
    run_dynamics_halves, update,
)
from ._family import (
    FamilyState, Model, Signals, _advance_family, family_gradient, family_outputs, family_preactivations,
    gradient_dense_row, gradient_rows, new_family_state, run_family, run_family_batch, run_family_halves,
)
from ._gram import (
    GRAM_BLOCK, GRAM_GROUP, GRAM_PARALLEL_WORK, GRAM_STRIP, _gram_finish, _gram_group, _gram_strips,
    _gram_strips_threaded, _pack_rows, _tile2_wide, gram, gram_rows,
)
from ._roots import JACOBI_SWEEPS, symmetric_roots
from ._test_error import (
    DEFENSIVE_SHARE, DRAW_BLOCK, LINE_REACH, PIECEWISE_LINEAR, TestItems, _INV_SQRT_2PI, _SQRT_HALF, _balance,
    _class_terms, _coordinate_weights, _direction_search, _dot, _fails_at, _first_beaten, _insert_kink, _inverses,
    _line_mass, _line_mass_classes, _misclassified_draws, _output_terms, _piece_beats, _preactivation, _project, _surface,
    _surface_piecewise, _upper_quantile, design_direction, design_direction_smooth, direction_kernel, failing_mean,
    failing_means, failure_masses, failure_sums, fresh_outputs, misclassified_draws, misclassified_draws_family,
    normal_mass, normal_moment,
)
from ._test_loss import cross_entropy, loss_sums

__all__ = [
    "Statistics",
    "State",
    "new_state",
    "accumulate_product",
    "product",
    "products",
    "network_outputs",
    "update",
    "run_dynamics",
    "run_dynamics_halves",
    "run_batch",
    "Model",
    "Signals",
    "FamilyState",
    "new_family_state",
    "run_family",
    "run_family_halves",
    "run_family_batch",
    "gram",
    "gram_rows",
    "misclassified_draws_family",
    "design_direction",
    "design_direction_smooth",
    "direction_kernel",
    "failure_masses",
    "symmetric_roots",
    "loss_sums",
]
