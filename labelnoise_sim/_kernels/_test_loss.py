"""The test loss: sums of the loss over the outputs on fresh draws (``loss_sums``)."""

from __future__ import annotations

import math

import numpy as np

from ._model import loss_value
from ._test_error import DRAW_BLOCK, fresh_outputs
from ._vectors import _inner, _kernel


# Test loss ---------------------------------------------------------------------


@_kernel(nogil=True)
def loss_sums(roots, z, lo, hi, sigma_xi, items, bias, scale, kind, p1, p2, patches, additive, loss, records, start,
              stop, sums):
    """sums[k, i, r] += Σ_s ℓ_i(s) over the draws s = lo..hi-1 of replicate r, for every item i of ``items``
    (``TestItems``), for the pairs (k, r) = (records[i // R], i % R), start <= i < stop, R = sums.shape[2].

    z (replicates, points, P1 Q) the draws; roots (K, Q, Q), bias (K, Q) per record; sums (K, M, R). With
    the outputs of ``fresh_outputs`` on draw s, ℓ_i(s) is ℓ(y_i f) for one output (``loss`` the code of ℓ,
    ``loss_value``) and the softmax cross-entropy -log softmax(F)_c of the item's class c for several
    (``cross_entropy``). Each pair is summed over s in ascending order, on its own: threads that take
    disjoint ranges of pairs give the sums one thread gives. Releases the GIL.
    """
    R = sums.shape[2]
    D = z.shape[2]
    M = items.y.shape[0]
    outputs = items.outputs
    f = np.empty((M, outputs, DRAW_BLOCK))
    totals = np.empty(M)
    for item in range(start, stop):
        k = records[item // R]
        r = item % R
        for i in range(M):
            totals[i] = 0.0
        for first in range(lo, hi, DRAW_BLOCK):
            width = min(DRAW_BLOCK, hi - first)
            block = np.empty((D, width))
            for d in range(D):
                for s in range(width):
                    block[d, s] = z[r, first + s, d]
            fresh_outputs(roots[k], block, sigma_xi, items.signal[k], bias[k], items.out[k], outputs, scale, kind,
                          p1, p2, patches, additive, f)
            for i in range(M):
                if outputs == 1:
                    y = items.y[i]
                    for s in range(width):
                        totals[i] += loss_value(y * f[i, 0, s], loss)
                else:
                    for s in range(width):
                        totals[i] += cross_entropy(f[i, :, s], items.label[i])
        for i in range(M):
            sums[k, i, r] += totals[i]


@_inner()
def cross_entropy(F, label):
    """-log softmax(F)_label = log Σ_o e^(F_o - F_top) + F_top - F_label, F_top the largest output, with the
    terms below the top summed through log1p: a confident right answer keeps its small loss to full
    precision."""
    top = 0
    for o in range(1, F.shape[0]):
        if F[o] > F[top]:
            top = o
    rest = 0.0
    for o in range(F.shape[0]):
        if o != top:
            rest += math.exp(F[o] - F[top])
    return math.log1p(rest) + (F[top] - F[label])
