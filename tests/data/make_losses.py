"""The optima that tests/losses.rs checks downhill's Poisson and hinge fits
against, computed by scikit-learn.

    python3 -m venv venv && venv/bin/pip install numpy scikit-learn
    venv/bin/python tests/data/make_losses.py

poisson.csv: 400 rows, x0..x3 and counts y ~ Poisson(exp(x·w + b)).
poisson_expected.csv: for each alpha, PoissonRegressor's intercept and
weights (lbfgs, tol 1e-12). PoissonRegressor minimizes
(1/2n) Σ deviance + (alpha/2)|w|², that is (1/n) Σ (e^z − y z) + const +
(alpha/2)|w|²: downhill's Poisson loss with Penalty::L2(alpha), the same
alpha.

hinge.csv: 300 rows, x0..x3 and labels 0/1. hinge_expected.csv: LinearSVC's
(hinge loss, liblinear's dual solver, tol 1e-10) intercept and weights for
C, and the objective (1/n) Σ max(0, 1 − s z) + (lambda/2)|w|² at them with
lambda = 1/(C n), which LinearSVC minimizes up to the factor C n (its
intercept, scaled by 100, is all but unpenalized).
"""
import os

import numpy as np
from sklearn.linear_model import PoissonRegressor
from sklearn.svm import LinearSVC

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(8)

n, d = 400, 4
x = rng.normal(0.0, 1.0, (n, d)).astype(np.float32)
w = np.array([0.5, -0.3, 0.2, 0.0])
y = rng.poisson(np.exp(x.astype(np.float64) @ w + 0.7)).astype(np.float32)
header = ",".join([f"x{j}" for j in range(d)] + ["y"])
np.savetxt(os.path.join(here, "poisson.csv"), np.column_stack([x, y]), delimiter=",",
           header=header, comments="", fmt="%.9g")
rows = []
for alpha in [0.0, 0.01, 0.1]:
    model = PoissonRegressor(alpha=alpha, tol=1e-12, max_iter=10_000)
    model.fit(x.astype(np.float64), y.astype(np.float64))
    rows.append([alpha, model.intercept_, *model.coef_])
np.savetxt(os.path.join(here, "poisson_expected.csv"), np.array(rows), delimiter=",",
           header="alpha,intercept," + ",".join(f"w{j}" for j in range(d)), comments="", fmt="%.17g")

n = 300
x = rng.normal(0.0, 1.0, (n, d)).astype(np.float32)
margin = x.astype(np.float64) @ np.array([1.0, -1.0, 0.5, 0.0]) + 0.3 + rng.normal(0.0, 0.8, n)
y = (margin > 0).astype(np.float32)
np.savetxt(os.path.join(here, "hinge.csv"), np.column_stack([x, y]), delimiter=",",
           header=header, comments="", fmt="%.9g")
rows = []
for c in [0.1, 1.0]:
    model = LinearSVC(C=c, loss="hinge", dual=True, tol=1e-10, max_iter=1_000_000, intercept_scaling=100.0)
    model.fit(x.astype(np.float64), y)
    coef, intercept = model.coef_[0], model.intercept_[0]
    s = 2.0 * y - 1.0
    z = x.astype(np.float64) @ coef + intercept
    lam = 1.0 / (c * n)
    objective = np.maximum(0.0, 1.0 - s * z).mean() + 0.5 * lam * coef @ coef
    rows.append([c, lam, objective, intercept, *coef])
np.savetxt(os.path.join(here, "hinge_expected.csv"), np.array(rows), delimiter=",",
           header="C,lambda,objective,intercept," + ",".join(f"w{j}" for j in range(d)), comments="",
           fmt="%.17g")
