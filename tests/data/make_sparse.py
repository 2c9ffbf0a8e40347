"""The sparse table tests/sparse.rs fits, and scikit-learn's optima on it.

    python3 -m venv venv && venv/bin/pip install numpy scipy scikit-learn
    venv/bin/python tests/data/make_sparse.py

sparse.svm: 400 rows × 60 features in svmlight form (one-based indices, as
scikit-learn's dump_svmlight_file writes with zero_based=False), about 8%
of the cells non-zero, values of mixed scales, labels in {0, 1}.

sparse_expected.csv: for each C, LogisticRegression's (lbfgs, tol 1e-12)
intercept and weights on the rows read back by load_svmlight_file (the
float32 values the file holds, widened to float64). As in
make_logistic.py, LogisticRegression minimizes C Σ ℓᵢ + ½|w|², which is
the mean log-loss + (alpha/2)|w|² up to a factor, with alpha = 1 / (C n).
"""
import os

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import dump_svmlight_file, load_svmlight_file
from sklearn.linear_model import LogisticRegression

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(25)

n, d, density = 400, 60, 0.08
mask = rng.random((n, d)) < density
scales = rng.choice([0.1, 1.0, 10.0], d)
dense = np.where(mask, rng.normal(0.0, 1.0, (n, d)) * scales, 0.0).astype(np.float32)
true_w = rng.normal(0.0, 1.0, d) / scales
z = dense.astype(np.float64) @ true_w - 0.3
y = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))).astype(np.float64)
path = os.path.join(here, "sparse.svm")
dump_svmlight_file(sp.csr_matrix(dense), y, path, zero_based=False,
                   comment="tests/data/make_sparse.py")

x, y = load_svmlight_file(path, n_features=d, zero_based=False)
x = x.astype(np.float64)
rows = []
for c in [0.05, 1.0]:
    model = LogisticRegression(C=c, tol=1e-12, max_iter=100_000)
    model.fit(x, y)
    alpha = 1.0 / (c * n)
    rows.append([c, alpha, model.intercept_[0], *model.coef_[0]])
np.savetxt(os.path.join(here, "sparse_expected.csv"), np.array(rows), delimiter=",",
           header="C,alpha,intercept," + ",".join(f"w{j}" for j in range(d)), comments="",
           fmt="%.17g")
