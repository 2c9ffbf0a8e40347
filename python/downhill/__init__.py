"""Linear models by gradient descent on the CPU and the GPU, as scikit-learn
estimators.

Swap an import: ``from downhill import SGDClassifier`` in place of
``from sklearn.linear_model import SGDClassifier``. The parameters are
scikit-learn's where they mean the same; this package adds ``device``
(``"cpu"``, ``"gpu"`` or ``"auto"``), ``batch_size`` and ``optimizer``.
The fits run in the Rust library (``downhill._core``) with the interpreter
lock released.
"""

from ._estimators import (
    DivergenceWarning,
    ElasticNetCV,
    LassoCV,
    LinearRegression,
    LogisticRegression,
    LogisticRegressionCV,
    PoissonRegressor,
    Ridge,
    RidgeCV,
    SGDClassifier,
    SGDRegressor,
)

__all__ = [
    "DivergenceWarning",
    "ElasticNetCV",
    "LassoCV",
    "LinearRegression",
    "LogisticRegression",
    "LogisticRegressionCV",
    "PoissonRegressor",
    "Ridge",
    "RidgeCV",
    "SGDClassifier",
    "SGDRegressor",
]
