"""The estimators: scikit-learn's parameters turned into the Rust library's
settings (``_core.settings``), its fits and predictions called on float32
arrays.

Units. The library minimizes the weighted mean loss plus its penalty,
``Σ sᵢ ℓᵢ / Σ sᵢ + α (ρ‖w‖₁ + (1 − ρ)/2 ‖w‖²)``, with the squared error
not halved (``r²``, where scikit-learn's SGD takes ``r²/2``). Each
estimator below writes its scikit-learn objective in that form, so that the
optimum is the same point.
"""

import numbers
import os
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._available_if import available_if
from sklearn.utils.class_weight import compute_sample_weight
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


def _seed(random_state):
    """The library's seed from scikit-learn's ``random_state``."""
    if random_state is None:
        return int(np.random.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    raise ValueError(f"random_state must be None, an int or a RandomState, not {random_state!r}")


def _threads(n_jobs):
    """The library's threads from scikit-learn's ``n_jobs``: ``None`` for
    the default (the ``DOWNHILL_NUM_THREADS`` environment variable, else a
    thread a core), ``-1`` every core, ``-2`` all but one, and so on."""
    if n_jobs is None:
        return None
    if not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        raise ValueError(f"n_jobs must be None or a nonzero int, not {n_jobs!r}")
    if n_jobs < 0:
        return max(1, (os.cpu_count() or 1) + 1 + int(n_jobs))
    return int(n_jobs)


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


def _fit(settings, X, y, sample_weight, start, n_jobs):
    """The library's fit of rows ``X`` (dense float32, SciPy CSR, or a frame
    with text columns read through the table encoding)."""
    threads = _threads(n_jobs)
    if isinstance(X, Frame):
        with TableFile(X, y, sample_weight) as table:
            model, dropped = _core.fit_table(
                settings,
                table.path,
                TARGET,
                WEIGHT if sample_weight is not None else None,
                start=start,
                threads=threads,
            )
        for column, reason in dropped:
            warnings.warn(f"column {column!r} left out: {reason}", UserWarning, stacklevel=3)
        return model
    if sp.issparse(X):
        return _core.fit_csr(settings, *_csr(X), y, sample_weight, start, threads)
    return _core.fit(settings, X, y, sample_weight, start, threads)


def _partial_fit(model, X, y, n_jobs):
    """One more epoch of ``model`` over rows ``X`` (dense or CSR)."""
    if isinstance(X, Frame):
        raise ValueError("partial_fit takes rows of numbers (an array, a sparse matrix, a frame of numbers)")
    if sp.issparse(X):
        return model.partial_fit_csr(*_csr(X), y, 1, _threads(n_jobs))
    return model.partial_fit(X, y, 1, _threads(n_jobs))


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
            y = column_or_1d(y, warn=True)
            if classifier:
                check_classification_targets(y)
            elif not np.all(np.isfinite(y.astype(np.float64))):
                raise ValueError("the targets hold NaN or infinity")
            if sample_weight is not None:
                sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float32)
            if len(y) != len(X):
                raise ValueError(f"{len(X)} rows but {len(y)} targets")
            return Frame(X), y, sample_weight
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
        sample_weight = None if sample_weight is None else _check_sample_weight(sample_weight, X, dtype=np.float32)
        return X, y, sample_weight

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

    def _record(self, models):
        """Keeps the fitted models and sets the attributes scikit-learn users read."""
        self._models = models
        coefficients = np.hstack([model.coefficients for model in models]).T
        intercepts = np.concatenate([model.intercepts for model in models])
        self._set_parameters(coefficients.astype(np.float64), intercepts.astype(np.float64))
        self.loss_curve_ = [list(model.losses) for model in models]
        if len(models) == 1:
            self.loss_curve_ = self.loss_curve_[0]
        self.n_iter_ = max(len(model.losses) for model in models)
        if getattr(self, "_from_table", False):
            self.encoded_feature_names_ = list(models[0].feature_names or [])
        self.stop_reason_ = models[0].stop_reason if len(models) == 1 else [m.stop_reason for m in models]
        self.t_ = float(sum(model.steps for model in models))

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
        self._record([_fit(settings, X, y.astype(np.float32), sample_weight, None, self.n_jobs)])
        return self


class Ridge(_LeastSquares):
    """Least squares with an L2 penalty, ``‖y − Xw − b‖² + alpha ‖w‖²``
    (scikit-learn's ``Ridge``), to its optimum by L-BFGS on the library's
    engines (float32 rows, float64 sums).

    Parameters beyond scikit-learn's: ``device`` (``"cpu"``, ``"gpu"``,
    ``"auto"``). ``max_iter`` bounds the L-BFGS iterations (default 1000);
    the fit runs to the rounding of its float32 sums (``tol`` is kept for
    scikit-learn's signature).
    """

    def __init__(self, alpha=1.0, *, fit_intercept=True, max_iter=None, tol=1e-4, device="cpu", n_jobs=None):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.device = device
        self.n_jobs = n_jobs

    def fit(self, X, y, sample_weight=None):
        if self.alpha < 0:
            raise ValueError(f"alpha must be at least 0, not {self.alpha!r}")
        return self._fit_least_squares(X, y, sample_weight, float(self.alpha))


class LinearRegression(_LeastSquares):
    """Ordinary least squares (scikit-learn's ``LinearRegression``), to its
    optimum by L-BFGS."""

    def __init__(self, *, fit_intercept=True, max_iter=None, device="cpu", n_jobs=None):
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.device = device
        self.n_jobs = n_jobs

    def fit(self, X, y, sample_weight=None):
        return self._fit_least_squares(X, y, sample_weight, 0.0)


class PoissonRegressor(_Regressor):
    """A Poisson model with the log link and an L2 penalty,
    ``(1/2n) Σ deviance + (alpha/2)‖w‖²`` (scikit-learn's
    ``PoissonRegressor``), to its optimum by L-BFGS; ``predict`` gives
    ``exp(Xw + b)``."""

    def __init__(
        self, *, alpha=1.0, fit_intercept=True, max_iter=100, tol=1e-4, warm_start=False, device="cpu", n_jobs=None
    ):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.device = device
        self.n_jobs = n_jobs

    def fit(self, X, y, sample_weight=None):
        self._check_fit_intercept()
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
        start = self._models[0] if self.warm_start and hasattr(self, "_models") else None
        self._record([_fit(settings, X, y.astype(np.float32), sample_weight, start, self.n_jobs)])
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.positive_only = True
        return tags


class LogisticRegression(_Classifier):
    """Logistic regression with an L2 penalty, ``C Σ sᵢ log-lossᵢ + ½‖w‖²``
    (scikit-learn's ``LogisticRegression``), to its optimum by L-BFGS on the
    library's engines; the multinomial (softmax) model for more than two
    classes.

    ``penalty`` is ``"l2"`` or ``None``; ``solver`` is ``"lbfgs"`` (the
    library's L-BFGS). Parameters beyond scikit-learn's: ``device``.
    """

    def __init__(
        self,
        penalty="l2",
        *,
        tol=1e-4,
        C=1.0,
        fit_intercept=True,
        class_weight=None,
        random_state=None,
        solver="lbfgs",
        max_iter=100,
        warm_start=False,
        device="cpu",
        n_jobs=None,
    ):
        self.penalty = penalty
        self.tol = tol
        self.C = C
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.random_state = random_state
        self.solver = solver
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.device = device
        self.n_jobs = n_jobs

    def fit(self, X, y, sample_weight=None):
        self._check_fit_intercept()
        if self.penalty not in ("l2", None):
            raise ValueError(
                f"penalty {self.penalty!r} is not supported by LogisticRegression here: "
                "use 'l2' or None, or SGDClassifier(loss='log_loss') for 'l1' and 'elasticnet'"
            )
        if self.solver != "lbfgs":
            raise ValueError(f"solver must be 'lbfgs', not {self.solver!r}")
        if not self.C > 0:
            raise ValueError(f"C must be positive, not {self.C!r}")
        X, y, sample_weight = self._validate_fit(X, y, sample_weight, classifier=True)
        labels, self.classes_ = self._encode(y)
        if self.class_weight is not None:
            weights = compute_sample_weight(self.class_weight, y).astype(np.float32)
            sample_weight = weights if sample_weight is None else sample_weight * weights
        total = float(len(y) if sample_weight is None else sample_weight.sum())
        classes = len(self.classes_)
        settings = _core.settings(
            model="logistic" if classes == 2 else "multinomial",
            classes=classes,
            alpha=0.0 if self.penalty is None else 1.0 / (self.C * total),
            solver="lbfgs",
            max_epochs=int(self.max_iter),
            device=self.device,
        )
        start = self._models[0] if self.warm_start and hasattr(self, "_models") else None
        self._record([_fit(settings, X, labels, sample_weight, start, self.n_jobs)])
        return self

    def predict_proba(self, X):
        X = self._validate_predict(X)
        return self._call(self._models[0], "predict_proba", X).astype(np.float64)

    def predict_log_proba(self, X):
        return np.log(self.predict_proba(X))


class _SGD(_DownhillEstimator):
    """The settings that SGDRegressor and SGDClassifier share."""

    def _sgd_settings(self, loss, model, classes, max_epochs):
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
            alpha=doubled * alpha,
            l1_ratio=l1_ratio,
            optimizer=self.optimizer,
            # The same steps: the library's doubled loss takes half the rate.
            learning_rate=float(self.eta0 or 0.01) / doubled,
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


class SGDRegressor(_Regressor, _SGD):
    """scikit-learn's ``SGDRegressor`` on the library's engines: single-row
    (or ``batch_size``) steps of ``optimizer`` (``"sgd"``, ``"momentum"``,
    ``"nesterov"``, ``"adagrad"``, ``"rmsprop"``, ``"adam"``).

    Differences: ``learning_rate="invscaling"`` decays per epoch
    (``eta0 / epoch^power_t``), not per step; ``"optimal"`` takes the rate the
    library derives from the data.
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

    def _fit(self, X, y, sample_weight, max_epochs, start):
        self._check_fit_intercept()
        if self.loss not in ("squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive"):
            raise ValueError(f"loss {self.loss!r} is not a regression loss of SGDRegressor")
        settings = self._sgd_settings(self.loss, "linear", 2, max_epochs)
        self._record([_fit(settings, X, y.astype(np.float32), sample_weight, start, self.n_jobs)])
        return self

    def fit(self, X, y, sample_weight=None):
        X, y, sample_weight = self._validate_fit(X, y, sample_weight, classifier=False)
        start = self._models[0] if self.warm_start and hasattr(self, "_models") else None
        return self._fit(X, y, sample_weight, self.max_iter, start)

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``X`` and ``y``, from where the last fit stopped."""
        first = not hasattr(self, "_models")
        if first:
            X, y, sample_weight = self._validate_fit(X, y, sample_weight, classifier=False)
            if isinstance(X, Frame):
                _partial_fit(None, X, y, self.n_jobs)
            return self._fit(X, y, sample_weight, 1, None)
        X = self._validate_predict(X)
        y = np.ascontiguousarray(y, dtype=np.float32)
        self._record([_partial_fit(self._models[0], X, y, self.n_jobs)])
        return self


class SGDClassifier(_Classifier, _SGD):
    """scikit-learn's ``SGDClassifier`` on the library's engines: single-row
    (or ``batch_size``) steps of ``optimizer``.

    Differences: more than two classes under ``loss="log_loss"`` fit the
    multinomial (softmax) model, other losses one binary model per class
    (one versus the rest, as scikit-learn does); ``learning_rate="invscaling"``
    decays per epoch; ``"optimal"`` takes the rate the library derives from
    the data.
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
        epsilon=0.1,
        random_state=None,
        learning_rate="optimal",
        eta0=0.0,
        power_t=0.5,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        class_weight=None,
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
        self.epsilon = epsilon
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
        self.n_jobs = n_jobs
        self.batch_size = batch_size
        self.optimizer = optimizer

    def _fit(self, X, y, sample_weight, max_epochs, classes, starts):
        self._check_fit_intercept()
        if self.loss not in ("hinge", "log_loss", "squared_hinge", "modified_huber"):
            raise ValueError(f"loss {self.loss!r} is not a classification loss of SGDClassifier")
        labels, self.classes_ = self._encode(y, classes)
        if self.class_weight is not None:
            weights = compute_sample_weight(self.class_weight, y).astype(np.float32)
            sample_weight = weights if sample_weight is None else sample_weight * weights
        count = len(self.classes_)
        if count == 2 or self.loss == "log_loss":
            model = "logistic" if count == 2 else "multinomial"
            settings = self._sgd_settings(self.loss, model, count, max_epochs)
            start = starts[0] if starts else None
            models = [_fit(settings, X, labels, sample_weight, start, self.n_jobs)]
        else:
            # One versus the rest: a binary model per class.
            settings = self._sgd_settings(self.loss, "logistic", 2, max_epochs)
            models = [
                _fit(
                    settings,
                    X,
                    (labels == k).astype(np.float32),
                    sample_weight,
                    starts[k] if starts else None,
                    self.n_jobs,
                )
                for k in range(count)
            ]
        self._record(models)
        return self

    def fit(self, X, y, sample_weight=None):
        X, y, sample_weight = self._validate_fit(X, y, sample_weight, classifier=True)
        starts = self._models if self.warm_start and hasattr(self, "_models") else None
        return self._fit(X, y, sample_weight, self.max_iter, None, starts)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over ``X`` and ``y``, from where the last fit stopped;
        the first call names every class (``classes``)."""
        if not hasattr(self, "_models"):
            if classes is None:
                raise ValueError("classes must be given on the first call to partial_fit")
            X, y, sample_weight = self._validate_fit(X, y, sample_weight, classifier=True)
            if isinstance(X, Frame):
                _partial_fit(None, X, y, self.n_jobs)
            return self._fit(X, y, sample_weight, 1, classes, None)
        X = self._validate_predict(X)
        labels, _ = self._encode(np.asarray(y), self.classes_)
        if len(self._models) == 1:
            models = [_partial_fit(self._models[0], X, labels, self.n_jobs)]
        else:
            models = [
                _partial_fit(model, X, (labels == k).astype(np.float32), self.n_jobs)
                for k, model in enumerate(self._models)
            ]
        self._record(models)
        return self

    @available_if(lambda self: self.loss == "log_loss")
    def predict_proba(self, X):
        """Each row's probability of each class (``loss="log_loss"`` only)."""
        X = self._validate_predict(X)
        return self._call(self._models[0], "predict_proba", X).astype(np.float64)

    @available_if(lambda self: self.loss == "log_loss")
    def predict_log_proba(self, X):
        return np.log(self.predict_proba(X))
