"""Parameters of one simulation run.

:class:`SimulationConfig` is the single, frozen record of everything that
determines a run. The signal strength is stored once, as ``mu_norm`` (the norm
of the signal vector μ); the signal-to-noise ratio and the paper's
``n * snr**2`` are derived properties, as is the theoretical Stage I time
scale.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ._validation import check_choice, check_int, check_real

__all__ = ["SimulationConfig", "DEFAULT_N_SNR2", "DEFAULT_TAU", "NOISE_MODELS", "SAMPLINGS"]

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
#: Records per decade of the default logarithmic record grid.
LOG_RECORDS_PER_DECADE = 50


@dataclasses.dataclass(frozen=True)
class SimulationConfig:
    """Every parameter of one run; validated on construction.

    Attributes
    ----------
    n, d, m : int
        Training samples, dimension of each patch, filters per class.
    eta : float
        Constant learning rate of full-batch gradient descent.
    steps : int
        Number of gradient steps.
    tau_pos, tau_neg : float
        Flip rates ``P(y_noisy = -1 | y = +1)`` and ``P(y_noisy = +1 | y = -1)``,
        each in ``[0, 1/2)``.
    mu_norm : float
        Norm of the signal vector μ. ``None`` (the default) resolves to the
        norm that gives ``n * snr**2 == DEFAULT_N_SNR2``.
    sigma0, sigma_xi : float
        Standard deviations of the initial weights and of the noise patch.
    noise : {"isotropic", "orthogonal"}
        ``ξ ~ N(0, σ_ξ² I)`` or ``ξ ~ N(0, σ_ξ² (I - μμᵀ/‖μ‖²))``.
    seed : int
        Seed of every random draw of the run (data, initial weights and the
        fixed Monte Carlo draws of the test error).
    record : None, int or tuple of int
        Which steps to record: ``None`` for a logarithmic grid (every step up to
        about 50, then ~50 per decade, always including 0 and ``steps``), an
        int ``k`` for every k-th step plus the last one, or explicit steps.
    sampling : {"explicit", "gram"}
        How the data statistics are drawn: "explicit" draws the d-dimensional
        vectors and forms their Gram matrix (cost O((n + 2m)² d)); "gram" draws
        the Gram matrix itself from its exact law (cost independent of d).
    """

    n: int = 200
    d: int = 2000
    m: int = 10
    eta: float = 0.1
    steps: int = 2000
    tau_pos: float = DEFAULT_TAU
    tau_neg: float = DEFAULT_TAU
    mu_norm: float | None = None
    sigma0: float = 0.01
    sigma_xi: float = 1.0
    noise: str = "isotropic"
    seed: int = 0
    record: None | int | tuple[int, ...] = None
    sampling: str = "explicit"

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "n", check_int("n", self.n, low=1))
        set_(self, "d", check_int("d", self.d, low=1))
        set_(self, "m", check_int("m", self.m, low=1))
        set_(self, "steps", check_int("steps", self.steps, low=0))
        set_(self, "eta", check_real("eta", self.eta, low=0, low_open=True))
        set_(self, "sigma_xi", check_real("sigma_xi", self.sigma_xi, low=0, low_open=True))
        for name in ("tau_pos", "tau_neg"):
            set_(self, name, check_real(name, getattr(self, name), low=0, high=0.5, high_open=True))
        if self.mu_norm is None:
            set_(self, "mu_norm", self.sigma_xi * math.sqrt(DEFAULT_N_SNR2 * self.d / self.n))
        for name in ("mu_norm", "sigma0"):
            set_(self, name, check_real(name, getattr(self, name), low=0, low_open=True))
        check_choice("noise", self.noise, NOISE_MODELS)
        if self.noise == "orthogonal" and self.d < 2:
            # The orthogonal complement of μ in R^1 is {0}: every noise patch would vanish.
            raise ValueError(f"d must be an integer >= 2 with noise='orthogonal'; got {self.d!r}")
        check_choice("sampling", self.sampling, SAMPLINGS)
        set_(self, "seed", check_int("seed", self.seed, low=0))
        set_(self, "record", _check_record(self.record, self.steps))

    @classmethod
    def from_params(
        cls,
        *,
        tau=None,
        tau_pos=None,
        tau_neg=None,
        mu_norm=None,
        snr=None,
        n_snr2=None,
        **params,
    ) -> "SimulationConfig":
        """Build a config, accepting the derived parameters as alternatives.

        ``tau`` sets both flip rates (and excludes ``tau_pos``/``tau_neg``);
        at most one of ``mu_norm``, ``snr`` and ``n_snr2`` may be given, the
        others follow from ``snr = mu_norm / (sigma_xi sqrt(d))``. Every other
        keyword is a field of :class:`SimulationConfig`.
        """
        unknown = set(params) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise TypeError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
        if tau is not None:
            if tau_pos is not None or tau_neg is not None:
                raise ValueError(
                    "tau sets both flip rates and cannot be combined with tau_pos or tau_neg; "
                    f"got tau={tau!r}, tau_pos={tau_pos!r}, tau_neg={tau_neg!r}"
                )
            tau = check_real("tau", tau, low=0, high=0.5, high_open=True)
            tau_pos = tau_neg = tau
        params["tau_pos"] = DEFAULT_TAU if tau_pos is None else tau_pos
        params["tau_neg"] = DEFAULT_TAU if tau_neg is None else tau_neg

        given = {k: v for k, v in (("mu_norm", mu_norm), ("snr", snr), ("n_snr2", n_snr2)) if v is not None}
        if len(given) > 1:
            listed = ", ".join(f"{k}={v!r}" for k, v in given.items())
            raise ValueError(f"give at most one of mu_norm, snr and n_snr2; got {listed}")
        if snr is not None or n_snr2 is not None:
            n = check_int("n", params.get("n", cls.n), low=1)
            d = check_int("d", params.get("d", cls.d), low=1)
            sigma_xi = check_real("sigma_xi", params.get("sigma_xi", cls.sigma_xi), low=0, low_open=True)
            if snr is not None:
                snr = check_real("snr", snr, low=0, low_open=True)
            else:
                snr = math.sqrt(check_real("n_snr2", n_snr2, low=0, low_open=True) / n)
            mu_norm = snr * sigma_xi * math.sqrt(d)
        params["mu_norm"] = mu_norm
        return cls(**params)

    # Derived quantities -------------------------------------------------

    @property
    def snr(self) -> float:
        """Signal-to-noise ratio ``‖μ‖ / (σ_ξ √d)``."""
        return self.mu_norm / (self.sigma_xi * math.sqrt(self.d))

    @property
    def n_snr2(self) -> float:
        """``n * snr**2``, the paper's Θ(1) competition parameter."""
        return self.n * self.snr**2

    @property
    def tau(self) -> float | None:
        """The common flip rate if ``tau_pos == tau_neg``, else None."""
        return self.tau_pos if self.tau_pos == self.tau_neg else None

    @property
    def t1_theory(self) -> float:
        """The Stage I time scale ``n m / (η σ_ξ² d)`` of Theorem 4.1 (constants dropped)."""
        return self.n * self.m / (self.eta * self.sigma_xi**2 * self.d)

    @property
    def benign_ratio(self) -> float:
        """``n ‖μ‖⁴ / (σ_ξ⁴ d)``: above ~1 overfitting is benign (Kou et al., 2023)."""
        return self.n * self.mu_norm**4 / (self.sigma_xi**4 * self.d)

    @property
    def record_steps(self) -> np.ndarray:
        """Sorted, unique steps that are recorded, as an int64 array."""
        if self.record is None:
            return log_grid(self.steps)
        if isinstance(self.record, int):
            return np.unique(np.r_[np.arange(0, self.steps + 1, self.record), self.steps]).astype(np.int64)
        return np.unique(np.asarray(self.record, dtype=np.int64))

    def replace(self, **changes) -> "SimulationConfig":
        """A copy with some fields changed (and validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """The fields as plain Python values (JSON-ready)."""
        out = dataclasses.asdict(self)
        if isinstance(out["record"], tuple):
            out["record"] = list(out["record"])
        return out


def log_grid(steps: int, per_decade: int = LOG_RECORDS_PER_DECADE) -> np.ndarray:
    """Steps 0..``steps`` on a logarithmic grid with ``per_decade`` points a decade."""
    if steps == 0:
        return np.zeros(1, dtype=np.int64)
    count = int(math.ceil(per_decade * math.log10(steps))) + 1
    grid = np.rint(np.geomspace(1, steps, max(count, 2))).astype(np.int64)
    return np.unique(np.r_[0, grid, steps])


def _check_record(record, steps: int):
    if record is None:
        return None
    if isinstance(record, (int, np.integer)) and not isinstance(record, bool):
        return check_int("record", record, low=1)
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
