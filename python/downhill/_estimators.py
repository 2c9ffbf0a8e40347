"""The estimators: scikit-learn's parameters turned into the Rust library's
settings (``_core.settings``), its fits and predictions called on float32
arrays, SciPy CSR rows, or frames with text columns.

Units. The library minimizes the weighted mean loss plus its penalty,
``Σ sᵢ ℓᵢ / Σ sᵢ + α (ρ‖w‖₁ + (1 − ρ)/2 ‖w‖²)``, with the squared error
not halved (``r²``, where scikit-learn's SGD takes ``r²/2``), and a
mini-batch step divides its sums by its rows times the mean weight s̄.
Each estimator below writes its scikit-learn objective in that form, so
that the optimum is the same point:

- ``LogisticRegression``: ``C Σ sᵢ ℓᵢ + ½‖w‖²`` is ``C Σ sᵢ`` times the
  library's objective with ``α = 1 / (C Σ sᵢ)``.
- ``Ridge``: ``Σ sᵢ rᵢ² + alpha ‖w‖²`` is ``Σ sᵢ`` times the library's
  with ``α = 2·alpha / Σ sᵢ``.
- ``PoissonRegressor``: ``(1/2 Σ sᵢ) Σ sᵢ devianceᵢ + (alpha/2)‖w‖²`` is
  the library's (its Poisson loss is half the deviance) with ``α = alpha``.
- The SGD estimators: ``(1/n) Σ sᵢ ℓᵢ + alpha R(w)`` is ``s̄/f`` times
  the library's (``f`` = 2 for the squared error, else 1) with
  ``α = f·alpha / s̄``; its steps are scikit-learn's per-row steps at the
  rate ``eta0·s̄ / f``.
"""

import numbers
import os
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._available_if import available_if
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_feature_names,
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from . import _core
from ._frames import TARGET, WEIGHT, Frame, TableFile, is_text_frame

# The library's losses whose scale is twice scikit-learn's SGD loss of the
# same name (the squared error, r² against r²/2).
_DOUBLED_LOSSES = {"squared_error"}

# scikit-learn's solvers, each of which reaches the same L2 optimum: the
# library reaches it by L-BFGS whichever is named.
_LOGISTIC_SOLVERS = {"lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga"}
_RIDGE_SOLVERS = {"auto", "svd", "cholesky", "lsqr", "sparse_cg", "sag", "saga", "lbfgs"}


class DivergenceWarning(ConvergenceWarning):
    """A fit whose loss grew beyond bounds (the library's divergence rule):
    it stopped there and kept its last finite parameters, which are no
    solution; ``stop_reason_`` and ``loss_curve_`` say how it went."""


def _seed(random_state):
    """The library's seed from scikit-learn's ``random_state``."""
    if random_state is None:
        return int(np.random.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    raise ValueError(f"random_state must be None, an int or a RandomState, not {random_state!r}")


def _cores():
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _threads(n_jobs):
    """The library's threads from scikit-learn's ``n_jobs``: ``None`` for
    the default (the ``DOWNHILL_NUM_THREADS`` environment variable, else a
    thread a core), ``-1`` every core, ``-2`` all but one, and so on."""
    if n_jobs is None:
        return None
    if not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        raise ValueError(f"n_jobs must be None or a nonzero int, not {n_jobs!r}")
    if n_jobs < 0:
        return max(1, _cores() + 1 + int(n_jobs))
    return min(int(n_jobs), 4 * _cores())


def _csr(X):
    """SciPy CSR rows as the library reads them: (features, indptr as
    int64, indices as int32, values as float32), indices sorted and
    unique within each row."""
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    return (
        X.shape[1],
        np.ascontiguousarray(X.indptr, dtype=np.int64),
        np.ascontiguousarray(X.indices, dtype=np.int32),
        np.ascontiguousarray(X.data, dtype=np.float32),
    )


def _fit(settings, X, y, sample_weight, n_jobs, start=None, warm=None):
    """The library's fit of rows ``X`` (dense float32, SciPy CSR, or a frame
    with text columns read through the table encoding), resumed from
    ``start`` or started from the parameters ``warm`` where given."""
    threads = _threads(n_jobs)
    if warm is not None:
        warm = np.ascontiguousarray(warm, dtype=np.float32)
    if isinstance(X, Frame):
        with TableFile(X, y, sample_weight) as table:
            model, dropped = _core.fit_table(
                settings,
                table.path,
                TARGET,
                X.text_columns,
                WEIGHT if sample_weight is not None else None,
                start=start,
                threads=threads,
                warm=warm,
            )
        for column, reason in dropped:
            warnings.warn(f"column {column!r} left out: {reason}", UserWarning, stacklevel=3)
        return model
    if sp.issparse(X):
        return _core.fit_csr(settings, *_csr(X), y, sample_weight, start, threads, warm)
    return _core.fit(settings, X, y, sample_weight, start, threads, warm)


def _partial_fit(model, X, y, sample_weight, n_jobs):
    """One more epoch of ``model`` over rows ``X`` (dense or CSR)."""
    if isinstance(X, Frame):
        raise ValueError("partial_fit takes rows of numbers (an array, a sparse matrix, a frame of numbers)")
    if sp.issparse(X):
        return model.partial_fit_csr(*_csr(X), y, 1, _threads(n_jobs), sample_weight)
    return model.partial_fit(X, y, 1, _threads(n_jobs), sample_weight)


def _penalty(penalty, alpha, l1_ratio):
    """(alpha, l1_ratio) of the library's penalty from scikit-learn's."""
    if penalty is None or penalty == "none":
        return 0.0, 0.0
    if penalty == "l2":
        return float(alpha), 0.0
    if penalty == "l1":
        return float(alpha), 1.0
    if penalty == "elasticnet":
        if l1_ratio is None or not 0.0 <= l1_ratio <= 1.0:
            raise ValueError(f"l1_ratio must be in [0, 1] for the elastic net, not {l1_ratio!r}")
        return float(alpha), float(l1_ratio)
    raise ValueError(f"penalty must be 'l2', 'l1', 'elasticnet' or None, not {penalty!r}")


def _parameters(model):
    """A model of one margin's weights, then its bias (a warm start)."""
    return np.concatenate([model.coefficients[:, 0], model.intercepts])


class _DownhillEstimator(BaseEstimator):
    """What every estimator shares: the fitted model of the library (kept as
    ``_models``, one per binary problem of a one-versus-rest classifier, else
    one), its attributes, and pickling through the saved model's JSON."""

    def _check_fit_intercept(self):
        if not self.fit_intercept:
            raise ValueError("fit_intercept=False is not supported: the library always fits the intercept")

    def _validate_fit(self, X, y, sample_weight, classifier):
        self._from_table = is_text_frame(X)
        if self._from_table:
            # Read through the library's table encoding: the columns named,
            # the targets and weights checked here.
            _check_feature_names(self, X, reset=True)
            self.n_features_in_ = X.shape[1]
            if len(X) == 0:
                raise ValueError("the frame has no rows")
            y = column_or_1d(y, warn=True)
            if classifier:
                check_classification_targets(y)
            elif not np.all(np.isfinite(y.astype(np.float64))):
                raise ValueError("the targets hold NaN or infinity")
            if len(y) != len(X):
                raise ValueError(f"{len(X)} rows but {len(y)} targets")
            X = Frame(X)
        else:
            X, y = validate_data(
                self,
                X,
                y,
                accept_sparse="csr",
                dtype=np.float32,
                order="C",
                y_numeric=not classifier,
                reset=True,
                # The library checks every value as it reads the rows, and
                # names the first that is not finite; one pass, not two.
                ensure_all_finite=False,
            )
            if classifier:
                check_classification_targets(y)
        return X, y, self._weights(sample_weight, X)

    @staticmethod
    def _weights(sample_weight, X):
        """The sample weights, checked (at least 0, not all 0), or ``None``."""
        if sample_weight is None:
            return None
        rows = X.frame if isinstance(X, Frame) else X
        weights = _check_sample_weight(sample_weight, rows, dtype=np.float32, ensure_non_negative=True)
        if not weights.sum() > 0:
            raise ValueError("the sample weights are all 0")
        return weights

    def _validate_predict(self, X):
        check_is_fitted(self, "_models")
        if getattr(self, "_from_table", False):
            if not hasattr(X, "columns"):
                raise ValueError("the model was fitted from a frame with text columns: predict from such a frame")
            _check_feature_names(self, X, reset=False)
            return Frame(X)
        return validate_data(self, X, accept_sparse="csr", dtype=np.float32, order="C", reset=False)

    @staticmethod
    def _call(model, method, X):
        """``model``'s prediction ``method`` of rows ``X`` (dense, CSR, or a
        frame read through the model's table encoding)."""
        if isinstance(X, Frame):
            with TableFile(X) as table:
                return getattr(model, method + "_table")(table.path)
        if sp.issparse(X):
            return getattr(model, method + "_csr")(*_csr(X))
        return getattr(model, method)(X)

    def _margins(self, X):
        """Each row's margins, one column per fitted margin."""
        X = self._validate_predict(X)
        return np.hstack([self._call(model, "decision_function", X) for model in self._models])

    def _record(self, models, epochs_before=0, warn_at_limit=True):
        """Keeps the fitted models and sets the attributes scikit-learn users
        read; a diverged fit is warned of (``DivergenceWarning``), one that
        ran out of epochs too (``ConvergenceWarning``, where
        ``warn_at_limit``). ``epochs_before``: the epochs
        of the history a resumed fit continued."""
        kinds = [model.stop_kind for model in models]
        if "diverged" in kinds:
            diverged = models[kinds.index("diverged")]
            warnings.warn(
                f"{type(self).__name__}: the fit {diverged.stop_reason}, its loss growing beyond bounds; its "
                "parameters are the last finite ones, no solution: lower the learning rate (eta0) or scale "
                "the inputs (StandardScaler)",
                DivergenceWarning,
                stacklevel=3,
            )
        self._models = models
        coefficients = np.hstack([model.coefficients for model in models]).T
        intercepts = np.concatenate([model.intercepts for model in models])
        self._set_parameters(coefficients.astype(np.float64), intercepts.astype(np.float64))
        self.loss_curve_ = [list(model.losses) for model in models]
        if len(models) == 1:
            self.loss_curve_ = self.loss_curve_[0]
        self.n_iter_ = max(len(model.losses) for model in models) - epochs_before
        self.stop_reason_ = models[0].stop_reason if len(models) == 1 else [m.stop_reason for m in models]
        self.t_ = float(max(model.steps for model in models) + 1)
        if getattr(self, "_from_table", False):
            self.encoded_feature_names_ = list(models[0].feature_names or [])
        if warn_at_limit and "max_epochs" in kinds and "diverged" not in kinds:
            warnings.warn(
                f"{type(self).__name__} reached max_iter={self.max_iter} before it converged; raise max_iter "
                "or scale the inputs",
                ConvergenceWarning,
                stacklevel=3,
            )

    def __getstate__(self):
        # A copy: scikit-learn's may be the estimator's own __dict__.
        state = dict(super().__getstate__())
        if "_models" in state:
            state["_models"] = [model.to_json() for model in state["_models"]]
        return state

    def __setstate__(self, state):
        if "_models" in state:
            state["_models"] = [_core.FittedModel.from_json(text) for text in state["_models"]]
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class _Regressor(RegressorMixin, _DownhillEstimator):
    def _set_parameters(self, coefficients, intercepts):
        self.coef_ = coefficients[0]
        self.intercept_ = float(intercepts[0])

    def predict(self, X):
        X = self._validate_predict(X)
        return self._call(self._models[0], "predict", X).astype(np.float64)


class _Classifier(ClassifierMixin, _DownhillEstimator):
    def _set_parameters(self, coefficients, intercepts):
        self.coef_ = coefficients
        self.intercept_ = intercepts

    def _encode(self, y, classes=None):
        """The labels as 0 … K − 1 (float32) and the classes, sorted."""
        encoder = LabelEncoder()
        if classes is None:
            encoder.fit(y)
        else:
            encoder.fit(np.asarray(classes))
            unseen = np.setdiff1d(np.unique(y), encoder.classes_)
            if unseen.size:
                raise ValueError(f"labels {unseen.tolist()} are not among classes {encoder.classes_.tolist()}")
        if len(encoder.classes_) < 2:
            raise ValueError(
                f"the targets hold one class ({encoder.classes_[0]!r}): a classifier needs at least two"
            )
        return encoder.transform(y).astype(np.float32), encoder.classes_

    def _class_weights(self, labels, classes):
        """Each class's weight from ``class_weight`` (1 where none)."""
        if self.class_weight is None:
            return np.ones(len(classes))
        return compute_class_weight(self.class_weight, classes=classes, y=classes[labels.astype(int)])

    def decision_function(self, X):
        margins = self._margins(X).astype(np.float64)
        if len(self.classes_) == 2:
            return margins[:, 0]
        return margins

    def predict(self, X):
        margins = self.decision_function(X)
        if margins.ndim == 1:
            return self.classes_[(margins > 0).astype(int)]
        return self.classes_[np.argmax(margins, axis=1)]


class _LeastSquares(_Regressor):
    def _fit_least_squares(self, X, y, sample_weight, alpha):
        """‖y − Xw − b‖² + alpha ‖w‖² (weighted: Σ sᵢ rᵢ²) by L-BFGS: the
        library's mean squared error over Σ sᵢ, its L2 strength 2·alpha/Σ sᵢ."""
        self._check_fit_intercept()
        if self.positive:
            raise ValueError("positive=True is not supported: the library's coefficients are unconstrained")
        X, y, sample_weight = self._validate_fit(X, y, sample_weight, classifier=False)
        total = float(len(y) if sample_weight is None else sample_weight.sum())
        settings = _core.settings(
            model="linear",
            loss="squared",
            alpha=2.0 * alpha / total,
            solver="lbfgs",
            max_epochs=1000 if self.max_iter is None else int(self.max_iter),
            device=self.device,
        )
        model = _fit(settings, X, y.astype(np.float32), sample_weight, self.n_jobs)
        self._record([model], warn_at_limit=self.max_iter is not None)
        self.n_iter_ = np.array([self.n_iter_])
        return self


class Ridge(_LeastSquares):
    """Least squares with an L2 penalty, ``‖y − Xw − b‖² + alpha ‖w‖²``
    (scikit-learn's ``Ridge``), to its optimum by L-BFGS on the library's
    engines (float32 rows, float64 sums), whichever ``solver`` is named.

    Parameters beyond scikit-learn's: ``device`` (``"cpu"``, ``"gpu"``,
    ``"auto"``), ``n_jobs``. ``max_iter`` bounds the L-BFGS iterations
    (default 1000); the fit runs to the rounding of its float32 sums
    (``tol``, ``copy_X`` and ``random_state`` are kept for scikit-learn's
    signature; ``positive=True`` is refused).
    """

    def __init__(
        self,
        alpha=1.0,
        *,
        fit_intercept=True,
        copy_X=True,
        max_iter=None,
        tol=1e-4,
        solver="auto",
        positive=False,
        random_state=None,
        device="cpu",
        n_jobs=None,
    ):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.max_iter = max_iter
        self.tol = tol
        self.solver = solver
        self.positive = positive
        self.random_state = random_state
        self.device = device
        self.n_jobs = n_jobs

    def fit(self, X, y, sample_weight=None):
        if not np.all(np.asarray(self.alpha) >= 0) or np.ndim(self.alpha) > 0:
            raise ValueError(f"alpha must be a number at least 0, not {self.alpha!r}")
        if self.solver not in _RIDGE_SOLVERS:
            raise ValueError(f"solver must be one of {sorted(_RIDGE_SOLVERS)}, not {self.solver!r}")
        return self._fit_least_squares(X, y, sample_weight, float(self.alpha))


class LinearRegression(_LeastSquares):
    """Ordinary least squares (scikit-learn's ``LinearRegression``), to its
    optimum by L-BFGS (``copy_X`` and ``tol`` are kept for scikit-learn's
    signature; ``positive=True`` is refused)."""

    def __init__(
        self, *, fit_intercept=True, copy_X=True, tol=1e-6, n_jobs=None, positive=False, max_iter=None, device="cpu"
    ):
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.tol = tol
        self.n_jobs = n_jobs
        self.positive = positive
        self.max_iter = max_iter
        self.device = device

    def fit(self, X, y, sample_weight=None):
        return self._fit_least_squares(X, y, sample_weight, 0.0)


class PoissonRegressor(_Regressor):
    """A Poisson model with the log link and an L2 penalty,
    ``(1/2n) Σ deviance + (alpha/2)‖w‖²`` (scikit-learn's
    ``PoissonRegressor``), to its optimum by L-BFGS; ``predict`` gives
    ``exp(Xw + b)``. ``warm_start`` starts from the last fit's
    coefficients."""

    def __init__(
        self,
        *,
        alpha=1.0,
        fit_intercept=True,
        solver="lbfgs",
        max_iter=100,
        tol=1e-4,
        warm_start=False,
        verbose=0,
        device="cpu",
        n_jobs=None,
    ):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.verbose = verbose
        self.device = device
        self.n_jobs = n_jobs

    def fit(self, X, y, sample_weight=None):
        self._check_fit_intercept()
        if self.solver not in ("lbfgs", "newton-cholesky"):
            raise ValueError(f"solver must be 'lbfgs' or 'newton-cholesky', not {self.solver!r}")
        X, y, sample_weight = self._validate_fit(X, y, sample_weight, classifier=False)
        if np.any(y < 0):
            raise ValueError("the Poisson model's targets must be at least 0")
        settings = _core.settings(
            model="linear",
            loss="poisson",
            alpha=float(self.alpha),
            solver="lbfgs",
            max_epochs=int(self.max_iter),
            device=self.device,
        )
        warm = _parameters(self._models[0]) if self.warm_start and hasattr(self, "_models") else None
        self._record([_fit(settings, X, y.astype(np.float32), sample_weight, self.n_jobs, warm=warm)])
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.positive_only = True
        return tags


class LogisticRegression(_Classifier):
    """Logistic regression with an L2 penalty, ``C Σ sᵢ log-lossᵢ + ½‖w‖²``
    (scikit-learn's ``LogisticRegression``), to its optimum by L-BFGS on the
    library's engines whichever ``solver`` is named; the multinomial
    (softmax) model for more than two classes.

    The penalty is L2 (``l1_ratio=0``, the default; ``C=np.inf`` or
    ``penalty=None`` for none); L1 and the elastic net are refused (use
    ``SGDClassifier(loss="log_loss", penalty=...)``). ``warm_start`` starts
    a binary model from its last coefficients and resumes a multinomial
    one. Parameters beyond scikit-learn's: ``device``. ``tol``,
    ``intercept_scaling``, ``random_state`` and ``verbose`` are kept for
    scikit-learn's signature.
    """

    def __init__(
        self,
        penalty="deprecated",
        *,
        C=1.0,
        l1_ratio=0.0,
        dual=False,
        tol=1e-4,
        fit_intercept=True,
        intercept_scaling=1,
        class_weight=None,
        random_state=None,
        solver="lbfgs",
        max_iter=100,
        verbose=0,
        warm_start=False,
        n_jobs=None,
        device="cpu",
    ):
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.dual = dual
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.class_weight = class_weight
        self.random_state = random_state
        self.solver = solver
        self.max_iter = max_iter
        self.verbose = verbose
        self.warm_start = warm_start
        self.n_jobs = n_jobs
        self.device = device

    def _l2(self):
        """Whether the fit takes the L2 penalty (else none)."""
        if self.penalty == "deprecated":
            if self.l1_ratio not in (0, 0.0, None):
                raise ValueError(
                    f"l1_ratio={self.l1_ratio!r} (an L1 part) is not supported by LogisticRegression here: "
                    "use SGDClassifier(loss='log_loss', penalty='elasticnet')"
                )
            return np.isfinite(self.C)
        if self.penalty in ("l1", "elasticnet"):
            raise ValueError(
                f"penalty {self.penalty!r} is not supported by LogisticRegression here: use 'l2' or None, "
                "or SGDClassifier(loss='log_loss') for 'l1' and 'elasticnet'"
            )
        if self.penalty not in ("l2", None):
            raise ValueError(f"penalty must be 'l2' or None, not {self.penalty!r}")
        return self.penalty == "l2" and np.isfinite(self.C)

    def fit(self, X, y, sample_weight=None):
        self._check_fit_intercept()
        l2 = self._l2()
        if self.dual:
            raise ValueError("dual=True is not supported: the library solves the primal problem")
        if self.solver not in _LOGISTIC_SOLVERS:
            raise ValueError(f"solver must be one of {sorted(_LOGISTIC_SOLVERS)}, not {self.solver!r}")
        if not self.C > 0:
            raise ValueError(f"C must be positive, not {self.C!r}")
        X, y, sample_weight = self._validate_fit(X, y, sample_weight, classifier=True)
        previous = getattr(self, "classes_", None)
        labels, self.classes_ = self._encode(y)
        weights = self._class_weights(labels, self.classes_)[labels.astype(int)].astype(np.float32)
        if self.class_weight is not None:
            sample_weight = weights if sample_weight is None else sample_weight * weights
        total = float(len(y) if sample_weight is None else sample_weight.sum())
        classes = len(self.classes_)
        settings = _core.settings(
            model="logistic" if classes == 2 else "multinomial",
            classes=classes,
            alpha=1.0 / (self.C * total) if l2 else 0.0,
            solver="lbfgs",
            max_epochs=int(self.max_iter),
            device=self.device,
        )
        start = warm = None
        warm_again = self.warm_start and hasattr(self, "_models") and np.array_equal(previous, self.classes_)
        if warm_again and classes == 2:
            warm = _parameters(self._models[0])
        elif warm_again:
            start = self._models[0]
        before = len(start.losses) if start is not None else 0
        self._record([_fit(settings, X, labels, sample_weight, self.n_jobs, start, warm)], before)
        self.n_iter_ = np.array([self.n_iter_])
        return self

    def predict_proba(self, X):
        X = self._validate_predict(X)
        return self._call(self._models[0], "predict_proba", X).astype(np.float64)

    def predict_log_proba(self, X):
        return np.log(self.predict_proba(X))


class _SGD(_DownhillEstimator):
    """The settings that SGDRegressor and SGDClassifier share."""

    def _sgd_settings(self, loss, model, classes, max_epochs, mean_weight):
        """The library's settings of this estimator's; ``mean_weight``, the
        mean sample weight s̄ of the rows fitted (class weights included),
        scales the rate and the penalty (the module's docstring)."""
        doubled = 2.0 if loss in _DOUBLED_LOSSES else 1.0
        alpha, l1_ratio = _penalty(self.penalty, self.alpha, self.l1_ratio)
        if self.learning_rate not in ("constant", "optimal", "invscaling", "adaptive"):
            raise ValueError(
                f"learning_rate must be 'constant', 'optimal', 'invscaling' or 'adaptive', not {self.learning_rate!r}"
            )
        if self.learning_rate != "optimal" and not self.eta0 > 0:
            raise ValueError(f"eta0 must be positive under learning_rate={self.learning_rate!r}, not {self.eta0!r}")
        schedule = {
            "constant": "constant",
            "optimal": "constant",
            "invscaling": f"invscaling:{self.power_t}",
            "adaptive": f"plateau:0.2:{self.n_iter_no_change}",
        }[self.learning_rate]
        if self.average is True:
            average = 1
        elif self.average is False or self.average is None:
            average = None
        else:
            average = max(1, int(self.average))
        return _core.settings(
            model=model,
            classes=classes,
            loss=None if model == "multinomial" else loss,
            epsilon=float(self.epsilon),
            alpha=doubled * alpha / mean_weight,
            l1_ratio=l1_ratio,
            optimizer=self.optimizer,
            # The same steps: the library's doubled loss takes half the
            # rate, and its steps divide by the mean weight.
            learning_rate=float(self.eta0 or 0.01) * mean_weight / doubled,
            schedule=schedule,
            batch_size=self.batch_size,
            shuffle=bool(self.shuffle),
            max_epochs=int(max_epochs),
            tol=None if self.tol is None else float(self.tol),
            patience=int(self.n_iter_no_change),
            validation_fraction=float(self.validation_fraction) if self.early_stopping else None,
            average=average,
            seed=_seed(self.random_state),
            device=self.device,
            auto_learning_rate=self.learning_rate == "optimal",
        )

    @staticmethod
    def _mean(weights):
        """The mean sample weight s̄ (1 where the rows weigh 1)."""
        return 1.0 if weights is None else float(np.mean(weights))

    def _check_partial_fit(self):
        if self.early_stopping:
            raise ValueError("early_stopping should be False with partial_fit")


class SGDRegressor(_Regressor, _SGD):
    """scikit-learn's ``SGDRegressor`` on the library's engines: single-row
    (or ``batch_size``) steps of ``optimizer`` (``"sgd"``, ``"momentum"``,
    ``"nesterov"``, ``"adagrad"``, ``"rmsprop"``, ``"adam"``).

    Differences: ``learning_rate="invscaling"`` decays per epoch
    (``eta0 / epoch^power_t``), not per step; ``"optimal"`` takes the rate the
    library derives from the data; a later ``partial_fit`` continues the
    first call's settings (``set_params`` applies at the next ``fit``).
    """

    def __init__(
        self,
        loss="squared_error",
        *,
        penalty="l2",
        alpha=0.0001,
        l1_ratio=0.15,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-3,
        shuffle=True,
        verbose=0,
        epsilon=0.1,
        random_state=None,
        learning_rate="invscaling",
        eta0=0.01,
        power_t=0.25,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        warm_start=False,
        average=False,
        device="cpu",
        n_jobs=None,
        batch_size=1,
        optimizer="sgd",
    ):
        self.loss = loss
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.verbose = verbose
        self.epsilon = epsilon
        self.random_state = random_state
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.average = average
        self.device = device
        self.n_jobs = n_jobs
        self.batch_size = batch_size
        self.optimizer = optimizer

    def _set_parameters(self, coefficients, intercepts):
        # scikit-learn's SGDRegressor keeps its intercept as an array.
        self.coef_ = coefficients[0]
        self.intercept_ = intercepts[:1]

    def _fit(self, X, y, sample_weight, max_epochs, warm):
        self._check_fit_intercept()
        if self.loss not in ("squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive"):
            raise ValueError(f"loss {self.loss!r} is not a regression loss of SGDRegressor")
        settings = self._sgd_settings(self.loss, "linear", 2, max_epochs, self._mean(sample_weight))
        model = _fit(settings, X, y.astype(np.float32), sample_weight, self.n_jobs, warm=warm)
        self._record([model], warn_at_limit=self.tol is not None)
        return self

    def fit(self, X, y, sample_weight=None):
        X, y, sample_weight = self._validate_fit(X, y, sample_weight, classifier=False)
        warm = _parameters(self._models[0]) if self.warm_start and hasattr(self, "_models") else None
        return self._fit(X, y, sample_weight, self.max_iter, warm)

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``X`` and ``y``, from where the last fit stopped."""
        self._check_partial_fit()
        if not hasattr(self, "_models"):
            X, y, sample_weight = self._validate_fit(X, y, sample_weight, classifier=False)
            if isinstance(X, Frame):
                _partial_fit(None, X, y, None, self.n_jobs)
            return self._fit(X, y, sample_weight, 1, None)
        X = self._validate_predict(X)
        y = np.ascontiguousarray(column_or_1d(y), dtype=np.float32)
        sample_weight = self._weights(sample_weight, X)
        before = len(self._models[0].losses)
        self._record([_partial_fit(self._models[0], X, y, sample_weight, self.n_jobs)], before, False)
        return self


class SGDClassifier(_Classifier, _SGD):
    """scikit-learn's ``SGDClassifier`` on the library's engines: single-row
    (or ``batch_size``) steps of ``optimizer``.

    Differences: more than two classes under ``loss="log_loss"`` fit the
    multinomial (softmax) model, other losses one binary model per class
    (one versus the rest, as scikit-learn does); ``learning_rate="invscaling"``
    decays per epoch; ``"optimal"`` takes the rate the library derives from
    the data; a later ``partial_fit`` continues the first call's settings;
    ``loss="perceptron"`` is not available.
    """

    def __init__(
        self,
        loss="hinge",
        *,
        penalty="l2",
        alpha=0.0001,
        l1_ratio=0.15,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-3,
        shuffle=True,
        verbose=0,
        epsilon=0.1,
        n_jobs=None,
        random_state=None,
        learning_rate="optimal",
        eta0=0.01,
        power_t=0.5,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        class_weight=None,
        warm_start=False,
        average=False,
        device="cpu",
        batch_size=1,
        optimizer="sgd",
    ):
        self.loss = loss
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.verbose = verbose
        self.epsilon = epsilon
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.average = average
        self.device = device
        self.batch_size = batch_size
        self.optimizer = optimizer

    def _problems(self, labels, sample_weight):
        """Each binary problem's targets and weights: one for two classes or
        the multinomial; one a class, that class against the rest, for the
        others (a problem's positive rows weigh their class's weight, its
        negative rows 1, as scikit-learn's one versus the rest weighs them)."""
        class_weights = self._class_weights(labels, self.classes_)
        codes = labels.astype(int)
        count = len(self.classes_)

        def weighted(weights):
            if sample_weight is None and self.class_weight is None:
                return None
            weights = weights.astype(np.float32)
            return weights if sample_weight is None else sample_weight * weights

        if count == 2 or self.loss == "log_loss":
            return [(labels, weighted(class_weights[codes]))]
        return [
            ((codes == k).astype(np.float32), weighted(np.where(codes == k, class_weights[k], 1.0)))
            for k in range(count)
        ]

    def _fit(self, X, y, sample_weight, max_epochs, classes, warm_start):
        self._check_fit_intercept()
        if self.loss not in ("hinge", "log_loss", "squared_hinge", "modified_huber"):
            raise ValueError(f"loss {self.loss!r} is not a classification loss of SGDClassifier")
        previous = getattr(self, "classes_", None)
        labels, self.classes_ = self._encode(y, classes)
        count = len(self.classes_)
        model = "multinomial" if count > 2 and self.loss == "log_loss" else "logistic"
        again = warm_start and hasattr(self, "_models") and np.array_equal(previous, self.classes_)
        models, before = [], 0
        for k, (targets, weights) in enumerate(self._problems(labels, sample_weight)):
            settings = self._sgd_settings(self.loss, model, count, max_epochs, self._mean(weights))
            start = warm = None
            if again and model == "multinomial":
                start = self._models[0]
                before = len(start.losses)
            elif again:
                warm = _parameters(self._models[k])
            models.append(_fit(settings, X, targets, weights, self.n_jobs, start, warm))
        self._record(models, before, warn_at_limit=self.tol is not None)
        return self

    def fit(self, X, y, sample_weight=None):
        X, y, sample_weight = self._validate_fit(X, y, sample_weight, classifier=True)
        return self._fit(X, y, sample_weight, self.max_iter, None, self.warm_start)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over ``X`` and ``y``, from where the last fit stopped;
        the first call names every class (``classes``)."""
        self._check_partial_fit()
        if not hasattr(self, "_models"):
            if classes is None:
                raise ValueError("classes must be given on the first call to partial_fit")
            X, y, sample_weight = self._validate_fit(X, y, sample_weight, classifier=True)
            if isinstance(X, Frame):
                _partial_fit(None, X, y, None, self.n_jobs)
            return self._fit(X, y, sample_weight, 1, classes, False)
        if classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes {list(classes)} differ from the first call's {self.classes_.tolist()}")
        X = self._validate_predict(X)
        labels, _ = self._encode(column_or_1d(y), self.classes_)
        sample_weight = self._weights(sample_weight, X)
        before = max(len(model.losses) for model in self._models)
        models = [
            _partial_fit(model, X, targets, weights, self.n_jobs)
            for model, (targets, weights) in zip(self._models, self._problems(labels, sample_weight))
        ]
        self._record(models, before, warn_at_limit=False)
        return self

    @available_if(lambda self: self.loss in ("log_loss", "modified_huber"))
    def predict_proba(self, X):
        """Each row's probability of each class: the model's under
        ``loss="log_loss"``; under ``"modified_huber"``, scikit-learn's
        ``(clip(margin, −1, 1) + 1) / 2`` for each class, normalized over
        the classes (uniform where every class's is 0)."""
        if self.loss == "log_loss":
            X = self._validate_predict(X)
            return self._call(self._models[0], "predict_proba", X).astype(np.float64)
        margins = self.decision_function(X)
        if margins.ndim == 1:
            positive = (np.clip(margins, -1.0, 1.0) + 1.0) / 2.0
            return np.column_stack([1.0 - positive, positive])
        probabilities = (np.clip(margins, -1.0, 1.0) + 1.0) / 2.0
        totals = probabilities.sum(axis=1, keepdims=True)
        uniform = np.full_like(probabilities, 1.0 / probabilities.shape[1])
        return np.where(totals > 0, probabilities / np.where(totals > 0, totals, 1.0), uniform)

    @available_if(lambda self: self.loss in ("log_loss", "modified_huber"))
    def predict_log_proba(self, X):
        return np.log(self.predict_proba(X))


def _dense_only(X):
    """Refuses sparse rows, which the cross-validation does not take yet."""
    if sp.issparse(X):
        raise TypeError("Sparse data was passed for X, but dense data is required: the cross-validation takes dense rows for now")


def _fold_assignment(cv, X, y, classifier):
    """The fold that holds out each row, from scikit-learn's ``cv`` (an
    int, a splitter or an iterable of splits, as ``check_cv`` reads it),
    and the mean count of training rows: the splits must part the rows
    (each row held out once, as k-fold splitters do)."""
    from sklearn.model_selection import check_cv

    folds = np.full(len(y), -1, dtype=np.int64)
    for k, (_, test) in enumerate(check_cv(cv, y, classifier=classifier).split(X, y)):
        if np.any(folds[test] >= 0):
            raise ValueError("the cross-validation splits hold a row out twice: give k-fold splits")
        folds[test] = k
    if np.any(folds < 0):
        raise ValueError("the cross-validation splits leave a row out of every held-out fold: give k-fold splits")
    count = int(folds.max()) + 1
    return folds.tolist(), len(y) * (count - 1) / count


class LogisticRegressionCV(_Classifier):
    """scikit-learn's ``LogisticRegressionCV`` (L2 penalty) on the library's
    cross-validation: each C fitted by L-BFGS on every fold's training rows
    (a fold's Cs as a path from the smallest C, each fit started from the
    one before's solution, as scikit-learn's are) and scored on its
    held-out rows (``scoring``: ``"accuracy"``, the default,
    ``"neg_log_loss"`` or, for two classes, ``"roc_auc"``), the best mean
    score's C chosen, and the model refitted at it on every row.

    ``cv`` is read as scikit-learn reads it (default: 5 stratified folds),
    and must part the rows. The library takes one strength for every fold,
    ``1 / (C · n_train)`` with ``n_train`` the folds' mean training rows
    (scikit-learn's C over each fold's own rows: the same where the folds
    are even). ``scores_`` maps each class (the positive one of two) to the
    folds × Cs scores, as scikit-learn's legacy attribute does; ``Cs_`` the
    Cs, ``C_`` the chosen one (a copy per class for more than two). The
    folds' fits stop once the gradient's largest component is below
    ``tol``, as scikit-learn's do; the refitted model runs to the optimum
    (for two classes from the library's refit at ``tol``, as scikit-learn's
    starts from its folds' solutions). Sparse rows (SciPy CSR) stay
    sparse. Not yet: sample and class weights.
    """

    def __init__(
        self,
        *,
        Cs=10,
        cv=None,
        scoring=None,
        max_iter=100,
        tol=1e-4,
        fit_intercept=True,
        refit=True,
        random_state=None,
        verbose=0,
        device="cpu",
        n_jobs=None,
    ):
        self.Cs = Cs
        self.cv = cv
        self.scoring = scoring
        self.max_iter = max_iter
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.refit = refit
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.n_jobs = n_jobs

    def fit(self, X, y):
        self._check_fit_intercept()
        if self.scoring not in (None, "accuracy", "neg_log_loss", "roc_auc"):
            raise ValueError(f"scoring must be 'accuracy', 'neg_log_loss' or 'roc_auc', not {self.scoring!r}")
        if not self.refit:
            raise ValueError("refit=False is not supported: the model is refitted at the chosen C")
        X, y, _ = self._validate_fit(X, y, None, classifier=True)
        if isinstance(X, Frame):
            raise ValueError("the cross-validation takes arrays of numbers (dense or sparse) for now")
        labels, self.classes_ = self._encode(y)
        cs = np.logspace(-4, 4, self.Cs) if isinstance(self.Cs, numbers.Integral) else np.asarray(self.Cs, float)
        if cs.size == 0 or not np.all(cs > 0):
            raise ValueError(f"Cs must be positive, not {self.Cs!r}")
        folds, training_rows = _fold_assignment(self.cv, X, labels, classifier=True)
        count = len(self.classes_)
        settings = lambda alpha=0.0, tol=None: _core.settings(  # noqa: E731
            model="logistic" if count == 2 else "multinomial",
            classes=count,
            alpha=alpha,
            solver="lbfgs",
            max_epochs=int(self.max_iter),
            tol=tol,
            gradient_test="largest",
            device=self.device,
        )
        strengths = [float(1.0 / (c * training_rows)) for c in cs]
        # The folds' fits stop once the gradient's largest component is
        # below ``tol``, as scikit-learn's do; the refit runs to the optimum.
        if not self.tol >= 0:
            raise ValueError(f"tol must be at least 0, not {self.tol!r}")
        # Sparse rows stay sparse, each fold's entries copied out.
        rows = _csr(X) if sp.issparse(X) else (X,)
        cross_validate = _core.cross_validate_csr if sp.issparse(X) else _core.cross_validate
        scores, chosen, refitted = cross_validate(
            settings(tol=float(self.tol)),
            *rows,
            labels,
            strengths,
            folds,
            self.scoring or "accuracy",
            False,
            _threads(self.n_jobs),
        )
        # scikit-learn's legacy shapes: the scores by class (the same array,
        # folds × Cs, for each: one model for all classes), a C per class.
        scores = np.asarray(scores)
        self.Cs_ = cs
        keys = self.classes_[1:] if count == 2 else self.classes_
        self.scores_ = {key: scores for key in keys}
        self.C_ = np.full(1 if count == 2 else count, cs[chosen])
        # Refitted as scikit-learn refits: C over every row, to the optimum,
        # started (for two classes) from the library's refit at the folds'
        # tolerance, as scikit-learn starts from its folds' solutions.
        warm = None
        if count == 2:
            warm = np.concatenate([np.asarray(refitted.coefficients)[:, 0], np.asarray(refitted.intercepts)])
        model = _fit(settings(float(1.0 / (cs[chosen] * len(labels)))), X, labels, None, self.n_jobs, warm=warm)
        self._record([model], warn_at_limit=False)
        self.n_iter_ = np.array([self.n_iter_])
        return self

    def predict_proba(self, X):
        X = self._validate_predict(X)
        return self._call(self._models[0], "predict_proba", X).astype(np.float64)

class _PathCV(_Regressor):
    """What ``LassoCV`` and ``ElasticNetCV`` share: each l1_ratio's alphas
    (given, or ``alphas`` many from the data's α_max down to ``eps`` times
    it, as scikit-learn takes them) fitted on every fold's training rows as
    a warm-started path (the largest alpha first, each fit from the one
    before's solution) and scored by their held-out mean squared error,
    the best mean error's alpha and ratio chosen, the model refitted at
    them on every row.

    scikit-learn minimizes ``(1/2n) ‖y − Xw − b‖² + α ρ ‖w‖₁ + α (1−ρ)/2
    ‖w‖²``; the library the mean squared error plus its penalty, twice
    that at strength 2α with the same ratio. The fits are full-batch
    proximal Nesterov steps at the rate and momentum of the loss's
    curvature, until no parameter moves by more than 1e-7 of the largest
    in an epoch (just above float32's resolution, below which float32's
    noise keeps parameters moving), ``max_iter × 50`` epochs at most (a
    coordinate-descent sweep is worth many gradient steps).

    The rows are centred and multiplied by one factor (an exact change of
    the problem, which a uniform penalty allows) so that the weights'
    curvature meets the intercept's. Columns of very different scales
    still converge slowly under gradient steps (scikit-learn's coordinate
    descent does not mind): scale them first (``StandardScaler`` in a
    ``Pipeline``); a refitted model that reaches the epoch limit warns with
    ``ConvergenceWarning``.
    Not yet: sample weights, sparse rows, ``positive=True``,
    ``precompute``; ``tol`` and ``selection`` are kept for scikit-learn's
    signature.
    """

    def _ratios(self):
        raise NotImplementedError

    def _path_settings(self, ratio, alpha=0.0, parameter_tolerance=1e-7):
        return _core.settings(
            model="linear",
            loss="squared",
            alpha=float(alpha),
            l1_ratio=float(ratio),
            optimizer="nesterov",
            momentum=0.0,
            learning_rate=1.0,
            auto_learning_rate=True,
            auto_momentum=True,
            parameter_tolerance=parameter_tolerance,
            max_epochs=50 * int(self.max_iter),
            device=self.device,
        )

    def _alphas(self, X, y, ratio):
        if isinstance(self.alphas, numbers.Integral):
            if self.alphas < 1:
                raise ValueError(f"alphas must be a positive count or a list, not {self.alphas!r}")
            if ratio == 0:
                raise ValueError("l1_ratio 0 (ridge) has no largest useful alpha: give the alphas as a list")
            if not (isinstance(self.eps, numbers.Real) and 0 < self.eps <= 1):
                raise ValueError(f"eps must lie in (0, 1], not {self.eps!r}")
            # Non-finite rows are the library's to name; the grid is moot then.
            with np.errstate(all="ignore"):
                centred = X.astype(np.float64) - X.mean(axis=0, dtype=np.float64)
                alpha_max = np.abs(centred.T @ (y - y.mean())).max() / (len(y) * ratio)
            if alpha_max <= 0 or not np.isfinite(alpha_max):
                alpha_max = 1.0
            return np.logspace(np.log10(alpha_max), np.log10(alpha_max * self.eps), int(self.alphas))
        if isinstance(self.alphas, numbers.Real):
            raise ValueError(f"alphas must be a count (an int) or a list, not {self.alphas!r}")
        alphas = np.sort(np.atleast_1d(np.asarray(self.alphas, dtype=float)))[::-1]
        if alphas.size == 0 or not np.all(alphas >= 0):
            raise ValueError(f"alphas must be at least 0, not {self.alphas!r}")
        return alphas

    def fit(self, X, y):
        self._check_fit_intercept()
        _dense_only(X)
        if self.positive:
            raise ValueError("positive=True is not supported: the library's coefficients are unconstrained")
        X_checked, y_checked, _ = self._validate_fit(X, y, None, classifier=False)
        if isinstance(X_checked, Frame) or sp.issparse(X_checked):
            raise ValueError("the cross-validation takes dense arrays of numbers for now")
        y64 = np.asarray(y_checked, dtype=np.float64)
        folds, _ = _fold_assignment(5 if self.cv is None else self.cv, X_checked, y64, False)
        ratios = self._ratios()
        if not ratios:
            raise ValueError("l1_ratio must hold at least one ratio")
        # The same problem, better conditioned for gradient steps: X and y
        # centred (the intercept takes the shift; exact with an intercept)
        # and both multiplied by one c that brings the columns' mean
        # variance to 1, so that the weights' curvature meets the
        # intercept's. The loss is then c² times the original, so each
        # strength is c² times too; the weights are the same, the errors
        # c² times. (Per-column scales would change a uniform L1 penalty.)
        X64 = np.asarray(X_checked, dtype=np.float64)
        centres, target_mean, c = np.zeros(X64.shape[1]), 0.0, 1.0
        if np.all(np.isfinite(X64)) and np.all(np.isfinite(y64)):
            centres, target_mean = X64.mean(axis=0), float(y64.mean())
            spread = float(np.sqrt(X64.var(axis=0).mean()))
            c = 1.0 / spread if spread > 0 and np.isfinite(1.0 / spread) else 1.0
        X_solved = np.ascontiguousarray((X64 - centres) * c, dtype=np.float32)
        y_solved = ((y64 - target_mean) * c).astype(np.float32)
        paths, errors, refits = [], [], []
        for ratio in ratios:
            if not 0.0 <= ratio <= 1.0:
                raise ValueError(f"l1_ratio must lie in [0, 1], not {ratio!r}")
            alphas = self._alphas(X_checked, y64, ratio)
            scores, chosen, refitted = _core.cross_validate(
                self._path_settings(ratio),
                X_solved,
                y_solved,
                [float(2.0 * a * c * c) for a in alphas],
                folds,
                "neg_mean_squared_error",
                False,
                _threads(self.n_jobs),
            )
            paths.append(alphas)
            errors.append(-np.asarray(scores).T / (c * c))
            refits.append((chosen, refitted))
        means = np.array([e.mean(axis=1) for e in errors])
        best_ratio = int(np.nanargmin([m[refits[r][0]] for r, m in enumerate(means)]))
        chosen, solved = refits[best_ratio]
        self.l1_ratio_ = float(ratios[best_ratio])
        self.alpha_ = float(paths[best_ratio][chosen])
        self.alphas_ = paths[0] if len(ratios) == 1 else np.array(paths)
        self.mse_path_ = errors[0] if len(ratios) == 1 else np.array(errors)
        # The library refitted the chosen alpha on every row of the solved
        # problem; the model in the data's units starts from its solution
        # (the weights the same, the intercept moved back) and runs until
        # its parameters settle to 1e-6 (float32's noise in the data's own
        # conditioning keeps them from settling much finer).
        weights = np.asarray(solved.coefficients[:, 0], dtype=np.float64)
        intercept = target_mean - centres @ weights + float(solved.intercepts[0]) / c
        model = _fit(
            self._path_settings(self.l1_ratio_, 2.0 * self.alpha_, parameter_tolerance=1e-6),
            X_checked,
            y64.astype(np.float32),
            None,
            self.n_jobs,
            warm=np.concatenate([weights, [intercept]]),
        )
        self._record([model], warn_at_limit=True)
        if solved.stop_kind == "max_epochs":
            warnings.warn(
                f"{type(self).__name__}: the model at the chosen alpha reached {50 * int(self.max_iter)} epochs "
                "before it converged; raise max_iter or scale the columns (StandardScaler)",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


class LassoCV(_PathCV):
    """scikit-learn's ``LassoCV``: the L1 strength by cross-validation on
    the library's warm-started paths (see ``ElasticNetCV`` for the units and
    the fits). ``cv`` is read as scikit-learn reads it (default 5 folds),
    and must part the rows. ``alpha_``, ``alphas_``, ``mse_path_``
    (alphas × folds), ``coef_``, ``intercept_``, ``n_iter_``."""

    def __init__(
        self,
        *,
        eps=1e-3,
        alphas=100,
        fit_intercept=True,
        precompute="auto",
        max_iter=1000,
        tol=1e-4,
        copy_X=True,
        cv=None,
        verbose=False,
        n_jobs=None,
        positive=False,
        random_state=None,
        selection="cyclic",
        device="cpu",
    ):
        self.eps = eps
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.tol = tol
        self.copy_X = copy_X
        self.cv = cv
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.positive = positive
        self.random_state = random_state
        self.selection = selection
        self.device = device

    def _ratios(self):
        return [1.0]


class ElasticNetCV(_PathCV):
    """scikit-learn's ``ElasticNetCV``: the strength (and, for a list of
    ``l1_ratio``, the ratio) by cross-validation on the library's
    warm-started paths. ``l1_ratio_``, ``alpha_``, ``alphas_``, ``mse_path_`` (ratios ×
    alphas × folds for a list, alphas × folds for one), ``coef_``,
    ``intercept_``, ``n_iter_``. An ``l1_ratio`` of 0 (ridge) takes a list
    of alphas: its α_max is infinite, as scikit-learn's is."""

    __doc__ += _PathCV.__doc__

    def __init__(
        self,
        *,
        l1_ratio=0.5,
        eps=1e-3,
        alphas=100,
        fit_intercept=True,
        precompute="auto",
        max_iter=1000,
        tol=1e-4,
        cv=None,
        copy_X=True,
        verbose=0,
        n_jobs=None,
        positive=False,
        random_state=None,
        selection="cyclic",
        device="cpu",
    ):
        self.l1_ratio = l1_ratio
        self.eps = eps
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.tol = tol
        self.cv = cv
        self.copy_X = copy_X
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.positive = positive
        self.random_state = random_state
        self.selection = selection
        self.device = device

    def _ratios(self):
        return [float(r) for r in np.atleast_1d(np.asarray(self.l1_ratio, dtype=float))]


class RidgeCV(_LeastSquares):
    """scikit-learn's ``RidgeCV`` on the library's cross-validation: each
    alpha fitted by L-BFGS on every fold's training rows and scored on its
    held-out rows (``scoring``: by default minus the mean squared error
    where ``cv`` is ``None`` and R² for given folds, as scikit-learn scores
    them), the best mean score's alpha chosen, and the model refitted
    at it on every row (``alpha_``, ``best_score_``).

    ``cv`` is read as scikit-learn reads it; where it is ``None`` this takes
    5 folds (scikit-learn's leave-one-out shortcut is not taken). The
    library takes one strength for every fold, ``2·alpha / n_train``.
    Not yet: sample weights, sparse rows.
    """

    def __init__(self, alphas=(0.1, 1.0, 10.0), *, fit_intercept=True, scoring=None, cv=None, device="cpu", n_jobs=None):
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.scoring = scoring
        self.cv = cv
        self.device = device
        self.n_jobs = n_jobs

    @property
    def positive(self):
        return False

    @property
    def max_iter(self):
        return None

    def fit(self, X, y):
        self._check_fit_intercept()
        _dense_only(X)
        if self.scoring not in (None, "neg_mean_squared_error", "r2"):
            raise ValueError(f"scoring must be 'neg_mean_squared_error' or 'r2', not {self.scoring!r}")
        alphas = np.atleast_1d(np.asarray(self.alphas, dtype=float))
        if alphas.size == 0 or not np.all(alphas >= 0):
            raise ValueError(f"alphas must be at least 0, not {self.alphas!r}")
        X_checked, y_checked, _ = self._validate_fit(X, y, None, classifier=False)
        if isinstance(X_checked, Frame) or sp.issparse(X_checked):
            raise ValueError("the cross-validation takes dense arrays of numbers for now")
        folds, training_rows = _fold_assignment(5 if self.cv is None else self.cv, X_checked, y_checked, False)
        # scikit-learn scores its own cv=None by the squared error, given
        # folds by R²; R² of a one-row fold is no score.
        scoring = self.scoring or ("neg_mean_squared_error" if self.cv is None else "r2")
        if scoring == "r2" and min(np.bincount(folds)) < 2:
            raise ValueError("R² needs at least two held-out rows a fold: score one-row folds by neg_mean_squared_error")
        settings = _core.settings(model="linear", loss="squared", solver="lbfgs", max_epochs=1000, device=self.device)
        strengths = [float(2.0 * a / training_rows) for a in alphas]
        scores, chosen, _ = _core.cross_validate(
            settings,
            X_checked,
            y_checked.astype(np.float32),
            strengths,
            folds,
            scoring,
            False,
            _threads(self.n_jobs),
        )
        self.alpha_ = float(alphas[chosen])
        self.best_score_ = float(np.asarray(scores).mean(axis=0)[chosen])
        self.cv_results_ = np.asarray(scores)
        return self._fit_least_squares(X, y, None, self.alpha_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags
