"""The estimators against scikit-learn's on its own data sets, and against
the Rust library itself.

Expected values come from scikit-learn (its optima, run to a tight
tolerance here) and from the `downhill` program built from the same
crate (its saved model), never from this package.
"""

import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import sklearn.linear_model as sk
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import downhill
from downhill import _core

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def standardized(loader):
    x, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(x), y


def log_loss_objective(x, y, coef, intercept, C):
    """scikit-learn's L2 logistic objective, C Σ log-loss + ½‖w‖², in float64
    (binary labels 0/1: one row of coef; else the multinomial's)."""
    z = x @ np.atleast_2d(coef).T + intercept
    if z.shape[1] == 1:
        s = 2.0 * y - 1.0
        loss = np.logaddexp(0.0, -s * z[:, 0]).sum()
    else:
        loss = (np.logaddexp.reduce(z, axis=1) - z[np.arange(len(y)), y]).sum()
    return C * loss + 0.5 * float((np.asarray(coef) ** 2).sum())


def ridge_objective(x, y, coef, intercept, alpha):
    r = y - x @ coef - intercept
    return float(r @ r) + alpha * float(coef @ coef)


@pytest.mark.parametrize("loader", [load_breast_cancer, load_iris, load_digits])
def test_logistic_regression_reaches_scikit_learns_optimum(loader):
    x, y = standardized(loader)
    classes = np.unique(y)
    y = np.searchsorted(classes, y)
    ours = downhill.LogisticRegression(C=0.5, max_iter=2000).fit(x, y)
    theirs = sk.LogisticRegression(C=0.5, max_iter=20000, tol=1e-12).fit(x, y)
    found = log_loss_objective(x, y, ours.coef_, ours.intercept_, 0.5)
    expected = log_loss_objective(x, y, theirs.coef_, theirs.intercept_, 0.5)
    assert found <= expected * (1 + 1e-6), (found, expected)
    assert ours.coef_.shape == theirs.coef_.shape
    assert ours.intercept_.shape == theirs.intercept_.shape
    assert np.array_equal(ours.classes_, theirs.classes_)
    assert ours.score(x, y) == pytest.approx(theirs.score(x, y), abs=0.01)
    probabilities = ours.predict_proba(x)
    assert probabilities.shape == (len(y), len(classes))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(probabilities, theirs.predict_proba(x), atol=1e-3)


def test_ridge_and_least_squares_reach_scikit_learns_optimum():
    x, y = standardized(load_diabetes)
    for alpha in [0.1, 1.0, 30.0]:
        ours = downhill.Ridge(alpha=alpha).fit(x, y)
        theirs = sk.Ridge(alpha=alpha).fit(x, y)
        found = ridge_objective(x, y, ours.coef_, ours.intercept_, alpha)
        expected = ridge_objective(x, y, theirs.coef_, theirs.intercept_, alpha)
        assert found <= expected * (1 + 1e-6), (alpha, found, expected)
    ours = downhill.LinearRegression().fit(x, y)
    theirs = sk.LinearRegression().fit(x, y)
    found = ridge_objective(x, y, ours.coef_, ours.intercept_, 0.0)
    expected = ridge_objective(x, y, theirs.coef_, theirs.intercept_, 0.0)
    assert found <= expected * (1 + 1e-6)
    assert ours.score(x, y) == pytest.approx(theirs.score(x, y), abs=1e-6)


def test_weighted_ridge_is_scikit_learns():
    x, y = standardized(load_diabetes)
    weights = np.random.default_rng(3).uniform(0.2, 3.0, len(y))
    ours = downhill.Ridge(alpha=2.0).fit(x, y, sample_weight=weights)
    theirs = sk.Ridge(alpha=2.0).fit(x, y, sample_weight=weights)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-3 * np.abs(theirs.coef_).max())


def test_poisson_regressor_reaches_scikit_learns_optimum():
    x, y = standardized(load_diabetes)
    counts = np.round(y / 50.0)
    ours = downhill.PoissonRegressor(alpha=0.1, max_iter=1000).fit(x, counts)
    theirs = sk.PoissonRegressor(alpha=0.1, max_iter=10000, tol=1e-12).fit(x, counts)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-5)
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x), rtol=1e-5)


@pytest.mark.parametrize("loss", ["hinge", "log_loss", "modified_huber"])
def test_sgd_classifier_scores_as_scikit_learns(loss):
    for loader in [load_breast_cancer, load_iris]:
        x, y = standardized(loader)
        ours = np.mean([downhill.SGDClassifier(loss=loss, random_state=s).fit(x, y).score(x, y) for s in range(3)])
        theirs = np.mean([sk.SGDClassifier(loss=loss, random_state=s).fit(x, y).score(x, y) for s in range(3)])
        assert ours >= theirs - 0.05, (loader.__name__, ours, theirs)


@pytest.mark.parametrize("loss", ["squared_error", "huber", "epsilon_insensitive"])
def test_sgd_regressor_scores_as_scikit_learns(loss):
    x, y = standardized(load_diabetes)
    kwargs = {"epsilon": 10.0} if loss != "squared_error" else {}
    ours = downhill.SGDRegressor(loss=loss, random_state=0, eta0=0.01, **kwargs).fit(x, y)
    theirs = sk.SGDRegressor(loss=loss, random_state=0, eta0=0.01, **kwargs).fit(x, y)
    assert ours.score(x, y) >= theirs.score(x, y) - 0.05
    assert len(ours.loss_curve_) == ours.n_iter_
    assert isinstance(ours.stop_reason_, str)


def test_the_same_fit_from_python_and_from_the_program_is_the_same_bit_for_bit(tmp_path):
    """The package's `_core.fit` and the `downhill` program, built from the
    same crate, fit the same float32 rows with the same settings: the same
    weights, bit for bit."""
    # The program as built by cargo (built here first where it is not).
    binary = os.environ.get("DOWNHILL_BINARY")
    prefix = [binary] if binary else ["cargo", "run", "--release", "--quiet", "-p", "downhill-cli", "--"]
    rng = np.random.default_rng(11)
    x = rng.normal(size=(500, 6)).astype(np.float32)
    y = (x @ rng.normal(size=6) + 0.3 * rng.normal(size=500)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    saved = tmp_path / "model.json"
    command = prefix + [
        "fit", "--data", str(tmp_path / "x.npy"), "--target", str(tmp_path / "y.npy"),
        "--model", "linear", "--variant", "minibatch:16", "--optimizer", "momentum", "--lr", "0.01",
        "--beta", "0.9", "--l2", "0.001", "--epochs", "7", "--seed", "5", "--no-standardize",
        "--device", "cpu", "--save", str(saved),
    ]
    run = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    saved_model = json.loads(saved.read_text())
    settings = _core.settings(
        model="linear", optimizer="momentum", learning_rate=0.01, momentum=0.9, alpha=0.001,
        batch_size=16, max_epochs=7, seed=5, device="cpu",
    )
    fitted = _core.fit(settings, x, y)
    weights = np.asarray(saved_model["weights"], dtype=np.float32).ravel()
    assert np.array_equal(fitted.coefficients.ravel(), weights), (fitted.coefficients.ravel(), weights)
    assert np.array_equal(fitted.intercepts, np.asarray(saved_model["bias"], dtype=np.float32).ravel())


def test_estimators_work_in_scikit_learns_tools():
    x, y = standardized(load_diabetes)
    scores = cross_val_score(make_pipeline(StandardScaler(), downhill.Ridge()), x, y, cv=3)
    assert np.all(scores > 0.3)
    search = GridSearchCV(downhill.Ridge(), {"alpha": [0.1, 1.0, 10.0]}, cv=3).fit(x, y)
    assert search.best_params_["alpha"] in (0.1, 1.0, 10.0)
    model = downhill.SGDClassifier(loss="log_loss", random_state=0, device="cpu", batch_size=8)
    assert clone(model).get_params() == model.get_params()


def test_pickled_models_predict_the_same():
    x, y = standardized(load_iris)
    for model in [
        downhill.LogisticRegression(max_iter=500),
        downhill.SGDClassifier(random_state=0),
        downhill.Ridge(),
    ]:
        model.fit(x, y)
        copy = pickle.loads(pickle.dumps(model))
        assert np.array_equal(copy.predict(x), model.predict(x))
        assert np.array_equal(copy.coef_, model.coef_)


def test_errors_are_python_exceptions_of_their_kind():
    x, y = standardized(load_diabetes)
    with pytest.raises(NotFittedError):
        downhill.Ridge().predict(x)
    with pytest.raises(ValueError, match="NaN"):
        downhill.Ridge().fit(np.array([[np.nan, 1.0], [0.0, 1.0]]), [1.0, 2.0])
    with pytest.raises(ValueError, match="tpu"):
        downhill.SGDRegressor(device="tpu").fit(x, y)
    with pytest.raises(ValueError, match="one class"):
        downhill.LogisticRegression().fit(x, np.zeros(len(y)))
    with pytest.raises(ValueError, match="l1"):
        downhill.LogisticRegression(penalty="l1").fit(x, y > 150)
    with pytest.raises(ValueError, match="features"):
        downhill.Ridge().fit(x, y).predict(x[:, :3])


def test_partial_fit_continues_the_fit():
    x, y = standardized(load_iris)
    model = downhill.SGDClassifier(loss="log_loss", random_state=0, learning_rate="constant", eta0=0.01)
    model.partial_fit(x, y, classes=np.unique(y))
    first = model.coef_.copy()
    for _ in range(20):
        model.partial_fit(x, y)
    assert not np.array_equal(first, model.coef_)
    assert model.score(x, y) > 0.8


def test_scipy_csr_rows_fit_as_the_same_rows_dense():
    """A SciPy CSR matrix is fitted from its stored entries (the library's
    sparse rows): the fit of the same rows dense, to float32 rounding; its
    predictions too, and a partial fit."""
    import scipy.sparse as sp

    rng = np.random.default_rng(8)
    dense = rng.normal(size=(400, 30)) * (rng.random((400, 30)) < 0.1)
    y = (dense @ rng.normal(size=30) + 0.1 * rng.normal(size=400) > 0).astype(int)
    sparse = sp.csr_matrix(dense)
    for model in [
        downhill.LogisticRegression(C=2.0, max_iter=500),
        downhill.SGDClassifier(loss="log_loss", random_state=3, max_iter=20, tol=None),
        downhill.Ridge(alpha=0.5),
    ]:
        from_sparse = clone(model).fit(sparse, y)
        from_dense = clone(model).fit(dense, y)
        np.testing.assert_allclose(from_sparse.coef_, from_dense.coef_, atol=1e-4 * np.abs(from_dense.coef_).max())
        np.testing.assert_allclose(from_sparse.predict(sparse), from_dense.predict(dense), atol=1e-3)
    model = downhill.SGDClassifier(loss="log_loss", random_state=0)
    model.partial_fit(sparse, y, classes=[0, 1])
    model.partial_fit(sparse, y)
    assert model.predict_proba(sparse).shape == (400, 2)


def houses(n=500, seed=0):
    """A frame of numbers and a text column, and a target from both."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "size": rng.normal(size=n),
            "city": rng.choice(["Paris", "Lyon", "Nice"], n),
            "rooms": rng.integers(1, 5, n),
        }
    )
    effect = frame["city"].map({"Paris": 3.0, "Lyon": 1.0, "Nice": -1.0})
    y = 2 * frame["size"] + effect + 0.5 * frame["rooms"] + rng.normal(0, 0.1, n)
    return frame, y.to_numpy()


def test_frames_with_text_columns_read_through_the_table_encoding():
    """A pandas frame with a text column is encoded as the `downhill`
    program encodes a table (each value of the text one-hot): the same fit
    as scikit-learn's on pandas' one-hot columns, the same objective."""
    import pandas as pd

    frame, y = houses()
    ours = downhill.Ridge(alpha=1.0).fit(frame, y)
    dummies = pd.get_dummies(frame, dtype=float)
    theirs = sk.Ridge(alpha=1.0).fit(dummies, y)
    assert list(ours.feature_names_in_) == ["size", "city", "rooms"]
    assert ours.encoded_feature_names_ == ["size", "city=Lyon", "city=Nice", "city=Paris", "rooms"]
    order = [list(dummies.columns).index(name) for name in ["size", "city_Lyon", "city_Nice", "city_Paris", "rooms"]]
    np.testing.assert_allclose(ours.coef_, theirs.coef_[order], atol=1e-5)
    np.testing.assert_allclose(ours.predict(frame), theirs.predict(dummies), atol=1e-4)
    # Classes, probabilities and a pickle of a table's model.
    model = downhill.LogisticRegression().fit(frame, y > 2)
    assert list(model.classes_) == [False, True]
    assert model.score(frame, y > 2) > 0.9
    copy = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(copy.predict_proba(frame), model.predict_proba(frame))
    # A missing text cell is an error naming it; so are other columns.
    broken = frame.copy()
    broken.loc[7, "city"] = None
    with pytest.raises(ValueError, match="city"):
        downhill.Ridge().fit(broken, y)
    with pytest.raises(ValueError):
        ours.predict(frame.rename(columns={"city": "town"}))
    # Missing cells at predict are refused too, not filled.
    with pytest.raises(ValueError, match="missing"):
        ours.predict(broken)
    # A text column is text whatever it holds: postal codes are categories,
    # "NA" (Namibia) a value.
    coded = frame.assign(code=np.where(frame["rooms"] > 2, "01000", "75001"),
                         country=np.where(frame["size"] > 0, "NA", "FR"))
    model = downhill.Ridge().fit(coded, y)
    assert {"code=01000", "code=75001", "country=FR", "country=NA"} <= set(model.encoded_feature_names_)
    assert model.predict(coded).shape == (len(y),)
    # A column of booleans reads as 0 and 1, as in an array.
    flagged = frame.assign(garden=frame["rooms"] > 2)
    model = downhill.Ridge().fit(flagged, y)
    assert model.encoded_feature_names_[-1] == "garden"


def test_polars_frames_fit_as_pandas_frames():
    import polars as pl

    frame, y = houses(seed=1)
    as_polars = pl.DataFrame({column: frame[column].tolist() for column in frame.columns})
    from_pandas = downhill.Ridge(alpha=0.5).fit(frame, y)
    from_polars = downhill.Ridge(alpha=0.5).fit(as_polars, y)
    np.testing.assert_array_equal(from_polars.coef_, from_pandas.coef_)
    numbers = frame.drop(columns="city")
    np.testing.assert_array_equal(
        downhill.Ridge().fit(as_polars.drop("city"), y).coef_, downhill.Ridge().fit(numbers, y).coef_
    )


def test_sgd_sample_weights_reach_scikit_learns_weighted_optimum():
    """scikit-learn's SGD minimizes (1/n) Σ sᵢ ℓᵢ + alpha R(w), which grows
    with the weights' scale: weights of 10 move the optimum. Expected: that
    objective's minimum in closed form (a ridge system in float64);
    averaged SGD reaches it, unweighted it would not."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 3))
    y = x @ np.array([1.0, 2.0, 3.0]) + 0.5 + 0.1 * rng.normal(size=300)
    s, alpha = np.full(300, 10.0), 1.0
    # (1/n) Σ s (½ r²) + (alpha/2)‖w‖²: the normal equations, bias unpenalized.
    a = np.column_stack([x, np.ones(300)])
    penalty = np.diag([alpha, alpha, alpha, 0.0])
    exact = np.linalg.solve(a.T @ (s[:, None] * a) / 300 + penalty, a.T @ (s * y) / 300)
    model = downhill.SGDRegressor(alpha=alpha, learning_rate="constant", eta0=1e-3, max_iter=2000, tol=None,
                                  random_state=0, average=True)
    model.fit(x, y, sample_weight=s)
    np.testing.assert_allclose(model.coef_, exact[:3], rtol=2e-2)
    unweighted = np.linalg.solve(a.T @ a / 300 + penalty, a.T @ y / 300)
    assert np.abs(model.coef_ - unweighted[:3]).max() > 0.2


def test_one_versus_the_rest_weighs_each_problem_as_scikit_learn():
    """Class k's problem weighs its positive rows by class k's weight and
    the rest by 1 (scikit-learn's `fit_binary`), times the sample weights."""
    model = downhill.SGDClassifier(class_weight={0: 10.0, 1: 2.0, 2: 1.0})
    model.classes_ = np.array([0, 1, 2])
    labels = np.array([0, 1, 2, 0], dtype=np.float32)
    problems = model._problems(labels, np.array([1, 1, 1, 3], dtype=np.float32))
    assert len(problems) == 3
    np.testing.assert_array_equal(problems[0][1], [10, 1, 1, 30])
    np.testing.assert_array_equal(problems[1][1], [1, 2, 1, 3])
    np.testing.assert_array_equal(problems[2][1], [1, 1, 1, 3])


def test_a_diverged_fit_is_warned_of():
    x, y = standardized(load_diabetes)
    with pytest.warns(downhill.DivergenceWarning, match="diverged"):
        model = downhill.SGDRegressor(learning_rate="constant", eta0=10.0, batch_size=None).fit(x, y)
    assert model.stop_reason_.startswith("diverged")
    from sklearn.exceptions import ConvergenceWarning

    with pytest.warns(ConvergenceWarning, match="max_iter"):
        downhill.LogisticRegression(max_iter=2).fit(*standardized(load_breast_cancer))


def test_partial_fit_counts_its_epoch_and_takes_weights():
    x, y = standardized(load_iris)
    model = downhill.SGDClassifier(loss="log_loss", random_state=0, learning_rate="constant", eta0=0.01)
    model.partial_fit(x, y, classes=[0, 1, 2])
    model.partial_fit(x, y)
    assert model.n_iter_ == 1
    weighted = clone(model).partial_fit(x, y, classes=[0, 1, 2])
    weighted.partial_fit(x, y, sample_weight=np.where(y == 0, 5.0, 0.1))
    assert not np.allclose(weighted.coef_, model.coef_)
    with pytest.raises(ValueError, match="early_stopping"):
        downhill.SGDClassifier(early_stopping=True).partial_fit(x, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="differ"):
        model.partial_fit(x, y, classes=[0, 1, 2, 3])


def test_warm_start_starts_from_the_coefficients_alone():
    rng = np.random.default_rng(1)
    x1, x2 = rng.normal(size=(300, 3)), rng.normal(size=(300, 3))
    model = downhill.SGDRegressor(warm_start=True, random_state=0)
    model.fit(x1, x1 @ [1.0, 2.0, 3.0])
    model.fit(x2, x2 @ [3.0, -1.0, 0.0])
    assert model.score(x2, x2 @ [3.0, -1.0, 0.0]) > 0.99
    assert model.n_iter_ == len(model.loss_curve_)


def test_scikit_learns_other_parameters_are_taken():
    x, y = standardized(load_diabetes)
    downhill.Ridge(solver="svd", copy_X=False, random_state=0).fit(x, y)
    downhill.LinearRegression(copy_X=True, tol=1e-6).fit(x, y)
    downhill.PoissonRegressor(solver="lbfgs", verbose=0).fit(x, np.round(y / 50))
    downhill.LogisticRegression(l1_ratio=0.0, dual=False, intercept_scaling=1, verbose=0).fit(x, y > 150)
    with pytest.raises(ValueError, match="positive"):
        downhill.Ridge(positive=True).fit(x, y)
    with pytest.raises(ValueError, match="l1_ratio"):
        downhill.LogisticRegression(l1_ratio=0.5).fit(x, y > 150)
    binary = downhill.SGDClassifier(loss="modified_huber", random_state=0).fit(x, y > 150)
    probabilities = binary.predict_proba(x)
    assert probabilities.shape == (len(y), 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    with pytest.raises(ValueError):
        downhill.Ridge().fit(x, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="non-zero|all 0"):
        downhill.Ridge().fit(x, y, sample_weight=np.zeros(len(y)))


def test_cross_validated_estimators_choose_scikit_learns_strength():
    """LogisticRegressionCV and RidgeCV on scikit-learn's own splitters: the
    same C and alpha chosen, the refitted coefficients to 1e-4 of the
    largest, RidgeCV's best mean R² to 1e-6."""
    from sklearn.model_selection import KFold, StratifiedKFold

    x, y = standardized(load_breast_cancer)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    ours = downhill.LogisticRegressionCV(Cs=8, cv=folds, scoring="neg_log_loss", max_iter=1000).fit(x, y)
    theirs = sk.LogisticRegressionCV(
        Cs=8, cv=folds, scoring="neg_log_loss", max_iter=10000, tol=1e-10, l1_ratios=(0.0,),
        use_legacy_attributes=True,
    ).fit(x, y)
    assert ours.C_[0] == theirs.C_[0]
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-4 * np.abs(theirs.coef_).max())
    assert ours.scores_[1].shape == (5, 8)
    # The area under the ROC curve, both fits to their optima: every
    # fold's score at every C to 1e-3, the best mean score to 1e-3.
    ours = downhill.LogisticRegressionCV(Cs=8, cv=folds, scoring="roc_auc", tol=1e-10, max_iter=1000).fit(x, y)
    theirs = sk.LogisticRegressionCV(
        Cs=8, cv=folds, scoring="roc_auc", max_iter=10000, tol=1e-10, l1_ratios=(0.0,), use_legacy_attributes=True
    ).fit(x, y)
    their_scores = theirs.scores_[1].reshape(5, 8)  # its legacy axis of one l1_ratio dropped
    np.testing.assert_allclose(ours.scores_[1], their_scores, atol=1e-3)
    assert ours.scores_[1].mean(axis=0).max() == pytest.approx(their_scores.mean(axis=0).max(), abs=1e-3)
    x, y = standardized(load_diabetes)
    folds = KFold(5, shuffle=True, random_state=0)
    alphas = np.logspace(-2, 3, 12)
    ours = downhill.RidgeCV(alphas=alphas, cv=folds).fit(x, y)
    theirs = sk.RidgeCV(alphas=alphas, cv=folds).fit(x, y)
    assert ours.alpha_ == theirs.alpha_
    assert ours.best_score_ == pytest.approx(theirs.best_score_, abs=1e-6)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-4 * np.abs(theirs.coef_).max())
    with pytest.raises(ValueError, match="k-fold"):
        from sklearn.model_selection import ShuffleSplit

        downhill.RidgeCV(cv=ShuffleSplit(3, random_state=0)).fit(x, y)


def test_lasso_and_elastic_net_cv_choose_scikit_learns_alpha():
    """LassoCV and ElasticNetCV (two ratios) on scikit-learn's splitter and
    alpha grids (the diabetes table as scikit-learn ships it, unit-norm
    columns): the same alpha and ratio, every alpha's mean held-out error
    to 1e-4, the refitted coefficients to 1e-4 of the largest."""
    from sklearn.model_selection import KFold

    x, y = load_diabetes(return_X_y=True)
    folds = KFold(5, shuffle=True, random_state=0)
    for ours, theirs in [
        (downhill.LassoCV(alphas=12, cv=folds), sk.LassoCV(alphas=12, cv=folds, tol=1e-12, max_iter=1_000_000)),
        (
            downhill.ElasticNetCV(l1_ratio=[0.3, 0.8], alphas=8, cv=folds),
            sk.ElasticNetCV(l1_ratio=[0.3, 0.8], alphas=8, cv=folds, tol=1e-12, max_iter=1_000_000),
        ),
    ]:
        ours.fit(x, y)
        theirs.fit(x, y)
        assert ours.alpha_ == pytest.approx(theirs.alpha_, rel=1e-5)
        assert getattr(ours, "l1_ratio_", 1.0) == getattr(theirs, "l1_ratio_", 1.0)
        assert ours.mse_path_.shape == theirs.mse_path_.shape
        np.testing.assert_allclose(ours.mse_path_.mean(axis=-1), theirs.mse_path_.mean(axis=-1), rtol=1e-4)
        np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-4 * np.abs(theirs.coef_).max())
        assert ours.intercept_ == pytest.approx(theirs.intercept_, abs=1e-4 * np.abs(theirs.coef_).max())
    with pytest.raises(ValueError, match="l1_ratio"):
        downhill.ElasticNetCV(l1_ratio=0.0).fit(x, y)


def test_float64_and_non_contiguous_inputs_are_converted():
    x, y = standardized(load_diabetes)
    contiguous = downhill.Ridge().fit(np.ascontiguousarray(x, dtype=np.float32), y)
    strided = downhill.Ridge().fit(np.asfortranarray(x), y)
    assert np.array_equal(contiguous.coef_, strided.coef_)


def test_the_gpu_fits_as_the_cpu_does():
    """The GPU engine from Python: the same fits as the CPU's to float32
    rounding (its sums run in another order). Without an adapter it skips,
    unless DOWNHILL_REQUIRE_GPU=1 (CI, on lavapipe) makes that a failure."""
    x, y = standardized(load_breast_cancer)
    try:
        gpu = downhill.LogisticRegression(max_iter=300, device="gpu").fit(x, y)
    except RuntimeError as error:
        if os.environ.get("DOWNHILL_REQUIRE_GPU") == "1":
            raise
        pytest.skip(f"no GPU adapter: {error}")
    cpu = downhill.LogisticRegression(max_iter=300, device="cpu").fit(x, y)
    assert gpu._models[0].device == "gpu"
    np.testing.assert_allclose(gpu.coef_, cpu.coef_, atol=1e-4 * np.abs(cpu.coef_).max())
    sgd = dict(loss="log_loss", random_state=2, max_iter=5, tol=None, batch_size=32, optimizer="adam",
               learning_rate="constant", eta0=0.01)
    on_gpu = downhill.SGDClassifier(device="gpu", **sgd).fit(x, y)
    on_cpu = downhill.SGDClassifier(device="cpu", **sgd).fit(x, y)
    np.testing.assert_allclose(on_gpu.coef_, on_cpu.coef_, atol=1e-4 * np.abs(on_cpu.coef_).max())


def test_the_learning_rate_walkthrough_runs(tmp_path):
    """python/examples/learning_rates.py reads its verdicts off the runs
    (it asserts them) and plots the curves."""
    plot = tmp_path / "curves.png"
    example = os.path.join(ROOT, "python", "examples", "learning_rates.py")
    run = subprocess.run([sys.executable, example, "--plot", str(plot)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "1.05 diverges" in run.stdout
    assert plot.stat().st_size > 10_000


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))


def test_logistic_regression_cv_takes_sparse_rows():
    """LogisticRegressionCV of SciPy CSR rows: every fold's score as the
    same rows dense give it (to 1e-6), the same C, the same refitted
    coefficients (to 1e-5 of the largest), and scikit-learn's C on the
    same sparse rows and folds."""
    import scipy.sparse
    from sklearn.model_selection import StratifiedKFold

    x, y = standardized(load_breast_cancer)
    x[np.abs(x) < 0.5] = 0.0
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    # Both to their optima (tol tiny), at Cs up to 10: at a looser tol,
    # or at Cs of hundreds on these nearly separable rows, a fit ends where
    # float32's roundings leave it, and held-out log-losses differ by that.
    cv = dict(Cs=np.logspace(-4, 1, 6), cv=folds, scoring="neg_log_loss", tol=1e-10, max_iter=1000)
    dense = downhill.LogisticRegressionCV(**cv).fit(x, y)
    rows = scipy.sparse.csr_matrix(x)
    ours = downhill.LogisticRegressionCV(**cv).fit(rows, y)
    np.testing.assert_allclose(ours.scores_[1], dense.scores_[1], atol=1e-6)
    assert ours.C_[0] == dense.C_[0]
    np.testing.assert_allclose(ours.coef_, dense.coef_, atol=1e-5 * np.abs(dense.coef_).max())
    theirs = sk.LogisticRegressionCV(
        Cs=np.logspace(-4, 1, 6), cv=folds, scoring="neg_log_loss", max_iter=10000, tol=1e-10, l1_ratios=(0.0,),
        use_legacy_attributes=True,
    ).fit(rows, y)
    assert ours.C_[0] == theirs.C_[0]
    np.testing.assert_allclose(ours.predict_proba(rows), dense.predict_proba(x), atol=1e-5)
