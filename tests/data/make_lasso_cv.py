"""The lasso and elastic-net cross-validations that tests/cv.rs checks
downhill's against, computed by scikit-learn.

    python3 -m venv venv && venv/bin/pip install numpy scikit-learn
    venv/bin/python tests/data/make_lasso_cv.py

The public diabetes table (scikit-learn's load_diabetes, its ten features
centred and scaled to unit norm, as it ships them), rounded to float32,
with its target: diabetes_scaled.csv (x0..x9, y, and `fold`, the fold of
KFold(5, shuffle=True, random_state=0) that holds each row out).

LassoCV and ElasticNetCV (l1_ratio 0.5) over 12 alphas from the lasso's
α_max = max|Xcᵀ(y − ȳ)|/n down to α_max/1000, on those folds, coordinate
descent to tol 1e-12: each alpha's mean squared error over the held-out
folds, and the alpha each chooses (lasso_cv_expected.csv: kind, alpha,
mean_mse, chosen). scikit-learn minimizes (1/2n)|y − Xw − b|² + αρ|w|₁ +
α(1−ρ)/2 |w|²; downhill the mean squared error plus l1|w|₁ + (l2/2)|w|²,
twice that at l1 = 2αρ, l2 = 2α(1−ρ): downhill's strength is 2α with the
same ratio. `final`: the intercept and weights of Lasso / ElasticNet on
every row at the chosen alpha, the model downhill's cross-validation
refits.
"""
import os

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet, ElasticNetCV, Lasso, LassoCV
from sklearn.model_selection import KFold

here = os.path.dirname(os.path.abspath(__file__))
x, y = load_diabetes(return_X_y=True)
x = x.astype(np.float32).astype(np.float64)
y = y.astype(np.float32).astype(np.float64)
n = len(y)

folds = np.zeros(n, dtype=int)
splits = list(KFold(5, shuffle=True, random_state=0).split(x))
for fold, (_, held_out) in enumerate(splits):
    folds[held_out] = fold
table = np.column_stack([x, y, folds])
header = ",".join([f"x{j}" for j in range(10)] + ["y", "fold"])
np.savetxt(
    os.path.join(here, "diabetes_scaled.csv"),
    table,
    delimiter=",",
    header=header,
    comments="",
    fmt=["%.9g"] * 11 + ["%d"],
)

alpha_max = np.abs((x - x.mean(0)).T @ (y - y.mean())).max() / n
alphas = alpha_max * np.logspace(0, -3, 12)
rows = []
for kind, ratio, cv_class, model_class in [
    ("lasso", 1.0, LassoCV, Lasso),
    ("enet", 0.5, ElasticNetCV, ElasticNet),
]:
    extra = {} if kind == "lasso" else {"l1_ratio": ratio}
    cv = cv_class(alphas=alphas, cv=splits, tol=1e-12, max_iter=1_000_000, **extra).fit(x, y)
    mean_mse = cv.mse_path_.mean(axis=-1)
    for alpha, mse in zip(cv.alphas_, mean_mse):
        rows.append(f"{kind},{alpha:.17g},{mse:.17g},{int(alpha == cv.alpha_)}")
    final = model_class(alpha=cv.alpha_, tol=1e-12, max_iter=1_000_000, **extra).fit(x, y)
    rows.append(f"{kind}_final," + ",".join(f"{v:.17g}" for v in [final.intercept_, *final.coef_]))

with open(os.path.join(here, "lasso_cv_expected.csv"), "w") as out:
    out.write("kind,alpha_or_intercept,mean_mse_or_weights,chosen\n")
    out.write("\n".join(rows) + "\n")
