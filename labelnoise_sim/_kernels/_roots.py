"""Square roots of covariances by Jacobi rotations (``symmetric_roots``): the same bits on any machine."""

from __future__ import annotations

import math

import numpy as np

from ._vectors import _kernel


#: Jacobi sweeps at most: each sweep squares the off-diagonal mass once it is small, so a symmetric matrix of
#: doubles is diagonal to rounding after 6 to 10 sweeps; the cap only bounds a pathological input.
JACOBI_SWEEPS = 60


@_kernel(nogil=True)
def symmetric_roots(covs, roots):
    """roots[k] = V sqrt(max(Λ, 0)) for covs[k] = V Λ Vᵀ (K, D, D), eigenvalues ascending: a square root of each
    covariance (R Rᵀ = cov), the same bits on any machine.

    LAPACK's eigensolver (``numpy.linalg.eigh``) gives bits that depend on the BLAS kernel the CPU selects,
    and the test error's draws go through this root. Here each covariance is diagonalised by cyclic Jacobi
    rotations in a fixed order: pairs (p, q) with p < q row by row, rotation angle as Numerical Recipes forms it
    (tan θ = sgn(t) / (|t| + sqrt(t² + 1)), t = (a_qq - a_pp) / (2 a_pq)), until a sweep leaves every off-diagonal
    entry negligible against its two diagonal entries. The eigenvalues are then sorted ascending (insertion
    sort: stable), and each eigenvector's entry of largest magnitude, the first if several, is made positive.
    """
    K, D = covs.shape[0], covs.shape[1]
    a = np.empty((D, D))
    v = np.empty((D, D))
    lam = np.empty(D)
    order = np.empty(D, dtype=np.int64)
    for k in range(K):
        for i in range(D):
            for j in range(D):
                a[i, j] = covs[k, i, j]
                v[i, j] = 1.0 if i == j else 0.0
        for _ in range(JACOBI_SWEEPS):
            rotated = False
            for p in range(D - 1):
                for q in range(p + 1, D):
                    apq = a[p, q]
                    app, aqq = a[p, p], a[q, q]
                    # Negligible: adding it to either diagonal entry (times 100) changes nothing.
                    if abs(app) + 100.0 * abs(apq) == abs(app) and abs(aqq) + 100.0 * abs(apq) == abs(aqq):
                        a[p, q] = 0.0
                        a[q, p] = 0.0
                        continue
                    rotated = True
                    theta = (aqq - app) / (2.0 * apq)
                    if abs(theta) > 1e150:  # theta² would overflow; t is then 1 / (2 theta) to rounding
                        t = 0.5 / theta
                    else:
                        t = 1.0 / (abs(theta) + math.sqrt(theta * theta + 1.0))
                        if theta < 0.0:
                            t = -t
                    c = 1.0 / math.sqrt(t * t + 1.0)
                    s = t * c
                    shift = t * apq
                    a[p, p] = app - shift
                    a[q, q] = aqq + shift
                    a[p, q] = 0.0
                    a[q, p] = 0.0
                    for r in range(D):
                        if r != p and r != q:
                            arp, arq = a[r, p], a[r, q]
                            new_p = c * arp - s * arq
                            new_q = s * arp + c * arq
                            a[r, p] = new_p
                            a[p, r] = new_p
                            a[r, q] = new_q
                            a[q, r] = new_q
                    for r in range(D):
                        vrp, vrq = v[r, p], v[r, q]
                        v[r, p] = c * vrp - s * vrq
                        v[r, q] = s * vrp + c * vrq
            if not rotated:
                break
        for i in range(D):
            lam[i] = a[i, i]
            order[i] = i
        for i in range(1, D):
            j = i
            while j > 0 and lam[order[j - 1]] > lam[order[j]]:
                order[j - 1], order[j] = order[j], order[j - 1]
                j -= 1
        for col in range(D):
            src = order[col]
            big = 0
            for r in range(1, D):
                if abs(v[r, src]) > abs(v[big, src]):
                    big = r
            scale = math.sqrt(lam[src]) if lam[src] > 0.0 else 0.0
            if v[big, src] < 0.0:
                scale = -scale
            for r in range(D):
                roots[k, r, col] = v[r, src] * scale
