r"""Training data, initial weights and the Gram statistics the dynamics need.

The dynamics only ever see inner products between the signal vectors :math:`u_0, \dots, u_{S-1}`, the
noise patches :math:`\xi_1, \dots, \xi_N` and the initial filters :math:`w_{g,r}^{(0)}` of the G groups.
:class:`Data` keeps them as one Gram matrix over the ``S + N + G m`` vectors, in the order

.. math::

    u_0, \dots, u_{S-1}, \xi_1, \dots, \xi_N, w_{0,1}^{(0)}, \dots, w_{0,m}^{(0)}, \dots,
    w_{G-1,1}^{(0)}, \dots, w_{G-1,m}^{(0)}

together with the labels, the signal patch of each sample and, when they were drawn explicitly, the
vectors themselves. The paper's model has one signal vector :math:`u_0 = \mu` (S = 1) and two groups,
:math:`j = +1` then :math:`j = -1` (G = 2): the order :math:`\mu, \xi_1, \dots, \xi_N, w_{+1,1}^{(0)},
\dots, w_{-1,m}^{(0)}`.

Randomness: the run's seed is split (``numpy.random.SeedSequence.spawn``) into
independent streams for the labels, the noise patches, the initial weights,
the draws of the test-error estimate, the minibatches, the label-noise flips
and the signal patches of the samples (``STREAMS``), so each can be drawn on its own.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from . import _kernels
from .config import SimulationConfig

__all__ = [
    "Data", "sample_data", "signal_law", "signal_basis", "sample_labels", "sample_signals", "sample_explicit",
    "explicit_gram", "sample_gram", "seed_streams", "wishart_identity", "check_statistics", "substream",
]

#: New streams go at the end: a stream's draws depend only on its position (SeedSequence.spawn).
STREAMS = ("labels", "noise", "init", "test", "batches", "label_noise", "features")


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
    r"""Labels, signal patches, Gram statistics and (for explicit sampling) the vectors of a run.

    ``y``, ``y_noisy``, ``signal_index``, ``signal_sign`` (int64), ``gram`` (float64), ``sampling``,
    ``noise_patches``, ``signals``, ``groups`` and ``additive`` are kept as attributes of the same names;
    ``signal_vectors``, ``xi`` and ``W0`` are properties, which raise AttributeError where the vectors were
    not drawn; the other properties derive the rest. The names of the paper's model, ``mu``, ``mu_sq``,
    ``xi_mu`` and ``w0_mu``, exist for one signal vector (S = 1) only.

    Sample i's signal patch is :math:`s_i u_{k_i}`, with :math:`k_i` = ``signal_index[i]`` and
    :math:`s_i` = ``signal_sign[i]``; its noise patches are the noise vectors
    :math:`i (P - 1), \dots, i (P - 1) + P - 2`. In the additive layout the sample is the one
    vector :math:`s_i u_{k_i} + \xi_i` (:meth:`patches`).

    Parameters
    ----------
    y, y_noisy : array_like of int, shape (n,)
        True and observed labels: :math:`\{+1, -1\}` for the binary model, the classes
        :math:`0, \dots, C - 1` for a model with one output per class.
    gram : array_like of float, shape (S + N + G m, S + N + G m)
        Inner products of the signal vectors :math:`u_0, \dots, u_{S-1}`, the noise vectors
        :math:`\xi_1, \dots, \xi_N` (:math:`\xi_{i,p}` at :math:`i (P - 1) + p`) and the flattened
        initial filters, group by group.
    mu : ndarray, shape (d,), optional
        The signal vector of a run with S = 1; the same as ``signal_vectors=mu[None]``.
    xi : ndarray, shape (n, d), or (n, P - 1, d) with more than one noise patch, optional
        The noise vectors.
    W0 : ndarray, shape (G, m, d), optional
        The initial filters. Only runs with ``sampling="explicit"`` have the vectors.
    sampling : {"explicit", "gram"}, default "explicit"
        How the data was drawn.
    noise_patches : int, default 1
        Noise vectors per sample, :math:`P - 1` (1 for two patches or the additive
        layout); :math:`N = n (P - 1)` noise vectors in all, sample by sample.
    bias : bool, default False
        Whether the run trains a bias (then ``b0`` exists).
    signals : int, optional
        S, the number of signal vectors: by default the rows of ``signal_vectors``, or 1.
    signal_vectors : ndarray, shape (S, d), optional
        The signal vectors (not with ``mu``).
    signal_index : array_like of int, shape (n,), optional
        :math:`k_i`, the signal vector of each sample, in ``[0, S)``; by default zeros.
    signal_sign : array_like of int, shape (n,), optional
        :math:`s_i \in \{+1, -1\}`, the sign of each sample's signal patch. By default ``y``, the
        binary model's :math:`y_i \mu`, which needs S = 1 and labels :math:`\pm 1`; give it otherwise.
    groups : int, default 2
        G, the groups of m filters (2 for the binary model, C with C classes).
    additive : bool, default False
        Whether each sample is the one vector :math:`s_i u_{k_i} + \xi_i` (layout ``"additive"``),
        rather than a signal patch and :math:`P - 1` noise patches.

    Raises
    ------
    ValueError
        Naming the parameter, for arrays whose shapes or values do not fit together.
    """

    def __init__(self, y, y_noisy, gram, *, mu=None, xi=None, W0=None, sampling="explicit", noise_patches=1,
                 bias=False, signals=None, signal_vectors=None, signal_index=None, signal_sign=None, groups=2,
                 additive=False):
        self.y = np.asarray(y, dtype=np.int64)
        self.y_noisy = np.asarray(y_noisy, dtype=np.int64)
        self.gram = np.ascontiguousarray(gram, dtype=np.float64)
        self.sampling = sampling
        self.noise_patches = int(noise_patches)
        self.has_bias = bool(bias)
        self.additive = bool(additive)
        signal_vectors, signals = _signal_vectors(mu, signal_vectors, signals)
        if isinstance(groups, bool) or int(groups) != groups or groups < 2:
            raise ValueError(f"groups must be an integer >= 2; got {groups!r}")
        self.signals, self.groups = int(signals), int(groups)
        self._vectors = {"signal_vectors": signal_vectors, "xi": xi, "W0": W0}
        self._check_shapes()
        self.signal_index = self._per_sample("signal_index", np.zeros(self.n, dtype=np.int64) if signal_index is None
                                             else signal_index)
        if not ((self.signal_index >= 0) & (self.signal_index < self.signals)).all():
            raise ValueError(f"signal_index must lie in [0, S) = [0, {self.signals}); got values from "
                             f"{self.signal_index.min()} to {self.signal_index.max()}")
        if signal_sign is None:
            if self.signals != 1 or not np.isin(self.y, (-1, 1)).all():
                raise ValueError("signal_sign must be given unless S = 1 and the labels are +-1 (then it is y, the "
                                 f"binary model's y_i mu); got S = {self.signals} and labels "
                                 f"{np.unique(self.y)[:5].tolist()}")
            signal_sign = self.y
        self.signal_sign = self._per_sample("signal_sign", signal_sign)
        if not np.isin(self.signal_sign, (-1, 1)).all():
            raise ValueError("signal_sign must hold +1 and -1 only")

    def _check_shapes(self):
        n = self.y.shape[0]
        if self.y.shape != (n,) or self.y_noisy.shape != (n,):
            raise ValueError(f"y and y_noisy must have the same shape (n,); got {self.y.shape} and "
                             f"{self.y_noisy.shape}")
        if self.noise_patches < 1 or (self.additive and self.noise_patches != 1):
            raise ValueError(f"noise_patches must be an integer >= 1, and 1 with additive=True; got "
                             f"{self.noise_patches!r} with additive={self.additive!r}")
        side = self.gram.shape[0] if self.gram.ndim == 2 else -1
        filters = side - self.signals - self.n_vectors
        if self.gram.shape != (side, side) or filters < self.groups or filters % self.groups:
            raise ValueError(
                f"gram must be square, of side S + N + G m = {self.signals} + {self.n_vectors} + {self.groups} m "
                f"(m >= 1); got shape {self.gram.shape}")

    def _per_sample(self, name, values) -> np.ndarray:
        array = np.asarray(values)
        if array.shape != (self.n,) or not (array.dtype.kind in "iu" or (array == np.round(array)).all()):
            raise ValueError(f"{name} must hold one integer per sample, shape ({self.n},); got shape {array.shape}")
        return array.astype(np.int64)

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
        """The number of filters per group."""
        return (self.gram.shape[0] - self.signals - self.n_vectors) // self.groups

    @property
    def b0(self) -> np.ndarray:
        """The initial bias :math:`b^{(0)}`, shape (G, m): zeros (the bias starts at 0)."""
        if not self.has_bias:
            raise AttributeError("data.b0 exists only for runs with bias=True")
        return np.zeros((self.groups, self.m))

    def _vector(self, name):
        value = self._vectors[name]
        if value is None:
            raise AttributeError(
                f"data.{name} does not exist for sampling={self.sampling!r}: that run drew the Gram "
                "statistics directly, never the d-dimensional vectors; use sampling='explicit' to get them"
            )
        return value

    def _single(self, name: str, general: str):
        """Refuse a name of the paper's model (one signal vector) for a run with several."""
        if self.signals != 1:
            raise AttributeError(f"data.{name} exists only for one signal vector (S = 1); this run has "
                                 f"S = {self.signals}: use data.{general}")

    signal_vectors = property(lambda self: self._vector("signal_vectors"),
                              doc=r"Signal vectors :math:`u_0, \dots, u_{S-1}`, shape (S, d).")
    xi = property(lambda self: self._vector("xi"), doc="Noise patches, shape (n, d) or (n, P - 1, d).")
    W0 = property(lambda self: self._vector("W0"), doc="Initial filters, shape (G, m, d).")

    @property
    def mu(self) -> np.ndarray:
        r"""Signal vector :math:`\mu = u_0`, shape (d,); only for S = 1 (else see ``signal_vectors``)."""
        self._single("mu", "signal_vectors")
        return self._vector("signal_vectors")[0]

    @property
    def has_vectors(self) -> bool:
        """Whether the d-dimensional vectors were drawn (``sampling="explicit"``)."""
        return self._vectors["xi"] is not None

    def patches(self) -> np.ndarray:
        r"""The patches of every sample, shape (n, P, d).

        Patch 0 of sample i is its signal patch :math:`s_i u_{k_i}`, patches 1 to P - 1 its noise patches;
        in the additive layout the one patch is :math:`s_i u_{k_i} + \xi_i` (P = 1).

        Returns
        -------
        ndarray of float64, shape (n, P, d)
            The patches.

        Raises
        ------
        AttributeError
            For a run that never drew the vectors (``sampling="gram"``).
        """
        signal_vectors, xi = self._vector("signal_vectors"), self._vector("xi")
        signal = self.signal_sign[:, None] * signal_vectors[self.signal_index]  # (n, d)
        noise = xi.reshape(self.n, self.noise_patches, -1)
        if self.additive:
            return (signal + noise[:, 0])[:, None]
        return np.concatenate([signal[:, None], noise], axis=1)

    # Named blocks of the Gram matrix ------------------------------------

    @property
    def signal_sq(self) -> np.ndarray:
        r""":math:`\|u_k\|^2`, shape (S,)."""
        return np.diagonal(self.gram)[: self.signals].copy()

    @property
    def xi_sq(self) -> np.ndarray:
        r""":math:`\|\xi_k\|^2`, shape (N,)."""
        S = self.signals
        # A copy: np.diagonal is a read-only view, and a one-element slice of it would pass as contiguous (a
        # read-only array is another type to numba, and would compile the dynamics a second time).
        return np.diagonal(self.gram)[S : S + self.n_vectors].copy()

    @property
    def xi_gram(self) -> np.ndarray:
        r""":math:`\langle \xi_k, \xi_l \rangle`, shape (N, N)."""
        S, N = self.signals, self.n_vectors
        return np.ascontiguousarray(self.gram[S : S + N, S : S + N])

    @property
    def xi_signal(self) -> np.ndarray:
        r""":math:`\langle \xi_k, u_s \rangle`, shape (N, S)."""
        S, N = self.signals, self.n_vectors
        return np.ascontiguousarray(self.gram[S : S + N, :S])

    @property
    def w0_signal(self) -> np.ndarray:
        r""":math:`\langle w_{g,r}^{(0)}, u_s \rangle`, shape (G, m, S)."""
        S = self.signals
        return self.gram[S + self.n_vectors :, :S].reshape(self.groups, self.m, S).copy()

    @property
    def w0_xi(self) -> np.ndarray:
        r""":math:`\langle w_{g,r}^{(0)}, \xi_k \rangle`, shape (G, m, N)."""
        S, N = self.signals, self.n_vectors
        return self.gram[S + N :, S : S + N].reshape(self.groups, self.m, N).copy()

    @property
    def mu_sq(self) -> float:
        r""":math:`\|\mu\|^2`; only for S = 1 (else see ``signal_sq``)."""
        self._single("mu_sq", "signal_sq")
        return float(self.gram[0, 0])

    @property
    def xi_mu(self) -> np.ndarray:
        r""":math:`\langle \xi_k, \mu \rangle`, shape (N,); only for S = 1 (else see ``xi_signal``)."""
        self._single("xi_mu", "xi_signal")
        return np.ascontiguousarray(self.gram[0, 1 : 1 + self.n_vectors])

    @property
    def w0_mu(self) -> np.ndarray:
        r""":math:`\langle w_{g,r}^{(0)}, \mu \rangle`, shape (G, m); only for S = 1 (else see ``w0_signal``)."""
        self._single("w0_mu", "w0_signal")
        return self.gram[1 + self.n_vectors :, 0].reshape(self.groups, self.m).copy()


def _signal_vectors(mu, signal_vectors, signals) -> tuple[np.ndarray | None, int]:
    """Data's signal vectors (or None) and S, from its keywords mu, signal_vectors and signals."""
    if mu is not None:
        if signal_vectors is not None:
            raise ValueError("give mu or signal_vectors, not both: mu is signal_vectors=mu[None] (S = 1)")
        signal_vectors = np.asarray(mu)[None]
    if signal_vectors is not None and np.ndim(signal_vectors) != 2:
        raise ValueError(f"signal_vectors must have shape (S, d); got shape {np.shape(signal_vectors)}")
    rows = None if signal_vectors is None else np.shape(signal_vectors)[0]
    if signals is None:
        signals = 1 if rows is None else rows
    if isinstance(signals, bool) or int(signals) != signals or signals < 1 or rows not in (None, signals):
        raise ValueError(f"signals must be an integer >= 1 (S, the rows of signal_vectors); got {signals!r}"
                         + ("" if rows is None else f" with {rows} signal vectors"))
    return signal_vectors, int(signals)


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


def sample_labels(config: SimulationConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    r"""True labels and their flipped copies, the observed labels.

    Binary model: :math:`y = \pm 1` with probability 1/2, flipped with probability ``tau_pos`` (class
    +1) or ``tau_neg`` (class -1). One output per class (``config.multiclass``): with C = 2 classes,
    the binary draw relabelled, :math:`c = (1 - y) / 2` (class 0 is :math:`y = +1`); with C >= 3 a
    class uniform on :math:`0, \dots, C - 1`, flipped with probability :math:`\tau` to another class,
    chosen uniformly. ``flips="exact"`` flips exactly ``round(tau n_c)`` labels of each class c
    (:math:`n_c` its samples), chosen at random (each, with C >= 3, to a uniform other class).

    Parameters
    ----------
    config : SimulationConfig
        The run.
    rng : numpy.random.Generator
        The generator to draw from (the ``"labels"`` stream).

    Returns
    -------
    y : ndarray of int64, shape (n,)
        True labels: :math:`\pm 1`, or classes :math:`0, \dots, C - 1` with one output per class.
    y_noisy : ndarray of int64, shape (n,)
        Observed labels, the same values.
    """
    if config.classes > 2:
        return _sample_classes(config, rng)
    y = np.where(rng.random(config.n) < 0.5, 1, -1).astype(np.int64)
    if config.flips == "exact":
        # round() halves to even, like the authors' NumPy code.
        flipped = np.concatenate([rng.choice(np.flatnonzero(y == label), round(rate * np.count_nonzero(y == label)),
                                             replace=False)
                                  for label, rate in ((1, config.tau_pos), (-1, config.tau_neg))])
        y_noisy = y.copy()
        y_noisy[flipped] = -y[flipped]
    else:
        flip_rate = np.where(y == 1, config.tau_pos, config.tau_neg)
        y_noisy = np.where(rng.random(config.n) < flip_rate, -y, y)
    if config.multiclass:
        return (1 - y) // 2, (1 - y_noisy) // 2
    return y, y_noisy


def _sample_classes(config: SimulationConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """C >= 3 classes: uniform classes, each flipped with probability tau to a uniform other class."""
    C, tau = config.classes, config.tau_pos  # tau_pos == tau_neg (config refuses others)
    y = rng.integers(C, size=config.n, dtype=np.int64)
    if config.flips == "exact":
        flipped = np.concatenate([rng.choice(np.flatnonzero(y == c), round(tau * np.count_nonzero(y == c)),
                                             replace=False) for c in range(C)])
    else:
        flipped = np.flatnonzero(rng.random(config.n) < tau)
    y_noisy = y.copy()
    # y + a uniform shift in 1..C-1, modulo C: each other class with probability 1 / (C - 1).
    y_noisy[flipped] = (y[flipped] + rng.integers(1, C, size=flipped.size, dtype=np.int64)) % C
    return y, y_noisy


def sample_signals(config: SimulationConfig, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    r"""The signal patch of each sample given its true label, as :func:`signal_law` says.

    Sample i of class :math:`c_i` carries :math:`s_i u_{k_i}`, a pattern :math:`(k, s)` of its class drawn
    with its probability. A class with one pattern (``features="single"``) takes it without a draw; with
    patterns to choose (``"xor"``, ``"common_rare(p)"``) one uniform per sample is drawn from ``rng``.

    Parameters
    ----------
    config : SimulationConfig
        The run.
    y : ndarray of int, shape (n,)
        The true labels, as :func:`sample_labels` gives them: :math:`\pm 1` (class 0 is :math:`y = +1`),
        or the classes with one output per class.
    rng : numpy.random.Generator
        The generator to draw from (the ``"features"`` stream).

    Returns
    -------
    signal_index : ndarray of int64, shape (n,)
        :math:`k_i`, the signal vector of each sample.
    signal_sign : ndarray of int64, shape (n,)
        :math:`s_i = \pm 1`, the sign of its signal patch.
    """
    y = np.asarray(y)
    classes = y if config.multiclass else (1 - y) // 2
    law = signal_law(config)
    index = np.empty(y.shape[0], dtype=np.int64)
    sign = np.empty(y.shape[0], dtype=np.int64)
    uniform = rng.random(y.shape[0]) if any(len(patterns) > 1 for patterns in law) else None
    for c, patterns in enumerate(law):
        members = classes == c
        ks, signs, probabilities = (np.array(column) for column in zip(*patterns))
        # Pattern j where the uniform falls in [P_{j-1}, P_j) of the cumulative probabilities.
        pick = 0 if uniform is None or len(patterns) == 1 else np.minimum(
            np.searchsorted(np.cumsum(probabilities), uniform[members], side="right"), len(patterns) - 1)
        index[members] = ks[pick]
        sign[members] = signs[pick]
    return index, sign


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
        The labels, the signal patches, the Gram matrix and (explicit sampling) the vectors.
    """
    if config.sampling == "gram":
        return sample_gram(config)
    return sample_explicit(config)


def _labels_and_signals(config: SimulationConfig, rngs: dict[str, np.random.Generator]) -> dict:
    """The labels and signal patches (the same for both samplings), as keywords of Data."""
    y, y_noisy = sample_labels(config, rngs["labels"])
    index, sign = sample_signals(config, y, rngs["features"])
    return dict(y=y, y_noisy=y_noisy, signal_index=index, signal_sign=sign, signals=config.signal_vectors,
                groups=config.groups, noise_patches=config.noise_patches, bias=config.bias,
                additive=config.layout == "additive")


def sample_explicit(config: SimulationConfig) -> Data:
    r"""Draw the data set and initial weights of ``config`` explicitly.

    The signal vectors lie in the first S coordinates, as :func:`signal_basis` gives them
    (:math:`\mu = \|\mu\| e_1` for the paper's model; the noise laws are rotation invariant, so this
    loses no generality); ``noise="orthogonal"`` zeroes the first S coordinates of each :math:`\xi_i`,
    which is exactly its projection on the orthogonal complement of the signal vectors. The initial
    filters are ``sigma0`` times standard normals, shape (G, m, d).

    The vectors are drawn straight into the input of the Gram kernel, ξ's rows then W⁽⁰⁾'s, padded with
    zero rows to a multiple of 16; ``data.xi`` and ``data.W0`` are views of it (of their documented
    shapes, C-contiguous), and hold the bits fresh arrays of the same draws would. A draw of
    ``PARALLEL_NORMALS`` = 2**25 normals or more (ξ at n = 2000, d = 20000) is split into blocks of rows,
    each from a child generator of its stream, drawn on threads (``_standard_normals``): other normals
    than one generator's, the same whatever the thread count.

    Parameters
    ----------
    config : SimulationConfig
        The run.

    Returns
    -------
    Data
        The labels, the signal patches, the Gram matrix and the vectors.
    """
    rngs = seed_streams(config.seed)
    n, d, m, S = config.n, config.d, config.m, config.signal_vectors
    labels = _labels_and_signals(config, rngs)
    basis = signal_basis(config)
    signal_vectors = np.zeros((S, d))
    signal_vectors[:, :S] = basis
    N, filters = n * config.noise_patches, config.groups * m
    p = N + filters
    # ξ and W⁽⁰⁾ are drawn straight into the rows of the Gram kernel's input, zero rows after them up to a
    # multiple of 16 (_kernels.gram_rows); data.xi and data.W0 are views of it. The same normals in the same
    # order as fresh arrays of their shapes, the same bits.
    random = np.empty((_kernels.gram_rows(p), d))
    random[p:] = 0.0
    # An overflow is reported by check_statistics, naming the parameter, not as a warning.
    with np.errstate(over="ignore", invalid="ignore"):
        _standard_normals(random[:N], config.sigma_xi, rngs["noise"], config.seed, "noise")
        if config.noise == "orthogonal":
            random[:N, :S] = 0.0
        _standard_normals(random[N:p], config.sigma0, rngs["init"], config.seed, "init")
        gram = _padded_gram(basis, random, p)
    check_statistics(gram, config)
    xi = random[:N] if config.noise_patches == 1 else random[:N].reshape(n, config.noise_patches, d)
    W0 = random[N:p].reshape(config.groups, m, d)
    return Data(gram=gram, signal_vectors=signal_vectors, xi=xi, W0=W0, sampling="explicit", **labels)


#: Normals of one draw of explicit sampling (ξ, or W⁽⁰⁾) from which they are drawn in blocks of rows, each
#: from a child generator of the stream, on threads (``_standard_normals``): 2**25 = 3.4e7 (256 MiB). Below
#: it one generator draws them all, as it always did: every explicit result the documentation shows lies
#: below it (the largest, n = 200 at d = 100000, draws 2e7 normals; n = 2000, d = 20000 draws 4e7).
PARALLEL_NORMALS = 2**25

#: Normals per block of a parallel draw, in whole rows (at least one): 2**22 (32 MiB).
BLOCK_NORMALS = 2**22


def _standard_normals(out: np.ndarray, scale: float, rng: np.random.Generator, seed: int, name: str) -> None:
    """Fill ``out`` (rows, d), C-contiguous, with ``scale`` times standard normals of the stream ``name``.

    Below ``PARALLEL_NORMALS`` entries, ``rng``, the stream's generator (``seed_streams(seed)[name]``),
    draws them all in order: the bits of ``scale * rng.standard_normal(out.shape)``, in place (no
    multiply for a scale of 1.0, which changes no bit). From it on, the rows are split into blocks of
    ``BLOCK_NORMALS`` normals (whole rows, at least one), block k drawn by its own generator,
    ``substream(seed, name, k)``, and the blocks are shared among ``numba.get_num_threads()`` threads
    (numpy's generators release the GIL while they fill an array). The split depends on the shape alone:
    the same bits whatever the thread count.
    """
    rows, d = out.shape

    def fill(block: np.ndarray, generator: np.random.Generator) -> None:
        generator.standard_normal(out=block)
        if scale != 1.0:
            np.multiply(block, scale, out=block)

    if out.size < PARALLEL_NORMALS:
        fill(out, rng)
        return
    per_block = max(1, BLOCK_NORMALS // d)
    blocks = [(out[start : start + per_block], k) for k, start in enumerate(range(0, rows, per_block))]
    threads = min(numba.get_num_threads(), len(blocks))
    if threads < 2:
        for block, k in blocks:
            fill(block, substream(seed, name, k))
        return
    with ThreadPoolExecutor(threads, thread_name_prefix="labelnoise_sim-normals") as pool:
        for done in [pool.submit(fill, block, substream(seed, name, k)) for block, k in blocks]:
            done.result()


def explicit_gram(signals, xi: np.ndarray, W0: np.ndarray) -> np.ndarray:
    r"""The Gram matrix of the signal vectors, the noise vectors and the filters, in ``Data.gram``'s order.

    Formed in a fixed order (not by BLAS), so its bits do not depend on the
    thread count: the noise vectors and filters by ``_kernels.gram``; a row of a
    signal vector, :math:`\langle u_k, v \rangle = \sum_j u_{k,j} v_j` over its first coordinates, term
    by term in ascending j (:math:`\|\mu\| v_1` exactly for :math:`\mu = \|\mu\| e_1`).

    Parameters
    ----------
    signals : float or ndarray of float64, shape (S, k)
        The signal vectors in their first k coordinates (zero beyond), k <= d, as :func:`signal_basis`
        gives them; a float :math:`\|\mu\|` stands for the one vector :math:`\mu = \|\mu\| e_1`.
    xi : ndarray of float64, shape (N, d)
        The noise vectors.
    W0 : ndarray of float64, shape (G, m, d)
        The initial filters.

    Returns
    -------
    ndarray of float64, shape (S + N + G m, S + N + G m)
        The Gram matrix.
    """
    basis = np.array([[signals]], dtype=np.float64) if np.ndim(signals) == 0 else np.asarray(signals, np.float64)
    N, d = xi.shape
    p = N + W0.size // d
    # Zero rows up to a multiple of 16: the same sums, all in the Gram kernel's strips (_kernels.gram).
    random = np.empty((_kernels.gram_rows(p), d))
    random[:N] = xi
    random[N:p] = W0.reshape(-1, d)
    random[p:] = 0.0
    return _padded_gram(basis, random, p)


def _padded_gram(basis: np.ndarray, random: np.ndarray, p: int) -> np.ndarray:
    """:func:`explicit_gram` of the signal vectors ``basis`` (S, k) and the first p rows of ``random``, the noise
    vectors then the filters, zero rows after them up to ``_kernels.gram_rows(p)``."""
    S = basis.shape[0]
    gram = np.empty((S + p, S + p))
    gram[S:, S:] = _kernels.gram(random, p)
    gram[:S, :S] = _fixed_products(basis, basis)
    gram[:S, S:] = _fixed_products(basis, random[:p, : basis.shape[1]])
    gram[S:, :S] = gram[:S, S:].T
    return gram


def _fixed_products(U: np.ndarray, V: np.ndarray) -> np.ndarray:
    r"""U Vᵀ, each entry :math:`\sum_j U_{a,j} V_{b,j}` in ascending j, its zero terms of U left out.

    One rounded multiply and one rounded add per term, like ``_kernels.gram``;
    a term :math:`0 \cdot V_{b,j}` adds nothing (and no NaN where :math:`V_{b,j}` overflowed),
    and a row of U with one nonzero entry gives its products exactly.
    """
    out = np.zeros((U.shape[0], V.shape[0]))
    for a, row in enumerate(U):
        terms = np.flatnonzero(row)
        if terms.size:
            out[a] = row[terms[0]] * V[:, terms[0]]
            for j in terms[1:]:
                out[a] += row[j] * V[:, j]
    return out


def sample_gram(config: SimulationConfig) -> Data:
    r"""Draw the Gram matrix of ``config``'s data directly, at a cost independent of d.

    With the S signal vectors in the first S coordinates (:func:`signal_basis`), split every random
    vector :math:`v \in \{\xi_i, w_{g,r}^{(0)}\}` into its first S coordinates :math:`v_{1:S}` and the rest
    :math:`\bar v \in \mathbb{R}^{d-S}`. Then

    .. math::

        \langle u_k, v \rangle = \sum_{j \le S} u_{k,j} v_j, \qquad
        \langle u, v \rangle = \sum_{j \le S} u_j v_j + \langle \bar u, \bar v \rangle,

    the :math:`v_j`, :math:`j \le S`, are independent normals (:math:`\sigma_\xi` for :math:`\xi`, or
    exactly 0 for orthogonal noise; :math:`\sigma_0` for the filters), and the :math:`(N + G m)`-square
    matrix of the :math:`\langle \bar u, \bar v \rangle` is :math:`D W D` with
    :math:`D = \operatorname{diag}(\sigma_\xi, \dots, \sigma_\xi, \sigma_0, \dots, \sigma_0)` and
    :math:`W \sim \operatorname{Wishart}(d - S, I)` (:func:`wishart_identity`). This is the law of
    :func:`sample_explicit`'s Gram matrix, drawn in :math:`O((N + G m)^3)` operations. The signal
    vectors' own block is exact: :math:`\|\mu\|^2` times the Gram matrix of the basis'
    integer entries. The labels and signal patches are drawn from the same streams as in explicit
    sampling, so both samplings share them.

    Parameters
    ----------
    config : SimulationConfig
        The run.

    Returns
    -------
    Data
        The labels, the signal patches and the Gram matrix.
    """
    rngs = seed_streams(config.seed)
    N, S = config.n * config.noise_patches, config.signal_vectors
    filters = config.groups * config.m
    p = N + filters
    labels = _labels_and_signals(config, rngs)
    basis = signal_basis(config)
    first = np.zeros((p, S))
    # An overflow (and inf - inf, inf * 0) is reported by check_statistics, naming the parameter, not as a warning.
    with np.errstate(over="ignore", invalid="ignore"):
        if config.noise == "isotropic":
            first[:N] = config.sigma_xi * rngs["noise"].standard_normal((N, S))
        first[N:] = config.sigma0 * rngs["init"].standard_normal((filters, S))
        scale = np.r_[np.full(N, config.sigma_xi), np.full(filters, config.sigma0)]
        rest = wishart_identity(config.d - S, p, rngs["noise"])
        try:
            square = config.mu_norm**2
        except OverflowError:  # Python's ** raises where float64 arithmetic gives inf, which is reported below
            square = math.inf
        gram = np.empty((S + p, S + p))
        # basis / mu_norm holds 0 and +-1 exactly: the products of its rows are small integers, exact.
        gram[:S, :S] = square * _fixed_products(basis / config.mu_norm, basis / config.mu_norm)
        gram[:S, S:] = _fixed_products(basis, first)
        gram[S:, :S] = gram[:S, S:].T
        outer = first[:, 0, None] * first[None, :, 0]
        for j in range(1, S):
            outer += first[:, j, None] * first[None, :, j]
        gram[S:, S:] = scale[:, None] * rest * scale[None, :] + outer
        gram = 0.5 * (gram + gram.T)
    check_statistics(gram, config)
    return Data(gram=gram, sampling="gram", **labels)


def check_statistics(gram: np.ndarray, config: SimulationConfig) -> None:
    r"""Refuse a Gram matrix that float64 could not hold.

    An entry that overflowed, or a norm the dynamics divide by that underflowed:
    such a run would only fail later, on its first non-finite output, as a
    :class:`~labelnoise_sim.DivergenceError` that blames :math:`\eta`.

    Parameters
    ----------
    gram : ndarray of float64, shape (S + N + G m, S + N + G m)
        The Gram matrix drawn for ``config``.
    config : SimulationConfig
        The run.

    Raises
    ------
    ValueError
        Naming the parameters that set the norms at fault.
    """
    N, d, S = config.n * config.noise_patches, config.d, config.signal_vectors
    diagonal = np.diagonal(gram)
    if S == 1:
        signal = "‖μ‖² = mu_norm²"
    elif config.features_kind[0] == "xor":
        signal = "‖a ± b‖² = 2 mu_norm²"
    else:
        signal = "‖u_k‖² = mu_norm²"
    # The squared norms on the diagonal: what sets them, the parameters with their values, the entries.
    norms = [
        ("mu_norm", signal, f"mu_norm={config.mu_norm!r}", diagonal[:S]),
        ("sigma_xi", "‖ξ_i‖² ≈ sigma_xi² d", f"sigma_xi={config.sigma_xi!r}, d={d!r}", diagonal[S : S + N]),
        ("sigma0", "‖w⁽⁰⁾‖² ≈ sigma0² d", f"sigma0={config.sigma0!r}, d={d!r}", diagonal[S + N :]),
    ]
    if not np.isfinite(gram).all():
        # |⟨u, v⟩| <= max(‖u‖², ‖v‖²): an inner product overflows only with a squared norm.
        faulty = [norm for norm in norms if not np.isfinite(norm[3]).all()] or norms
        raise _scale_error(faulty, "large", "overflow float64", "lower")
    # The kernels divide by every ‖u_k‖² and every ‖ξ_i‖² (the norms of the initial filters may vanish).
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
    return _kernels.gram(L, p, triangular=True)
