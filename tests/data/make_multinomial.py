"""The multinomial optima that tests/multinomial.rs checks downhill's fits
against, computed by scikit-learn on three of the data sets it ships.

    python3 -m venv venv && venv/bin/pip install numpy scikit-learn
    venv/bin/python tests/data/make_multinomial.py

iris.csv: 150 rows, four measurements (cm) and the species by name.
wine.csv: 178 rows, 13 measurements on raw scales (0.1 to 1680) and the
cultivar as class_0, class_1, class_2.
digits.csv: 1797 rows, 64 pixels (0 to 16) and the digit 0..9.

<name>_expected.csv: LogisticRegression's (lbfgs, multinomial, tol 1e-12)
intercept and weights per class (one row per class), and the objective at
its optimum, for each setting listed below. LogisticRegression minimizes
C Σ sᵢ ℓᵢ + ½‖W‖² (ℓ the cross-entropy of the softmax, sᵢ the sample
weights, 1 when unweighted; the intercepts unpenalized), which is
Σ sᵢ ℓᵢ / Σ sᵢ + (alpha/2)‖W‖² up to the factor C Σ sᵢ, with
alpha = 1 / (C Σ sᵢ): downhill's Loss::Multinomial with Penalty::L2(alpha).
The intercepts sum to 0 (both solvers start from 0, and the gradient of
the intercepts sums to 0 across classes).

- iris: raw features, unweighted and weighted (the weights of rows i are
  1 + (i mod 3), in the `weight` column of iris.csv).
- wine: standardized as StandardScaler does (population scale), which is
  what downhill's `standardize(true)` does; the weights are written back in
  the original units (w / σ, b − Σ μ w / σ).
- digits: raw pixels.
"""
import os

import numpy as np
from sklearn.datasets import load_digits, load_iris, load_wine
from sklearn.linear_model import LogisticRegression

here = os.path.dirname(os.path.abspath(__file__))


def softmax_objective(x, y, s, intercepts, coef, alpha):
    z = x @ coef.T + intercepts
    largest = z.max(axis=1, keepdims=True)
    log_sum = largest[:, 0] + np.log(np.exp(z - largest).sum(axis=1))
    losses = log_sum - z[np.arange(len(y)), y]
    return (s * losses).sum() / s.sum() + 0.5 * alpha * (coef ** 2).sum()


def fit(x, y, s, c):
    model = LogisticRegression(C=c, tol=1e-12, max_iter=1_000_000)
    model.fit(x, y, sample_weight=s)
    return model.intercept_, model.coef_


def write_expected(name, rows, d):
    header = "weighted,C,alpha,objective,class,intercept," + ",".join(f"w{j}" for j in range(d))
    np.savetxt(os.path.join(here, f"{name}_expected.csv"), np.array(rows), delimiter=",",
               header=header, comments="", fmt="%.17g")


def expected_rows(x, y, s, c, weighted, to_original=None):
    intercepts, coef = fit(x, y, s, c)
    alpha = 1.0 / (c * s.sum())
    objective = softmax_objective(x, y, s, intercepts, coef, alpha)
    if to_original is not None:
        intercepts, coef = to_original(intercepts, coef)
    return [[weighted, c, alpha, objective, k, intercepts[k], *coef[k]] for k in range(len(intercepts))]


# Iris: the species by name, and a weight column.
iris = load_iris()
x = iris.data.astype(np.float32)
y = iris.target
n = len(y)
weight = (1 + np.arange(n) % 3).astype(np.float32)
with open(os.path.join(here, "iris.csv"), "w") as f:
    f.write(",".join(["sepal_length", "sepal_width", "petal_length", "petal_width", "species", "weight"]) + "\n")
    for row, label, w in zip(x, y, weight):
        f.write(",".join(f"{v:.9g}" for v in row) + f",{iris.target_names[label]},{w:g}\n")
x64 = x.astype(np.float64)
rows = expected_rows(x64, y, np.ones(n), 1.0, 0) + expected_rows(x64, y, weight.astype(np.float64), 1.0, 1)
write_expected("iris", rows, x.shape[1])

# Wine: raw scales, fitted standardized.
wine = load_wine()
x = wine.data.astype(np.float32)
y = wine.target
header = [name.replace("/", "_") for name in wine.feature_names] + ["cultivar"]
with open(os.path.join(here, "wine.csv"), "w") as f:
    f.write(",".join(header) + "\n")
    for row, label in zip(x, y):
        f.write(",".join(f"{v:.9g}" for v in row) + f",class_{label}\n")
x64 = x.astype(np.float64)
mean, scale = x64.mean(axis=0), x64.std(axis=0)


def wine_original(intercepts, coef):
    original = coef / scale
    return intercepts - original @ mean, original


rows = expected_rows((x64 - mean) / scale, y, np.ones(len(y)), 1.0, 0, wine_original)
write_expected("wine", rows, x.shape[1])

# Digits: raw pixels.
digits = load_digits()
x = digits.data.astype(np.float32)
y = digits.target
np.savetxt(os.path.join(here, "digits.csv"), np.column_stack([x, y]), delimiter=",",
           header=",".join([f"pixel{j}" for j in range(x.shape[1])] + ["digit"]), comments="", fmt="%d")
rows = expected_rows(x.astype(np.float64), y, np.ones(len(y)), 0.01, 0)
write_expected("digits", rows, x.shape[1])
