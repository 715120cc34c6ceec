r"""Training data, initial weights and the Gram statistics the dynamics need.

The dynamics only ever see inner products between the signal :math:`\mu`, the noise
patches :math:`\xi_1, \dots, \xi_n` and the initial filters :math:`w_{j,r}^{(0)}`. :class:`Data` keeps them
as one Gram matrix over the ``1 + n + 2m`` vectors, in the order

.. math::

    \mu, \xi_1, \dots, \xi_n, w_{+1,1}^{(0)}, \dots, w_{+1,m}^{(0)}, w_{-1,1}^{(0)}, \dots, w_{-1,m}^{(0)}

together with the labels and, when they were drawn explicitly, the vectors
themselves.

Randomness: the run's seed is split (``numpy.random.SeedSequence.spawn``) into
independent streams for the labels, the noise patches, the initial weights and
the draws of the test-error estimate, so each can be drawn on its own.
"""

from __future__ import annotations

import math

import numpy as np

from . import _kernels
from .config import SimulationConfig

__all__ = [
    "Data", "sample_data", "signal_law", "signal_basis", "sample_explicit", "explicit_gram", "sample_gram", "seed_streams", "wishart_identity",
    "check_statistics", "substream",
]

#: New streams go at the end: a stream's draws depend only on its position (SeedSequence.spawn).
STREAMS = ("labels", "noise", "init", "test", "batches", "label_noise")


def seed_streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators for each random ingredient of a run.

    Parameters
    ----------
    seed : int
        The run's seed.

    Returns
    -------
    dict of str to numpy.random.Generator
        One generator for each name of ``STREAMS``.
    """
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, children)}


def substream(seed: int, name: str, index: int) -> np.random.Generator:
    """The ``index``-th child of the stream ``name`` of ``seed``: a generator of its own for each epoch or block.

    Equal to ``SeedSequence(seed).spawn(len(STREAMS))[k].spawn(index + 1)[index]`` for the stream's
    position k, made directly, so that any epoch's draws can be replayed without the ones before it.

    Parameters
    ----------
    seed : int
        The run's seed.
    name : str
        A name of ``STREAMS``.
    index : int
        The child, >= 0: an epoch or a block of steps.

    Returns
    -------
    numpy.random.Generator
        The child's generator.
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(STREAMS.index(name), index)))


class Data:
    r"""Labels, Gram statistics and (for explicit sampling) the vectors of a run.

    ``y``, ``y_noisy`` (int64), ``gram`` (float64), ``sampling`` and ``noise_patches`` are kept as attributes
    of the same names; ``mu``, ``xi`` and ``W0`` are properties, which raise AttributeError where the vectors
    were not drawn; the other properties derive the rest.

    Parameters
    ----------
    y, y_noisy : array_like of int, shape (n,)
        True and observed labels in :math:`\{+1, -1\}`.
    gram : array_like of float, shape (1 + N + 2m, 1 + N + 2m)
        Inner products of :math:`\mu`, the noise vectors :math:`\xi_1, \dots, \xi_N` (:math:`\xi_{i,p}` at
        :math:`i (P - 1) + p`) and the flattened initial filters.
    mu : ndarray, shape (d,), optional
        The signal vector.
    xi : ndarray, shape (n, d), or (n, P - 1, d) with more than one noise patch, optional
        The noise vectors.
    W0 : ndarray, shape (2, m, d), optional
        The initial filters. Only runs with ``sampling="explicit"`` have the vectors.
    sampling : {"explicit", "gram"}, default "explicit"
        How the data was drawn.
    noise_patches : int, default 1
        Noise vectors per sample, :math:`P - 1` (1 for two patches or the additive
        layout); :math:`N = n (P - 1)` noise vectors in all, sample by sample.
    bias : bool, default False
        Whether the run trains a bias (then ``b0`` exists).
    """

    def __init__(self, y, y_noisy, gram, *, mu=None, xi=None, W0=None, sampling="explicit", noise_patches=1,
                 bias=False):
        self.y = np.asarray(y, dtype=np.int64)
        self.y_noisy = np.asarray(y_noisy, dtype=np.int64)
        self.gram = np.ascontiguousarray(gram, dtype=np.float64)
        self.sampling = sampling
        self.noise_patches = int(noise_patches)
        self.has_bias = bool(bias)
        self._vectors = {"mu": mu, "xi": xi, "W0": W0}

    @property
    def is_noisy(self) -> np.ndarray:
        """Whether each label was flipped, ``y_noisy != y``, shape (n,)."""
        return self.y_noisy != self.y

    @property
    def n(self) -> int:
        """The number of training samples."""
        return self.y.shape[0]

    @property
    def n_vectors(self) -> int:
        """:math:`N = n (P - 1)`, the number of noise vectors."""
        return self.n * self.noise_patches

    @property
    def m(self) -> int:
        """The number of filters per class."""
        return (self.gram.shape[0] - 1 - self.n_vectors) // 2

    @property
    def b0(self) -> np.ndarray:
        """The initial bias :math:`b^{(0)}`, shape (2, m): zeros (the bias starts at 0)."""
        if not self.has_bias:
            raise AttributeError("data.b0 exists only for runs with bias=True")
        return np.zeros((2, self.m))

    def _vector(self, name):
        value = self._vectors[name]
        if value is None:
            raise AttributeError(
                f"data.{name} does not exist for sampling={self.sampling!r}: that run drew the Gram "
                "statistics directly, never the d-dimensional vectors; use sampling='explicit' to get them"
            )
        return value

    mu = property(lambda self: self._vector("mu"), doc=r"Signal vector :math:`\mu`, shape (d,).")
    xi = property(lambda self: self._vector("xi"), doc="Noise patches, shape (n, d) or (n, P - 1, d).")
    W0 = property(lambda self: self._vector("W0"), doc="Initial filters, shape (2, m, d).")

    @property
    def has_vectors(self) -> bool:
        """Whether the d-dimensional vectors were drawn (``sampling="explicit"``)."""
        return self._vectors["xi"] is not None

    # Named blocks of the Gram matrix ------------------------------------

    @property
    def mu_sq(self) -> float:
        r""":math:`\|\mu\|^2`."""
        return float(self.gram[0, 0])

    @property
    def xi_sq(self) -> np.ndarray:
        r""":math:`\|\xi_k\|^2`, shape (N,)."""
        return np.ascontiguousarray(np.diag(self.gram)[1 : 1 + self.n_vectors])

    @property
    def xi_gram(self) -> np.ndarray:
        r""":math:`\langle \xi_k, \xi_l \rangle`, shape (N, N)."""
        N = self.n_vectors
        return np.ascontiguousarray(self.gram[1 : 1 + N, 1 : 1 + N])

    @property
    def xi_mu(self) -> np.ndarray:
        r""":math:`\langle \xi_k, \mu \rangle`, shape (N,)."""
        return np.ascontiguousarray(self.gram[0, 1 : 1 + self.n_vectors])

    @property
    def w0_mu(self) -> np.ndarray:
        r""":math:`\langle w_{j,r}^{(0)}, \mu \rangle`, shape (2, m)."""
        return self.gram[1 + self.n_vectors :, 0].reshape(2, self.m).copy()

    @property
    def w0_xi(self) -> np.ndarray:
        r""":math:`\langle w_{j,r}^{(0)}, \xi_k \rangle`, shape (2, m, N)."""
        N = self.n_vectors
        return self.gram[1 + N :, 1 : 1 + N].reshape(2, self.m, N).copy()


def signal_law(config: SimulationConfig) -> list[list[tuple[int, int, float]]]:
    r"""The signal patch of a sample given its true class: a finite mixture, class by class.

    A sample's signal patch is :math:`s \, u_k`, a sign times one of the S signal
    vectors :math:`u_0, \dots, u_{S-1}` (an orthogonal basis of their span,
    the first S rows of ``Data.gram``). Classes are indexed 0..G-1 with G the
    number of groups of filters: for the binary model class 0 is
    :math:`y = +1` and class 1 is :math:`y = -1`.

    - ``"single"``, binary: class 0 carries :math:`+\mu`, class 1 :math:`-\mu` (S = 1); with C > 2
      classes, class c carries :math:`\mu_c` (S = C).
    - ``"xor"``: :math:`u_0 = a + b`, :math:`u_1 = a - b`; class 0 carries :math:`\pm u_0`, class 1
      :math:`\pm u_1`, each sign with probability 1/2.
    - ``"common_rare(p)"``: class c carries its common vector :math:`u_{2c}` with probability 1 - p and
      its rare vector :math:`u_{2c+1}` with probability p.

    Parameters
    ----------
    config : SimulationConfig
        The run.

    Returns
    -------
    list of list of (int, int, float)
        For each class, its patterns ``(k, s, probability)``: the signal vector's index, the sign, and the
        pattern's probability given the class (they sum to 1).
    """
    kind, values = config.features_kind
    classes = config.classes
    if kind == "xor":
        return [[(c, 1, 0.5), (c, -1, 0.5)] for c in range(2)]
    if kind == "common_rare":
        (p,) = values
        return [[(2 * c, 1, 1.0 - p), (2 * c + 1, 1, p)] for c in range(classes)]
    if classes == 2:
        return [[(0, 1, 1.0)], [(0, -1, 1.0)]]
    return [[(c, 1, 1.0)] for c in range(classes)]


def signal_basis(config: SimulationConfig) -> np.ndarray:
    r"""The signal vectors :math:`u_0, \dots, u_{S-1}` in their first S coordinates, shape (S, S).

    Every signal vector lies in the span of :math:`e_1, \dots, e_S` (the noise
    laws are rotation invariant, so this loses no generality). Each has norm
    ``mu_norm``, except XOR's :math:`u_0 = a + b = \|\mu\| (e_1 + e_2)` and
    :math:`u_1 = a - b`, of norm :math:`\sqrt{2} \|\mu\|`.

    Parameters
    ----------
    config : SimulationConfig
        The run.

    Returns
    -------
    ndarray of float64, shape (S, S)
        Row k is :math:`u_k` restricted to its first S coordinates.
    """
    if config.features_kind[0] == "xor":
        return config.mu_norm * np.array([[1.0, 1.0], [1.0, -1.0]])
    return config.mu_norm * np.eye(config.signal_vectors)


def sample_labels(config: SimulationConfig, rng: np.random.Generator):
    r"""True labels (:math:`\pm 1` with probability 1/2) and class-conditionally flipped labels."""
    y = np.where(rng.random(config.n) < 0.5, 1, -1).astype(np.int64)
    if config.flips == "exact":
        # round() halves to even, like the authors' NumPy code.
        flipped = np.concatenate([rng.choice(np.flatnonzero(y == label), round(rate * np.count_nonzero(y == label)),
                                             replace=False)
                                  for label, rate in ((1, config.tau_pos), (-1, config.tau_neg))])
        y_noisy = y.copy()
        y_noisy[flipped] = -y[flipped]
        return y, y_noisy
    flip_rate = np.where(y == 1, config.tau_pos, config.tau_neg)
    y_noisy = np.where(rng.random(config.n) < flip_rate, -y, y)
    return y, y_noisy


def sample_data(config: SimulationConfig) -> Data:
    """Draw the data set and initial weights of ``config``, as ``config.sampling`` says.

    ``sampling="explicit"`` draws the vectors (:func:`sample_explicit`),
    ``sampling="gram"`` only their Gram matrix (:func:`sample_gram`). Both
    refuse statistics that float64 cannot hold (:func:`check_statistics`).

    Parameters
    ----------
    config : SimulationConfig
        The run.

    Returns
    -------
    Data
        The labels, the Gram matrix and (explicit sampling) the vectors.
    """
    if config.sampling == "gram":
        return sample_gram(config)
    return sample_explicit(config)


def sample_explicit(config: SimulationConfig) -> Data:
    r"""Draw the data set and initial weights of ``config`` explicitly.

    :math:`\mu = \|\mu\| e_1` (the noise laws are rotation invariant, so this loses no
    generality); ``noise="orthogonal"`` zeroes the first coordinate of each :math:`\xi_i`,
    which is exactly the projection :math:`(I - \mu\mu^\top/\|\mu\|^2) \xi`.

    Parameters
    ----------
    config : SimulationConfig
        The run.

    Returns
    -------
    Data
        The labels, the Gram matrix and (explicit sampling) the vectors.
    """
    rngs = seed_streams(config.seed)
    n, d, m = config.n, config.d, config.m
    y, y_noisy = sample_labels(config, rngs["labels"])
    mu = np.zeros(d)
    mu[0] = config.mu_norm
    # An overflow is reported by check_statistics, naming the parameter, not as a warning.
    shape = (n, d) if config.noise_patches == 1 else (n, config.noise_patches, d)
    with np.errstate(over="ignore"):
        xi = config.sigma_xi * rngs["noise"].standard_normal(shape)
        if config.noise == "orthogonal":
            xi[..., 0] = 0.0
        W0 = config.sigma0 * rngs["init"].standard_normal((2, m, d))
        gram = explicit_gram(config.mu_norm, xi.reshape(-1, d), W0)
    check_statistics(gram, config)
    return Data(y, y_noisy, gram, mu=mu, xi=xi, W0=W0, sampling="explicit", noise_patches=config.noise_patches,
                bias=config.bias)


def explicit_gram(mu_norm: float, xi: np.ndarray, W0: np.ndarray) -> np.ndarray:
    r"""The Gram matrix of :math:`\mu = \|\mu\| e_1`, the noise vectors and the filters, in ``Data.gram``'s order.

    Formed by ``_kernels.gram`` in a fixed order (not by BLAS), so its bits
    do not depend on the thread count; the row of :math:`\mu` is exact,
    :math:`\langle \mu, v \rangle = \|\mu\| v_1`.

    Parameters
    ----------
    mu_norm : float
        :math:`\|\mu\|`.
    xi : ndarray of float64, shape (N, d)
        The noise vectors.
    W0 : ndarray of float64, shape (2, m, d)
        The initial filters.

    Returns
    -------
    ndarray of float64, shape (1 + N + 2m, 1 + N + 2m)
        The Gram matrix.
    """
    N, d = xi.shape
    p = N + W0.size // d
    # Zero rows up to a multiple of 16: the same sums, all in the Gram kernel's strips (_kernels.gram).
    random = np.zeros((_kernels.gram_rows(p), d))
    random[:N] = xi
    random[N:p] = W0.reshape(-1, d)
    gram = np.empty((1 + p, 1 + p))
    gram[1:, 1:] = _kernels.gram(random, p)
    gram[0, 0] = mu_norm * mu_norm
    gram[0, 1:] = gram[1:, 0] = mu_norm * random[:p, 0]
    return gram


def sample_gram(config: SimulationConfig) -> Data:
    r"""Draw the Gram matrix of ``config``'s data directly, at a cost independent of d.

    With :math:`\mu = \|\mu\| e_1`, split every random vector :math:`v \in \{\xi_i, w_{j,r}^{(0)}\}` into its first
    coordinate :math:`v_1` and the rest :math:`\bar v \in \mathbb{R}^{d-1}`. Then

    .. math::

        \langle \mu, v \rangle = \|\mu\| v_1, \qquad \langle u, v \rangle = u_1 v_1 + \langle \bar u, \bar v \rangle,

    the :math:`v_1` are independent normals (:math:`\sigma_\xi` for :math:`\xi`, or exactly 0 for orthogonal
    noise; :math:`\sigma_0` for the filters), and the :math:`(n + 2m)`-square matrix of the
    :math:`\langle \bar u, \bar v \rangle` is :math:`D S D` with
    :math:`D = \operatorname{diag}(\sigma_\xi, \dots, \sigma_\xi, \sigma_0, \dots, \sigma_0)` and
    :math:`S \sim \operatorname{Wishart}(d - 1, I)`
    (:func:`wishart_identity`). This is the law of :func:`sample_explicit`'s
    Gram matrix, drawn in :math:`O((n + 2m)^3)` operations. The labels are drawn from
    the same stream as in explicit sampling, so both samplings share them.

    Parameters
    ----------
    config : SimulationConfig
        The run.

    Returns
    -------
    Data
        The labels and the Gram matrix.
    """
    rngs = seed_streams(config.seed)
    n, m = config.n * config.noise_patches, config.m  # n noise vectors here: N = n (P - 1)
    p = n + 2 * m
    y, y_noisy = sample_labels(config, rngs["labels"])
    first = np.zeros(p)
    if config.noise == "isotropic":
        first[:n] = config.sigma_xi * rngs["noise"].standard_normal(n)
    first[n:] = config.sigma0 * rngs["init"].standard_normal(2 * m)
    scale = np.r_[np.full(n, config.sigma_xi), np.full(2 * m, config.sigma0)]
    rest = wishart_identity(config.d - 1, p, rngs["noise"])
    gram = np.empty((1 + p, 1 + p))
    try:
        gram[0, 0] = config.mu_norm**2
    except OverflowError:  # Python's ** raises where float64 arithmetic gives inf, which is reported below
        gram[0, 0] = math.inf
    # An overflow (and inf - inf) is reported by check_statistics, naming the parameter, not as a warning.
    with np.errstate(over="ignore", invalid="ignore"):
        gram[0, 1:] = gram[1:, 0] = config.mu_norm * first
        gram[1:, 1:] = scale[:, None] * rest * scale[None, :] + first[:, None] * first[None, :]
        gram = 0.5 * (gram + gram.T)
    check_statistics(gram, config)
    return Data(y, y_noisy, gram, sampling="gram", noise_patches=config.noise_patches, bias=config.bias)


def check_statistics(gram: np.ndarray, config: SimulationConfig) -> None:
    r"""Refuse a Gram matrix that float64 could not hold.

    An entry that overflowed, or a norm the dynamics divide by that underflowed:
    such a run would only fail later, on its first non-finite output, as a
    :class:`~labelnoise_sim.DivergenceError` that blames :math:`\eta`.

    Parameters
    ----------
    gram : ndarray of float64, shape (1 + N + 2m, 1 + N + 2m)
        The Gram matrix drawn for ``config``.
    config : SimulationConfig
        The run.

    Raises
    ------
    ValueError
        Naming the parameters that set the norms at fault.
    """
    n, d = config.n * config.noise_patches, config.d
    diagonal = np.diagonal(gram)
    # The squared norms on the diagonal: what sets them, the parameters with their values, the entries.
    norms = [
        ("mu_norm", "‖μ‖² = mu_norm²", f"mu_norm={config.mu_norm!r}", diagonal[:1]),
        ("sigma_xi", "‖ξ_i‖² ≈ sigma_xi² d", f"sigma_xi={config.sigma_xi!r}, d={d!r}", diagonal[1 : 1 + n]),
        ("sigma0", "‖w⁽⁰⁾‖² ≈ sigma0² d", f"sigma0={config.sigma0!r}, d={d!r}", diagonal[1 + n :]),
    ]
    if not np.isfinite(gram).all():
        # |⟨u, v⟩| <= max(‖u‖², ‖v‖²): an inner product overflows only with a squared norm.
        faulty = [norm for norm in norms if not np.isfinite(norm[3]).all()] or norms
        raise _scale_error(faulty, "large", "overflow float64", "lower")
    # The kernels divide by ‖μ‖² and by every ‖ξ_i‖² (the norms of the initial filters may vanish).
    faulty = [norm for norm in norms[:2] if not (norm[3] > 0).all()]
    if faulty:
        raise _scale_error(faulty, "small", "underflow to 0 in float64", "raise")


def _scale_error(faulty, size: str, what: str, remedy: str) -> ValueError:
    names = " and ".join(name for name, *_ in faulty)
    details = "; ".join(f"{formula} with {values}" for _, formula, values, _ in faulty)
    return ValueError(f"{names} too {size}: the Gram statistics of the data {what} ({details}); {remedy} {names}")


def wishart_identity(dof: int, p: int, rng: np.random.Generator) -> np.ndarray:
    r"""Draw :math:`S = Z Z^\top` for :math:`Z` a (p, dof) matrix of independent :math:`N(0, 1)`.

    For :math:`\mathrm{dof} \ge p`, Bartlett's decomposition gives :math:`S = L L^\top` with :math:`L` lower
    triangular, :math:`L_{ii} = \sqrt{\chi^2_{\mathrm{dof}-i}}` (:math:`i = 0, \dots, p-1`) and
    :math:`L_{ik} \sim N(0, 1)` below the diagonal, all independent: :math:`O(p^3)` whatever dof. For
    :math:`\mathrm{dof} < p` (:math:`S` is then singular) :math:`Z` itself is drawn, which costs
    :math:`O(p^2 \, \mathrm{dof}) < O(p^3)`.

    Parameters
    ----------
    dof : int
        Degrees of freedom, >= 1.
    p : int
        The side of :math:`S`.
    rng : numpy.random.Generator
        The generator to draw from.

    Returns
    -------
    ndarray of float64, shape (p, p)
        :math:`S \sim \operatorname{Wishart}(\mathrm{dof}, I_p)`.
    """
    # Zero rows up to a multiple of 16: the same sums, all in the Gram kernel's strips (_kernels.gram).
    rows = _kernels.gram_rows(p)
    if dof < p:
        Z = np.zeros((rows, dof))
        rng.standard_normal(out=Z[:p])
        return _kernels.gram(Z, p)
    L = np.zeros((rows, p))
    rng.standard_normal(out=L[:p])
    for i in range(p):
        L[i, i:] = 0.0  # lower triangular, as np.tril(., k=-1) leaves it, without another p × p array
    L[np.diag_indices(p)] = np.sqrt(rng.chisquare(dof - np.arange(p)))
    return _kernels.gram(L, p)
