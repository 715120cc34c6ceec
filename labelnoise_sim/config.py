r"""Parameters of one simulation run, each declared once.

:class:`SimulationConfig` is the single, frozen record of everything that
determines a run. The signal strength is stored once, as ``mu_norm`` (the norm
of the signal vector :math:`\mu`); the signal-to-noise ratio and the paper's
``n * snr**2`` are derived properties, as is the theoretical Stage I time
scale.

Every parameter is declared exactly once, with :func:`param`: its default,
its constraint (``labelnoise_sim._validation``: which values it allows,
described in words) and a one-line help. The fields are declared on
:class:`SimulationConfig`; ``tau``, ``snr`` and ``n_snr2``, accepted instead of
some fields and never stored, on :class:`Alternatives`. Everything else
derives from these declarations (:data:`PARAMETERS`):

- the checks of :class:`SimulationConfig` and
  :meth:`~labelnoise_sim.SimulationConfig.from_params`, and their error messages;
- the parameters a sweep grid accepts (``labelnoise_sim.sweep``);
- the options of every ``labelnoise-sim`` subcommand, with help and default
  (``labelnoise_sim.cli._options``);
- the parameter entries of the docstrings of ``SimulationConfig`` and
  ``simulate``, and the parameter table of docs/api.md
  (``python docs/scripts/parameter_table.py``);
- the bad-input cases of tests/test_validation.py.

Only the rules that tie parameters together (``d >= 2`` with orthogonal
noise, a Gram matrix of side ``1 + n + 2m`` that numpy can hold, recorded
steps within ``[0, steps]``, at most one signal strength, ``tau`` excluding
``tau_pos``/``tau_neg``) are written out as code. Whether a run fits in the
memory of the machine is checked where it runs (``dynamics.memory_bytes``).

Adding a parameter means editing only its declaration here and the code that
uses it. That code includes ``simulate()``, whose keywords are spelled out for
type checkers and IDEs (tests/test_parameters.py fails until the new one is
there); then regenerate the docs table.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import textwrap
from typing import Any

import numpy as np

from ._validation import Activation, Boolean, Choice, Features, Integer, Real, parse_activation, parse_features

__all__ = [
    "SimulationConfig",
    "Alternatives",
    "Parameter",
    "PARAMETERS",
    "param",
    "DEFAULT_N_SNR2",
    "DEFAULT_TAU",
    "NOISE_MODELS",
    "SAMPLINGS",
    "LOSSES",
    "LAYOUTS",
    "FLIPS",
    "OUTPUT_SCALES",
    "OUTPUT_LAYERS",
]

#: ``n * snr**2`` used when none of ``mu_norm``, ``snr`` and ``n_snr2`` is given.
#: With the default flip rate it puts a run in the two-stage regime: the signal
#: term of the update outruns the memorisation of a noisy sample while
#: ``n_snr2 * (1 - 2 tau) / 2 > 1``.
DEFAULT_N_SNR2 = 6.0
#: Flip rate of both classes used when none of ``tau``, ``tau_pos`` and
#: ``tau_neg`` is given.
DEFAULT_TAU = 0.2
NOISE_MODELS = ("isotropic", "orthogonal")
SAMPLINGS = ("explicit", "gram")
LOSSES = ("logistic", "hinge", "exponential", "squared", "cross_entropy")
OUTPUT_LAYERS = ("fixed", "trained")
LAYOUTS = ("patches", "additive")
FLIPS = ("bernoulli", "exact")
OUTPUT_SCALES = ("mean", "sum")
#: Records per decade of the default logarithmic record grid.
LOG_RECORDS_PER_DECADE = 50

FLIP_RATE = Real(low=0, high=0.5, high_open=True)
POSITIVE = Real(low=0, low_open=True)
NON_NEGATIVE = Real(low=0)
#: Largest d, the largest int64: Bartlett's draw (``sampling="gram"``) passes
#: the d - 1 - i degrees of freedom of its chi-square variates to numpy as int64
#: (past 2**53 numpy rounds them to float64, by far less than a variate's
#: spread), and tables hold d in an int64 column. Explicit sampling is bounded
#: far below by memory (its noise patches are n × d floats).
MAX_D = 2**63 - 1
#: Largest number of steps: the default record grid is computed in float64,
#: which holds every integer up to 2**53; past it a rounded grid point can land
#: after the last step (2**53 + 3 rounds to 2**53 + 4).
MAX_STEPS = 2**53
#: Largest side 1 + n + 2m of the Gram matrix: numpy holds at most 2**63 - 1
#: bytes in one array, and a side of 2**30 float64 would need 2**63.
MAX_GRAM_SIDE = 2**30 - 1


def param(default, constraint, help: str, *, replaces: tuple[str, ...] = ()) -> dataclasses.Field:
    """Declare a parameter as a dataclass field.

    Parameters
    ----------
    default : object
        The default value; a default of None also admits None (the value is
        then derived, or the parameter not given).
    constraint : Integer, Real or Choice
        The values allowed (see ``labelnoise_sim._validation``).
    help : str
        One line on its meaning, for the command line, the docstrings and docs.
    replaces : tuple of str
        For an alternative parameter, the fields it sets.

    Returns
    -------
    dataclasses.Field
        The field, with the constraint, help and replaced fields in its metadata.
    """
    return dataclasses.field(default=default, metadata={"constraint": constraint, "help": help, "replaces": replaces})


@dataclasses.dataclass(frozen=True)
class Parameter:
    """A declared parameter, as read from its field (see :func:`param`).

    Attributes
    ----------
    name : str
        The parameter's name.
    default : object
        Its default value.
    constraint : Integer, Real or Choice
        The values allowed.
    help : str
        One line on its meaning.
    type : str
        Its type, as annotated on the field.
    replaces : tuple of str
        For an alternative parameter, the fields it sets; empty for a field.
    """

    name: str
    default: object
    constraint: Integer | Real | Choice
    help: str
    type: str
    replaces: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        """The help, and for an alternative the fields it stands for."""
        return self.help + (f"; given instead of {' and '.join(self.replaces)}" if self.replaces else "")

    @property
    def allowed(self) -> str:
        """The values allowed, in words."""
        return ("None or " if self.default is None else "") + self.constraint.allowed

    def check(self, value):
        """Check and convert ``value`` by the constraint; None passes where it is the default.

        Parameters
        ----------
        value : object
            A value given for the parameter.

        Returns
        -------
        object
            The value, converted (an integral float to int, for instance).

        Raises
        ------
        ValueError
            Naming the parameter, the values allowed and ``value``, if it is not allowed.
        """
        if value is None and self.default is None:
            return None
        return self.constraint.check(self.name, value)


def _declared(cls) -> dict[str, Parameter]:
    return {
        f.name: Parameter(f.name, f.default, f.metadata["constraint"], f.metadata["help"], f.type,
                          f.metadata["replaces"])
        for f in dataclasses.fields(cls)
    }


def _signature_order(fields: dict, alternatives: dict) -> dict[str, Parameter]:
    """The fields, each alternative right after the last field it replaces."""
    out = {}
    for name, field in fields.items():
        out[name] = field
        out.update((a.name, a) for a in alternatives.values() if a.replaces[-1] == name)
    return out


@dataclasses.dataclass(frozen=True)
class SimulationConfig:
    """Every parameter of one run; validated on construction.

    Attributes
    ----------
    {parameters}
    """

    n: int = param(200, Integer(low=1), "training samples")
    d: int = param(2000, Integer(low=1, high=MAX_D), "dimension of each patch")
    m: int = param(10, Integer(low=1), "filters per class")
    eta: float = param(0.1, POSITIVE, "learning rate of full-batch gradient descent")
    steps: int = param(2000, Integer(low=0, high=MAX_STEPS), "gradient steps")
    tau_pos: float = param(DEFAULT_TAU, FLIP_RATE, "probability that a label y = +1 is flipped to -1")
    tau_neg: float = param(DEFAULT_TAU, FLIP_RATE, "probability that a label y = -1 is flipped to +1")
    mu_norm: float | None = param(
        None, POSITIVE, f"norm of the signal vector mu (by default the norm that gives n_snr2 = {DEFAULT_N_SNR2:g})"
    )
    sigma0: float = param(0.01, POSITIVE, "standard deviation of the initial weights")
    sigma_xi: float = param(1.0, POSITIVE, "standard deviation of the noise patch")
    noise: str = param(
        "isotropic", Choice(NOISE_MODELS),
        "'isotropic': xi ~ N(0, sigma_xi^2 I); 'orthogonal': the same, projected orthogonally to mu",
    )
    seed: int = param(0, Integer(low=0), "seed of every random draw (data, initial weights, test-error draws)")
    record: None | int | tuple[int, ...] = param(
        None, Integer(low=1),
        "record every k-th step and the last (by default a logarithmic grid); or a sequence of the steps to "
        "record, each in [0, steps]",
    )
    sampling: str = param(
        "explicit", Choice(SAMPLINGS),
        "'explicit' draws the d-dimensional vectors and forms their Gram matrix; 'gram' draws the Gram "
        "matrix itself from the same law (cost free of d)",
    )
    # The model family: each option changes one piece of the network, the loss, the data or the optimizer.
    activation: str = param(
        "relu", Activation(),
        "activation sigma of every filter: 'relu', 'relu^q' (q > 1), 'leaky_relu(a)' (0 < a < 1) or "
        "'smoothed_relu(q,kappa)' (z^q / (q kappa^(q-1)) on [0, kappa], linear above)",
    )
    loss: str = param("logistic", Choice(LOSSES), "loss of the margin z = y~ f: log(1 + e^-z), max(0, 1 - z), "
                      "e^-z or (1 - z)^2 / 2; or 'cross_entropy': softmax cross-entropy of one output per class "
                      "(with classes > 2, 'logistic' is the same loss)")
    layout: str = param(
        "patches", Choice(LAYOUTS),
        "'patches': a signal patch y mu and patches - 1 noise patches, all through the same filters; "
        "'additive': one vector y mu + xi",
    )
    patches: int = param(2, Integer(low=2), "patches per sample with layout='patches' (one signal, the rest noise)")
    flips: str = param(
        "bernoulli", Choice(FLIPS),
        "'bernoulli': each label flipped independently; 'exact': exactly round(tau_pos n+) labels of class +1 "
        "and round(tau_neg n-) of class -1, chosen at random",
    )
    bias: bool = param(False, Boolean(), "a trainable bias per filter, starting at 0, added to every patch")
    output_scale: str = param("mean", Choice(OUTPUT_SCALES), "second-layer weights +-1/m ('mean') or +-1 ('sum')")
    batch_size: int | None = param(
        None, Integer(low=1), "samples per step of minibatch SGD, a fresh seeded permutation each epoch "
        "(by default the full batch: gradient descent)",
    )
    momentum: float = param(0.0, Real(low=0, high=1, high_open=True),
                            "heavy-ball momentum (torch.optim.SGD's convention); from 1 on the buffer never forgets "
                            "a gradient and the steps grow without bound")
    weight_decay: float = param(0.0, NON_NEGATIVE, "coupled L2 penalty lambda of torch.optim.SGD: the gradient "
                                "gains lambda times the weights, initial component included")
    label_noise: float = param(
        0.0, FLIP_RATE, "label-noise GD: each label in the loss flipped with this probability, afresh every step",
    )
    sam: float = param(0.0, NON_NEGATIVE, "radius of sharpness-aware minimisation (0: off)")
    # The data family: the signal vectors, the classes and the output layer.
    features: str = param(
        "single", Features(),
        "signal vectors: 'single' (+-mu, or one orthogonal mu_c per class), 'xor' (class +1 carries +-(a + b), "
        "class -1 +-(a - b), a and b orthogonal, each of norm mu_norm) or 'common_rare(p)' (per class a common and "
        "a rare vector, all orthogonal, of norm mu_norm; the rare one with probability p)",
    )
    classes: int = param(2, Integer(low=2), "classes C: C groups of m filters, one output each, softmax "
                         "cross-entropy (2: the binary model, or with loss='cross_entropy' two outputs)")
    output_layer: str = param(
        "fixed", Choice(OUTPUT_LAYERS),
        "'fixed': second-layer weights +-1/m (or 1/m per class); 'trained': they start there and follow the "
        "same optimizer",
    )

    def __post_init__(self):
        set_ = functools.partial(object.__setattr__, self)
        sizes = self.n, self.m  # as given, for the message of _check_gram_side
        for name, parameter in FIELDS.items():
            if name != "record":  # its explicit steps are bounded by steps: _check_record below
                set_(name, parameter.check(getattr(self, name)))
        _check_gram_side(*sizes)
        if self.mu_norm is None:
            default = self.sigma_xi * math.sqrt(DEFAULT_N_SNR2 * self.d / self.n)
            set_("mu_norm", _derived_mu_norm(default, f"sigma_xi sqrt({DEFAULT_N_SNR2:g} d / n), the default,",
                                             f"sigma_xi={self.sigma_xi!r}, d={self.d!r}, n={self.n!r}"))
        if self.noise == "orthogonal" and self.d < 2:
            # The orthogonal complement of μ in R^1 is {0}: every noise patch would vanish.
            raise ValueError(f"d must be an integer >= 2 with noise='orthogonal'; got {self.d!r}")
        set_("record", _check_record(self.record, self.steps))
        if self.batch_size is not None and self.batch_size > self.n:
            raise ValueError(f"batch_size must be None or an integer in [1, n] = [1, {self.n}]; "
                             f"got {self.batch_size!r}")
        _check_data_family(self)
        if self.layout == "additive" and self.patches != 2:
            raise ValueError(f"patches must be 2 (its default) with layout='additive', which has one vector "
                             f"y mu + xi per sample, not patches; got {self.patches!r}")

    @classmethod
    def from_params(
        cls,
        *,
        tau: float | None = None,
        tau_pos: float | None = None,
        tau_neg: float | None = None,
        mu_norm: float | None = None,
        snr: float | None = None,
        n_snr2: float | None = None,
        **params: Any,
    ) -> "SimulationConfig":
        """Build a config, accepting the :class:`~labelnoise_sim.config.Alternatives` to some fields.

        ``tau`` sets both flip rates (and excludes ``tau_pos``/``tau_neg``);
        at most one of ``mu_norm``, ``snr`` and ``n_snr2`` may be given, the
        others follow from ``snr = mu_norm / (sigma_xi sqrt(d))``.

        Parameters
        ----------
        tau : float or None, default None
            The flip rate of both classes.
        tau_pos, tau_neg : float or None, default None
            The flip rate of each class; None for the default.
        mu_norm : float or None, default None
            The norm of the signal vector.
        snr : float or None, default None
            The signal-to-noise ratio, instead of ``mu_norm``.
        n_snr2 : float or None, default None
            ``n * snr**2``, instead of ``mu_norm``.
        **params
            The other fields of :class:`SimulationConfig`.

        Returns
        -------
        SimulationConfig
            The validated configuration.

        Raises
        ------
        TypeError
            For a keyword that is no parameter.
        ValueError
            For a value outside its range, or alternatives given together.
        """
        unknown = set(params) - set(FIELDS)
        if unknown:
            raise TypeError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
        if tau is not None:
            if tau_pos is not None or tau_neg is not None:
                raise ValueError(
                    "tau sets both flip rates and cannot be combined with tau_pos or tau_neg; "
                    f"got tau={tau!r}, tau_pos={tau_pos!r}, tau_neg={tau_neg!r}"
                )
            tau_pos = tau_neg = PARAMETERS["tau"].check(tau)
        params["tau_pos"] = DEFAULT_TAU if tau_pos is None else tau_pos
        params["tau_neg"] = DEFAULT_TAU if tau_neg is None else tau_neg

        given = {k: v for k, v in (("mu_norm", mu_norm), ("snr", snr), ("n_snr2", n_snr2)) if v is not None}
        if len(given) > 1:
            listed = ", ".join(f"{k}={v!r}" for k, v in given.items())
            raise ValueError(f"give at most one of mu_norm, snr and n_snr2; got {listed}")
        if snr is not None or n_snr2 is not None:
            sizes = {k: params.get(k, FIELDS[k].default) for k in ("n", "m", "d", "sigma_xi")}
            n, _, d, sigma_xi = (FIELDS[k].check(value) for k, value in sizes.items())
            _check_gram_side(sizes["n"], sizes["m"])  # before n enters a float division
            if snr is not None:
                snr = PARAMETERS["snr"].check(snr)
                formula, source = "snr", f"snr={snr!r}"
            else:
                n_snr2 = PARAMETERS["n_snr2"].check(n_snr2)
                snr = math.sqrt(n_snr2 / n)
                formula, source = "sqrt(n_snr2 / n)", f"n_snr2={n_snr2!r}, n={n!r}"
            mu_norm = _derived_mu_norm(snr * sigma_xi * math.sqrt(d), f"{formula} sigma_xi sqrt(d)",
                                       f"{source}, sigma_xi={sigma_xi!r}, d={d!r}")
        params["mu_norm"] = mu_norm
        return cls(**params)

    # Derived quantities -------------------------------------------------

    # Derived from positive floats, each of these may lie past the float range although the parameters do
    # not (t1_theory with eta=5e-324, sigma_xi=1e-5): it is then inf (or 0 below it), never an exception
    # (see _total).

    @property
    def snr(self) -> float:
        r"""Signal-to-noise ratio :math:`\|\mu\| / (\sigma_\xi \sqrt{d})`; inf past the float range, 0 below."""
        return _total(lambda: self.mu_norm / (self.sigma_xi * math.sqrt(self.d)),
                      (self.mu_norm, 1), (self.sigma_xi, -1), (math.sqrt(self.d), -1))

    @property
    def n_snr2(self) -> float:
        r"""``n * snr**2``, the paper's :math:`\Theta(1)` competition parameter; inf past the float range, 0 below."""
        return _total(lambda: self.n * self.snr**2, (self.n, 1), (self.mu_norm, 2), (self.sigma_xi, -2),
                      (self.d, -1))

    @property
    def tau(self) -> float | None:
        """The common flip rate if ``tau_pos == tau_neg``, else None."""
        return self.tau_pos if self.tau_pos == self.tau_neg else None

    @property
    def t1_theory(self) -> float:
        r"""The Stage I time scale :math:`n m / (\eta \sigma_\xi^2 d)` of Theorem 4.1 (constants dropped).

        inf where it is past the float range (a tiny :math:`\eta \sigma_\xi^2 d`:
        ``eta=5e-324, sigma_xi=1e-5``), 0 where it is below it.
        """
        return _total(lambda: self.n * self.m / (self.eta * self.sigma_xi**2 * self.d), (self.n, 1), (self.m, 1),
                      (self.eta, -1), (self.sigma_xi, -2), (self.d, -1))

    @property
    def benign_ratio(self) -> float:
        r""":math:`n \|\mu\|^4 / (\sigma_\xi^4 d)`: above ~1 overfitting is benign (Kou et al., 2023).

        inf where it is past the float range (``mu_norm=1e100``), 0 where it is below it.
        """
        return _total(lambda: self.n * self.mu_norm**4 / (self.sigma_xi**4 * self.d), (self.n, 1),
                      (self.mu_norm, 4), (self.sigma_xi, -4), (self.d, -1))

    @property
    def record_steps(self) -> np.ndarray:
        """Sorted, unique steps that are recorded, as an int64 array."""
        if self.record is None:
            return log_grid(self.steps)
        if isinstance(self.record, int):
            return np.unique(np.r_[np.arange(0, self.steps + 1, self.record), self.steps]).astype(np.int64)
        return np.unique(np.asarray(self.record, dtype=np.int64))

    @property
    def activation_kind(self) -> tuple[str, tuple[float, ...]]:
        """The activation's kind and parameters: ``"leaky_relu(0.1)"`` gives ``("leaky_relu", (0.1,))``."""
        return parse_activation(self.activation)

    @property
    def features_kind(self) -> tuple[str, tuple[float, ...]]:
        """The features' kind and parameters: ``"common_rare(0.1)"`` gives ``("common_rare", (0.1,))``."""
        return parse_features(self.features)

    @property
    def multiclass(self) -> bool:
        """Whether the network has one output per class (``classes > 2`` or ``loss="cross_entropy"``).

        Its labels are then 0..C-1 and its loss the softmax cross-entropy;
        otherwise it has one output f, labels ±1 and a loss of the margin.
        """
        return self.classes > 2 or self.loss == "cross_entropy"

    @property
    def groups(self) -> int:
        """Groups of m filters: one per class (2 for the binary model, whose groups have the signs j = ±1)."""
        return self.classes

    @property
    def group_signs(self) -> np.ndarray:
        """The sign j of each group of filters, shape (G,).

        +1 and -1 for the binary model, all +1 with one output per class.
        """
        return np.ones(self.groups) if self.multiclass else np.array([1.0, -1.0])

    @property
    def initial_output_weights(self) -> np.ndarray:
        """The second layer at step 0, shape (G, m).

        j/m by the group's sign j (:attr:`group_signs`), or j with ``output_scale="sum"``.
        """
        scale = 1.0 / self.m if self.output_scale == "mean" else 1.0
        return np.repeat(self.group_signs[:, None] * scale, self.m, axis=1)

    @property
    def signal_vectors(self) -> int:
        """S, the signal vectors the coefficients follow (an orthogonal basis of their span).

        1 for the binary ``"single"`` (±μ), C for ``"single"`` with C > 2 classes,
        2 for ``"xor"`` (a + b and a - b), 2C for ``"common_rare(p)"``.
        """
        kind, _ = self.features_kind
        if kind == "xor":
            return 2
        if kind == "common_rare":
            return 2 * self.classes
        return 1 if self.classes == 2 else self.classes

    @property
    def data_family(self) -> bool:
        """Whether the run uses an option of the data family (features, classes, a trained output layer)."""
        return self.features != "single" or self.multiclass or self.output_layer == "trained"

    @property
    def noise_patches(self) -> int:
        """Noise vectors per sample: ``patches - 1``, or 1 for the additive layout."""
        return self.patches - 1 if self.layout == "patches" else 1

    @property
    def stochastic(self) -> bool:
        """Whether steps draw from a schedule: minibatches smaller than n, or label-noise GD."""
        return (self.batch_size is not None and self.batch_size < self.n) or self.label_noise > 0

    @property
    def paper_model(self) -> bool:
        """Whether this is the model of Han et al. (ReLU, logistic loss, two patches, full-batch plain GD)."""
        return all(getattr(self, name) == FIELDS[name].default for name in MODEL_FIELDS) or (
            all(getattr(self, name) == FIELDS[name].default for name in MODEL_FIELDS if name != "batch_size")
            and self.batch_size == self.n)

    def replace(self, **changes: Any) -> "SimulationConfig":
        """A copy with some fields changed (and validated again).

        Parameters
        ----------
        **changes
            New values of fields of :class:`SimulationConfig`.

        Returns
        -------
        SimulationConfig
            The copy.
        """
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """The fields as plain Python values (JSON-ready).

        Returns
        -------
        dict of str to object
            Every field by name; an explicit ``record`` sequence as a list.
        """
        out = dataclasses.asdict(self)
        if isinstance(out["record"], tuple):
            out["record"] = list(out["record"])
        return out


@dataclasses.dataclass(frozen=True)
class Alternatives:
    r"""Parameters accepted instead of fields, by ``SimulationConfig.from_params`` and ``simulate``.

    Each sets the fields it ``replaces`` and is never stored (the config
    derives it back: ``config.tau``, ``config.snr``, ``config.n_snr2``). This
    class only declares them; it is not instantiated.

    Attributes
    ----------
    tau : float or None
        The flip rate of both classes, for ``tau_pos`` and ``tau_neg``.
    snr : float or None
        The signal-to-noise ratio :math:`\|\mu\| / (\sigma_\xi \sqrt{d})`, for ``mu_norm``.
    n_snr2 : float or None
        ``n * snr**2``, the competition parameter of the paper, for ``mu_norm``.
    """

    tau: float | None = param(None, FLIP_RATE, "flip rate of both classes", replaces=("tau_pos", "tau_neg"))
    snr: float | None = param(
        None, POSITIVE, "signal-to-noise ratio mu_norm / (sigma_xi sqrt(d))", replaces=("mu_norm",)
    )
    n_snr2: float | None = param(
        None, POSITIVE, "n * snr^2, the competition parameter of the paper", replaces=("mu_norm",)
    )


def log_grid(steps: int, per_decade: int = LOG_RECORDS_PER_DECADE) -> np.ndarray:
    """Steps 0..``steps`` on a logarithmic grid with ``per_decade`` points a decade."""
    if steps == 0:
        return np.zeros(1, dtype=np.int64)
    count = int(math.ceil(per_decade * math.log10(steps))) + 1
    grid = np.rint(np.geomspace(1, steps, max(count, 2))).astype(np.int64)
    return np.unique(np.r_[0, grid, steps])


def record_count(config: SimulationConfig) -> int:
    """Count the steps ``config`` records: ``len(config.record_steps)``, without making the array.

    Parameters
    ----------
    config : SimulationConfig
        The run.

    Returns
    -------
    int
        The number of recorded steps.
    """
    if config.record is None:
        return _log_grid_length(config.steps)
    if isinstance(config.record, int):
        return config.steps // config.record + 1 + (config.steps % config.record != 0)
    return len(set(config.record))


@functools.lru_cache(maxsize=256)
def _log_grid_length(steps: int) -> int:
    # About 50 a decade, at most 800; cached, since a sweep asks for every cell.
    return len(log_grid(steps))


def _total(formula, *factors) -> float:
    """``formula()``, the plain formula, where it agrees with ``_monomial(*factors)``, the same quantity as a
    product of powers of positive factors; else the latter.

    The plain formula keeps the bits it always gave; it fails where an intermediate leaves the normal floats:
    Python's ``x ** k`` and ``x / 0`` raise, an overflow gives 0 or inf, a subnormal loses digits (with
    mu_norm = sigma_xi = 5e-324, snr came out as 1/45 instead of 1/sqrt(2000)).
    """
    scaled = _monomial(*factors)
    try:
        value = formula()
    except (OverflowError, ZeroDivisionError):
        return scaled
    return value if math.isclose(value, scaled, rel_tol=1e-12) else scaled


def _monomial(*factors) -> float:
    """The product of ``x ** k`` over the pairs (x, k), x > 0 and k an integer, as a float: inf past the largest
    float, 0 (or a subnormal) below the smallest, never an exception.

    Each factor is split into a mantissa in [0.5, 1) and a power of 2 (math.frexp); the mantissas are
    multiplied and the powers of 2 added as Python ints, so that nothing overflows or underflows before
    the one rounding into the float range at the end (math.ldexp).
    """
    mantissa, exponent = 1.0, 0
    for x, k in factors:
        m, e = math.frexp(x)
        for _ in range(abs(k)):
            mantissa = mantissa * m if k > 0 else mantissa / m
            exponent += e if k > 0 else -e
            mantissa, shift = math.frexp(mantissa)
            exponent += shift
    try:
        return math.ldexp(mantissa, exponent)
    except OverflowError:
        return math.inf


def _derived_mu_norm(value: float, formula: str, source: str) -> float:
    """A ``mu_norm`` computed from other parameters, checked as a given one; the message names them."""
    try:
        return FIELDS["mu_norm"].check(value)
    except ValueError:
        allowed = FIELDS["mu_norm"].constraint.allowed
        raise ValueError(f"mu_norm = {formula} must be {allowed}; got {value!r} from {source}") from None


def _check_data_family(config: SimulationConfig) -> None:
    """The rules that tie the data family's options to the others."""
    kind, _ = config.features_kind
    if config.classes > 2 and config.loss not in ("logistic", "cross_entropy"):
        raise ValueError(f"loss must be 'logistic' or 'cross_entropy' (both the softmax cross-entropy) with "
                         f"classes > 2; got loss={config.loss!r} with classes={config.classes!r}")
    if kind == "xor" and config.classes > 2:
        raise ValueError(f"classes must be 2 with features='xor', whose two classes are a + b and a - b; got "
                         f"classes={config.classes!r}")
    if config.classes > 2 and config.tau_pos != config.tau_neg:
        raise ValueError(f"with classes > 2 a label is flipped with one rate tau, to another class chosen uniformly; "
                         f"give tau (or tau_pos == tau_neg); got tau_pos={config.tau_pos!r}, "
                         f"tau_neg={config.tau_neg!r}")
    if config.multiclass and config.label_noise > 0:
        raise ValueError(f"label_noise must be 0 with one output per class (classes > 2 or loss='cross_entropy'): "
                         f"label-noise GD flips the sign of a binary label; got label_noise={config.label_noise!r}")
    S = config.signal_vectors
    low = S + 1 if config.noise == "orthogonal" else S
    if config.d < low:
        raise ValueError(f"d must be an integer >= {low} with features={config.features!r}, classes={config.classes!r}"
                         f"{' and orthogonal noise' if config.noise == 'orthogonal' else ''} ({S} orthogonal signal "
                         f"vectors{' and a noise direction' if low > S else ''}); got d={config.d!r}")


def _check_gram_side(n, m) -> None:
    """Refuse n and m whose Gram matrix, side 1 + n + 2m, numpy could not hold (see MAX_GRAM_SIDE).

    n and m are integers, or integral floats shown as given (1e+300, not its 301 digits).
    """
    if 1 + int(n) + 2 * int(m) > MAX_GRAM_SIDE:
        name, value, other = ("n", n, f"m={m!r}") if int(n) >= 2 * int(m) else ("m", m, f"n={n!r}")
        raise ValueError(
            f"{name} must be an integer with 1 + n + 2m <= {MAX_GRAM_SIDE} (the side of the Gram matrix, the "
            f"most numpy can hold); got {name}={value!r} with {other}"
        )


def _check_record(record, steps: int):
    if record is None or isinstance(record, (int, np.integer)) and not isinstance(record, bool):
        return FIELDS["record"].check(record)
    allowed = f"None, an integer >= 1 or a non-empty sequence of integer steps in [0, {steps}]"
    try:
        values = tuple(record)
    except TypeError:
        raise ValueError(f"record must be {allowed}; got {record!r}") from None
    if not values:
        raise ValueError(f"record must be {allowed}; got {record!r}")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v <= steps:
            raise ValueError(f"record must be {allowed}; got step {v!r}")
        out.append(int(v))
    return tuple(out)


#: The fields of :class:`SimulationConfig`, in order.
FIELDS = _declared(SimulationConfig)
#: The fields that choose the model within the family (besides the flips of the labels, a property of the data).
MODEL_FIELDS = ("features", "classes", "output_layer", "activation", "loss", "layout", "patches", "bias",
                "output_scale", "batch_size", "momentum", "weight_decay", "label_noise", "sam")
#: Every parameter of ``simulate``, in the order of its signature.
PARAMETERS = _signature_order(FIELDS, _declared(Alternatives))


def _numpydoc_entries(parameters) -> str:
    """The numpydoc entries (``name : type, default ...``, help, allowed values) of some :class:`Parameter` s."""
    return "\n".join(f"{p.name} : {p.type}, default {p.default!r}\n    {p.description}. Allowed: {p.allowed}."
                     for p in parameters)


def fill_parameters_doc(obj, parameters) -> None:
    """Put the entries of ``parameters`` in place of the ``{parameters}`` line of ``obj``'s docstring."""
    if obj.__doc__:  # None under python -OO
        obj.__doc__ = re.sub(r"^( *)\{parameters\}$", lambda m: textwrap.indent(_numpydoc_entries(parameters), m[1]),
                             obj.__doc__, count=1, flags=re.M)


fill_parameters_doc(SimulationConfig, FIELDS.values())
