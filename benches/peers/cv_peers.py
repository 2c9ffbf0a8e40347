"""Cross-validation of the L2 strength against scikit-learn's
``LogisticRegressionCV``, in one run on one machine: the same seeded rows,
the same stratified folds, the same Cs; both on every core.

Ours: the Python package's ``LogisticRegressionCV`` (each fold's Cs fitted
in lockstep by L-BFGS, one pass over the fold's rows for every C still
fitting: ``GradientDescent::cross_validate``). Theirs: scikit-learn's, lbfgs
with warm starts along each fold's path, the folds spread over ``n_jobs``.
Both are timed from arrays in memory to the refitted model. Prints JSON:
times, their ratio, the chosen Cs, the largest difference of the mean
scores and of the final coefficients (relative to the largest).

    python benches/peers/cv_peers.py [--rows 200000] [--features 64] [--cs 20] [--folds 5] [--density D]

With ``--density D`` the rows are SciPy CSR with that share of entries
stored (standard normal values), as text-like data is: both sides take
the sparse matrix as it is.
"""

import argparse
import json
import os
import time

import numpy as np
from sklearn.linear_model import LogisticRegressionCV as TheirCV
from sklearn.model_selection import StratifiedKFold

import downhill


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--cs", type=int, default=20)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--density", type=float, default=None)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    if args.density is None:
        X = rng.standard_normal((args.rows, args.features)).astype(np.float32)
        scale = np.sqrt(args.features)
    else:
        import scipy.sparse

        X = scipy.sparse.random(
            args.rows, args.features, density=args.density, format="csr", dtype=np.float32, random_state=args.seed,
            data_rvs=lambda k: rng.standard_normal(k),
        )
        scale = np.sqrt(args.features * args.density)
    w = rng.uniform(-1, 1, args.features) / scale
    p = 1 / (1 + np.exp(-(X.astype(np.float64) @ w + 0.3)))
    y = (rng.random(args.rows) < p).astype(np.int64)
    splits = list(StratifiedKFold(args.folds, shuffle=True, random_state=0).split(X, y))
    cores = os.cpu_count()

    start = time.perf_counter()
    theirs = TheirCV(Cs=args.cs, cv=splits, solver="lbfgs", max_iter=100, tol=1e-4, n_jobs=cores).fit(X, y)
    their_seconds = time.perf_counter() - start

    start = time.perf_counter()
    ours = downhill.LogisticRegressionCV(Cs=args.cs, cv=splits, max_iter=100, n_jobs=cores).fit(X, y)
    our_seconds = time.perf_counter() - start

    their_means = theirs.scores_[1].mean(axis=0)
    our_means = ours.scores_[1].mean(axis=0)
    scale = np.abs(theirs.coef_).max()
    print(
        json.dumps(
            {
                "rows": args.rows,
                "features": args.features,
                "cs": args.cs,
                "folds": args.folds,
                "density": args.density,
                "cores": cores,
                "scikit_learn_seconds": round(their_seconds, 3),
                "downhill_seconds": round(our_seconds, 3),
                "scikit_learn_over_downhill": round(their_seconds / our_seconds, 2),
                "scikit_learn_C": float(theirs.C_[0]),
                "downhill_C": float(ours.C_[0]),
                "largest_mean_score_difference": float(np.abs(their_means - our_means).max()),
                "chosen_mean_scores": [float(their_means.max()), float(our_means[np.argmax(our_means)])],
                "coefficients_difference_of_largest": float(np.abs(theirs.coef_ - ours.coef_).max() / scale),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
