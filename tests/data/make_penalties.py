"""The optima that tests/penalties.rs checks downhill's L1 and elastic-net
fits against, computed by scikit-learn's coordinate descent (Lasso and
ElasticNet, converged far past float32).

    python3 -m venv venv && venv/bin/pip install numpy scikit-learn
    venv/bin/python tests/data/make_penalties.py

Writes penalties.csv (300 rows: x0..x7 and y; x5..x7 carry no signal, so
the L1 penalty sets some weights to exactly zero) and
penalties_expected.csv (one row per case: scikit-learn's alpha and
l1_ratio, the intercept and the eight weights). scikit-learn minimizes
(1/2n)|y - Xw - b|^2 + alpha l1_ratio |w|_1 + alpha (1 - l1_ratio)/2 |w|^2;
downhill's squared error has no 1/2, so its alpha for the same optimum is
twice scikit-learn's.
"""
import os

import numpy as np
from sklearn.linear_model import ElasticNet, Lasso

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(5)
n, d = 300, 8
x = rng.normal(0.0, 1.0, (n, d))
x[:, 1] = 0.6 * x[:, 0] + 0.8 * x[:, 1]  # correlated columns
w = np.array([1.5, -2.0, 0.7, 0.3, -0.1, 0.0, 0.0, 0.0])
y = x @ w + 0.4 + rng.normal(0.0, 0.5, n)
x = x.astype(np.float32)
y = y.astype(np.float32)
header = ",".join([f"x{j}" for j in range(d)] + ["y"])
np.savetxt(os.path.join(here, "penalties.csv"), np.column_stack([x, y]), delimiter=",",
           header=header, comments="", fmt="%.9g")

xs, ys = x.astype(np.float64), y.astype(np.float64)
rows = []
for alpha, ratio in [(0.05, 1.0), (0.2, 1.0), (0.1, 0.5), (0.3, 0.2)]:
    if ratio == 1.0:
        model = Lasso(alpha=alpha, tol=1e-14, max_iter=1_000_000)
    else:
        model = ElasticNet(alpha=alpha, l1_ratio=ratio, tol=1e-14, max_iter=1_000_000)
    model.fit(xs, ys)
    rows.append([alpha, ratio, model.intercept_, *model.coef_])
np.savetxt(os.path.join(here, "penalties_expected.csv"), np.array(rows), delimiter=",",
           header="alpha_sklearn,l1_ratio,intercept," + ",".join(f"w{j}" for j in range(d)),
           comments="", fmt="%.17g")
