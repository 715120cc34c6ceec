"""Numba kernels that run a batch of runs of the same shape (private).

A batch holds C runs that share n, m, the number of steps and the recorded
steps; everything else (data, labels, η) is per run. Arrays carry the batch
index first and otherwise the shapes of ``_kernels.run_dynamics``:

    a0 (C, 2m)    b0 (C, 2m, n)    c, e, xi_sq, y, y_noisy (C, n)
    G (C, n, n)   mu_sq, eta (C,)  jsign (2m,)
    gamma_out (C, K, 2m)   rho_out (C, K, 2m, n)   f_out (C, K, n)   status (C,)

Each run is handed to the single-run kernel ``_kernels.run_dynamics`` itself,
so a run in a batch does the very same floating-point operations as
``simulate()`` and its outputs are bit-identical to it, whatever the batch,
the thread count or the order in which the threads take the runs. No BLAS is
involved, so BLAS threading cannot change them either.

numba's disk cache keys these compiled functions on the content of this file
alone, not on the kernels they call: a change to ``run_dynamics`` must come
with a change here, or a process with a filled cache keeps running the old
kernel in batches (the bit-identity tests of tests/test_sweep.py catch it).
The last such change: ``run_dynamics`` updates ρ G incrementally.
"""

from __future__ import annotations

from numba import njit, prange

from ._kernels import run_dynamics

__all__ = ["run_batch", "run_batch_serial"]


@njit(cache=True, nogil=True)
def _run_one(b, a0, b0, c, e, G, mu_sq, xi_sq, y, y_noisy, jsign, m, eta, steps, record_steps,
             gamma_out, rho_out, f_out, status):
    status[b] = run_dynamics(a0[b], b0[b], c[b], e[b], G[b], mu_sq[b], xi_sq[b], y[b], y_noisy[b], jsign,
                             m, eta[b], steps, record_steps, gamma_out[b], rho_out[b], f_out[b])


@njit(parallel=True, cache=True, nogil=True)
def run_batch(a0, b0, c, e, G, mu_sq, xi_sq, y, y_noisy, jsign, m, eta, steps, record_steps,
              gamma_out, rho_out, f_out, status):
    """Run every run of the batch, in parallel over runs (numba threads).

    status[b] is -1 when run b finished, else the first step at which its
    outputs stopped being finite.
    """
    for b in prange(a0.shape[0]):
        _run_one(b, a0, b0, c, e, G, mu_sq, xi_sq, y, y_noisy, jsign, m, eta, steps, record_steps,
                 gamma_out, rho_out, f_out, status)


@njit(cache=True, nogil=True)
def run_batch_serial(a0, b0, c, e, G, mu_sq, xi_sq, y, y_noisy, jsign, m, eta, steps, record_steps,
                     gamma_out, rho_out, f_out, status):
    """As :func:`run_batch`, on the calling thread only.

    For callers that are already parallel (worker processes, Dask worker
    threads): it starts no threads of its own and releases the GIL.
    """
    for b in range(a0.shape[0]):
        _run_one(b, a0, b0, c, e, G, mu_sq, xi_sq, y, y_noisy, jsign, m, eta, steps, record_steps,
                 gamma_out, rho_out, f_out, status)
