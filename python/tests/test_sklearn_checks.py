"""scikit-learn's own checks of an estimator (`parametrize_with_checks`),
for every estimator of the package. The checks expected to fail are listed
with the reason."""

from sklearn.utils.estimator_checks import parametrize_with_checks

import downhill

FLOAT32 = (
    "fits are float32 (rows) with float64 sums: weights and repeated rows agree to "
    "float32 rounding (a few 1e-7 relative), not to the check's rtol of 1e-7"
)
STOCHASTIC = "a stochastic fit visits repeated rows more often than weighted ones, as scikit-learn's SGD"


def expected_failures(estimator):
    reason = STOCHASTIC if isinstance(estimator, (downhill.SGDClassifier, downhill.SGDRegressor)) else FLOAT32
    return {
        "check_sample_weight_equivalence_on_dense_data": reason,
        "check_sample_weight_equivalence_on_sparse_data": reason,
    }


@parametrize_with_checks(
    [
        downhill.Ridge(),
        downhill.LinearRegression(),
        downhill.PoissonRegressor(),
        downhill.LogisticRegression(),
        downhill.SGDRegressor(),
        downhill.SGDClassifier(),
        downhill.LogisticRegressionCV(cv=3),
        downhill.RidgeCV(cv=3),
        downhill.LassoCV(cv=3, alphas=5),
        downhill.ElasticNetCV(cv=3, alphas=5),
    ],
    expected_failed_checks=expected_failures,
)
def test_scikit_learns_checks(estimator, check):
    check(estimator)
