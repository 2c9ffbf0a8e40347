"""How many iterations scikit-learn's L-BFGS takes to the optimum of the
logistic fits of tests/data/logistic.csv (unweighted), and the objective
it reaches: tests/lbfgs.rs asks downhill's L-BFGS for that objective in no
more passes over the rows than scikit-learn's iterations.

    python3 -m venv venv && venv/bin/pip install numpy scikit-learn
    venv/bin/python tests/data/make_lbfgs_iterations.py

lbfgs_iterations.csv: for each C, alpha = 1 / (C n) (downhill's
Penalty::L2), LogisticRegression(lbfgs, tol 1e-8)'s iterations (n_iter_),
its evaluations of the objective and gradient, and the objective
(1/n) Σ log-loss + (alpha/2)|w|² at its coefficients, in float64. The
committed file came from scikit-learn 1.9.1 (34 and 38 iterations).
"""
import os

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression, _linear_loss

here = os.path.dirname(os.path.abspath(__file__))
table = np.loadtxt(os.path.join(here, "logistic.csv"), delimiter=",", skiprows=1)
x, y = table[:, :5], table[:, 5]
n = len(y)

counted = {"evaluations": 0}
original = _linear_loss.LinearModelLoss.loss_gradient


def counting(self, *a, **k):
    counted["evaluations"] += 1
    return original(self, *a, **k)


_linear_loss.LinearModelLoss.loss_gradient = counting
rows = []
for c in [0.05, 1.0]:
    counted["evaluations"] = 0
    model = LogisticRegression(C=c, tol=1e-8, max_iter=100_000).fit(x, y)
    alpha = 1.0 / (c * n)
    w, b = model.coef_[0], model.intercept_[0]
    z = x @ w + b
    value = np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * alpha * (w @ w)
    rows.append([c, alpha, model.n_iter_[0], counted["evaluations"], value])
np.savetxt(os.path.join(here, "lbfgs_iterations.csv"), np.array(rows), delimiter=",",
           header="C,alpha,iterations,evaluations,objective", comments="", fmt="%.17g")
print(f"scikit-learn {sklearn.__version__}:", rows)
