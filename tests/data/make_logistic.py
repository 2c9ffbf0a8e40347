"""The optima that tests/lbfgs.rs and tests/weights.rs check downhill's
logistic fits against, computed by scikit-learn.

    python3 -m venv venv && venv/bin/pip install numpy scikit-learn
    venv/bin/python tests/data/make_logistic.py

logistic.csv: 500 rows, x0..x4 on raw scales, labels y in {0, 1} (a third
of them 1), and a sample weight per row in `weight` (between 0.2 and 3).

logistic_expected.csv: for each C, with and without the weights,
LogisticRegression's (lbfgs, tol 1e-12) intercept and weights.
LogisticRegression minimizes C Σ sᵢ ℓᵢ + ½|w|² (sᵢ the weights, 1 when
unweighted; ℓ the log-loss; the intercept unpenalized), which is
(Σ sᵢ ℓᵢ / Σ sᵢ) + (alpha/2)|w|² up to the factor C Σ sᵢ, with
alpha = 1 / (C Σ sᵢ): downhill's weighted log-loss with Penalty::L2(alpha).
"""
import os

import numpy as np
from sklearn.linear_model import LogisticRegression

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(12)

n, d = 500, 5
scales = np.array([1.0, 10.0, 0.1, 3.0, 1.0])
x = (rng.normal(0.0, 1.0, (n, d)) * scales + np.array([0.0, 5.0, 0.0, -2.0, 1.0])).astype(np.float32)
z = (x.astype(np.float64) - np.array([0.0, 5.0, 0.0, -2.0, 1.0])) / scales @ np.array([1.5, -1.0, 0.7, 0.0, 0.4]) - 0.8
y = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))).astype(np.float32)
weight = rng.uniform(0.2, 3.0, n).astype(np.float32)
header = ",".join([f"x{j}" for j in range(d)] + ["y", "weight"])
np.savetxt(os.path.join(here, "logistic.csv"), np.column_stack([x, y, weight]), delimiter=",",
           header=header, comments="", fmt="%.9g")

x64, y64, w64 = x.astype(np.float64), y.astype(np.float64), weight.astype(np.float64)
rows = []
for c in [0.05, 1.0]:
    for weighted in [0, 1]:
        s = w64 if weighted else np.ones(n)
        model = LogisticRegression(C=c, tol=1e-12, max_iter=100_000)
        model.fit(x64, y64, sample_weight=s)
        alpha = 1.0 / (c * s.sum())
        rows.append([c, weighted, alpha, model.intercept_[0], *model.coef_[0]])
np.savetxt(os.path.join(here, "logistic_expected.csv"), np.array(rows), delimiter=",",
           header="C,weighted,alpha,intercept," + ",".join(f"w{j}" for j in range(d)), comments="",
           fmt="%.17g")
