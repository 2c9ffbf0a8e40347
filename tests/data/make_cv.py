"""The cross-validation that tests/cv.rs checks downhill's against,
computed by scikit-learn.

    python3 -m venv venv && venv/bin/pip install numpy scikit-learn
    venv/bin/python tests/data/make_cv.py

On logistic.csv (500 rows, x0..x4, labels y): StratifiedKFold(5,
shuffle=True, random_state=0) gives each row its fold (cv_folds.csv,
`fold`: the fold that holds it out). LogisticRegressionCV over 8 values of
C on those folds, scored by the mean log-loss (`neg_log_loss`, lbfgs to tol
1e-10), gives each C's mean score over the folds and the C it chooses
(cv_logistic_expected.csv: C, alpha, mean_score, chosen). Each training
set holds 400 rows, so C Σ ℓ + ½|w|² is downhill's mean log-loss with
L2 strength alpha = 1 / (400 C), the same for every fold. `final_*`: the
weights and intercept of LogisticRegression on every row at the chosen
strength in those units (C' = 400 C / 500), the model downhill's
cross-validation refits.
"""
import os

import numpy as np
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold

here = os.path.dirname(os.path.abspath(__file__))
data = np.genfromtxt(os.path.join(here, "logistic.csv"), delimiter=",", names=True)
x = np.column_stack([data[f"x{j}"] for j in range(5)]).astype(np.float32).astype(np.float64)
y = data["y"].astype(int)

folds = np.zeros(len(y), dtype=int)
splits = list(StratifiedKFold(5, shuffle=True, random_state=0).split(x, y))
for fold, (_, held_out) in enumerate(splits):
    folds[held_out] = fold
assert all(len(train) == 400 for train, _ in splits)
np.savetxt(os.path.join(here, "cv_folds.csv"), folds, fmt="%d", header="fold", comments="")

cs = np.logspace(-3, 2, 8)
cv = LogisticRegressionCV(
    Cs=cs, cv=splits, scoring="neg_log_loss", tol=1e-10, max_iter=100000, l1_ratios=(0.0,), use_legacy_attributes=True
).fit(x, y)
mean = np.asarray(cv.scores_[1]).reshape(5, len(cs)).mean(axis=0)
chosen = int(np.argmax(mean))
assert np.isclose(cv.C_[0], cs[chosen])
final = LogisticRegression(C=cs[chosen] * 400 / 500, tol=1e-12, max_iter=100000).fit(x, y)
with open(os.path.join(here, "cv_logistic_expected.csv"), "w") as out:
    out.write("C,alpha,mean_score,chosen\n")
    for k, c in enumerate(cs):
        out.write(f"{float(c)!r},{float(1.0 / (400 * c))!r},{float(mean[k])!r},{int(k == chosen)}\n")
    out.write("final_intercept," + repr(float(final.intercept_[0])) + ",,\n")
    for j, w in enumerate(final.coef_[0]):
        out.write(f"final_x{j},{float(w)!r},,\n")
print("chosen C", cs[chosen], "mean scores", mean)
