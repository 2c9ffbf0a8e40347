"""Sparse rows against scikit-learn, in one run on one machine (issue 25).

    venv/bin/pip install numpy scipy scikit-learn
    cargo build --release
    venv/bin/python benches/peers/sparse_peers.py [--rows 100000] [--features 47000] [--per-row 75]

Writes an RCV1-shaped svmlight file (seeded: power-law column frequencies,
rows of unit L2 norm as tf-idf rows are, labels from a sparse linear model
with noise), then times, each in a fresh process where it matters:

- scikit-learn's `load_svmlight_file` of the file;
- scikit-learn's `LogisticRegression` to the L2 optimum by `lbfgs` and by
  `liblinear` (tol 1e-8), the data already in memory as float64 CSR;
- `downhill fit --solver lbfgs` on the file, the read included, with the
  peak memory of the process (/usr/bin/time -v);

and compares the objectives (mean log-loss + alpha/2 |w|^2, float64, on the
file's values) of the three optima. Then one epoch of single-row steps
(constant rate 0.01, the same alpha), with `--parts sgd`:

- scikit-learn's `SGDClassifier(max_iter=1)` on the CSR rows in memory
  (its own row order), best of three;
- `downhill fit --variant sgd --epochs 1`, and the same with momentum 0.9, their
  fitting time as the program reports it (the read apart), best of three;

with each one's objective after its epoch.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import dump_svmlight_file, load_svmlight_file
from sklearn.linear_model import LogisticRegression

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make(path, n, d, per_row, seed=7):
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(10, d + 10) ** 0.9
    weights /= weights.sum()
    cols = rng.choice(d, size=(n, per_row), p=weights)
    indptr = [0]
    indices = []
    for row in cols:
        u = np.unique(row)
        indices.append(u)
        indptr.append(indptr[-1] + len(u))
    indices = np.concatenate(indices)
    values = rng.exponential(1.0, len(indices))
    x = sp.csr_matrix((values, indices, np.array(indptr)), shape=(n, d))
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    x = sp.diags(1.0 / np.maximum(norms, 1e-12)) @ x
    x = x.astype(np.float32).astype(np.float64)
    true_w = np.where(rng.random(d) < 0.05, rng.normal(0, 20, d), 0.0)
    z = x @ true_w
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(z - np.median(z))))).astype(np.int64)
    dump_svmlight_file(x.astype(np.float32), y, path, zero_based=False)
    return x.nnz


def objective(x, y, alpha, intercept, coef):
    z = x @ coef + intercept
    loss = np.mean(np.logaddexp(0.0, z) - y * z)
    return loss + 0.5 * alpha * float(coef @ coef)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=47_000)
    parser.add_argument("--per-row", type=int, default=75)
    parser.add_argument("--alpha", type=float, default=1e-5)
    parser.add_argument("--binary", default=os.path.join(ROOT, "target/release/downhill"))
    parser.add_argument("--parts", default="lbfgs,sgd", help="lbfgs, sgd, or both")
    args = parser.parse_args()
    parts = args.parts.split(",")
    folder = tempfile.mkdtemp(prefix="downhill-sparse-peers-")
    path = os.path.join(folder, "rcv1_shaped.svm")
    entries = make(path, args.rows, args.features, args.per_row)
    print(f"machine: {os.uname().machine}, {os.cpu_count()} cores; {args.rows} rows x {args.features} features, "
          f"{entries} entries ({entries / args.rows:.1f} a row), file {os.path.getsize(path) / 1e6:.0f} MB")

    started = time.perf_counter()
    x, y = load_svmlight_file(path, n_features=args.features, zero_based=False)
    load_seconds = time.perf_counter() - started
    x = x.astype(np.float64)
    print(f"scikit-learn load_svmlight_file: {load_seconds:.2f} s")
    if "lbfgs" in parts:
        optimum(args, folder, path, x, y, entries)
    if "sgd" in parts:
        one_epoch(args, folder, path, x, y)


def optimum(args, folder, path, x, y, entries):
    n = x.shape[0]
    c = 1.0 / (args.alpha * n)
    results = {}
    for solver in ["lbfgs", "liblinear"]:
        started = time.perf_counter()
        model = LogisticRegression(C=c, solver=solver, tol=1e-8, max_iter=10_000)
        model.fit(x, y)
        seconds = time.perf_counter() - started
        results[solver] = (seconds, objective(x, y, args.alpha, model.intercept_[0], model.coef_[0]),
                           int(np.max(model.n_iter_)))

    saved = os.path.join(folder, "model.json")
    command = ["/usr/bin/time", "-v", args.binary, "fit", "--data", path, "--target", "y", "--model", "logistic",
               "--solver", "lbfgs", "--l2", repr(args.alpha), "--no-standardize", "--device", "cpu", "--save", saved]
    started = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True)
    ours_seconds = time.perf_counter() - started
    if run.returncode != 0:
        sys.exit(run.stderr)
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr).group(1)) * 1024
    fit_seconds = float(re.search(r"time:\s+([\d.]+) s", run.stdout).group(1))
    iterations = re.search(r"iterations:\s+(\d+) \((\d+) gradient", run.stdout)
    model = json.load(open(saved))
    coef = np.array(model["weights"], dtype=np.float64).ravel()
    ours = objective(x, y, args.alpha, float(np.ravel(model["bias"])[0]), coef)
    csr_bytes = entries * 8 + (n + 1) * 8 + n * 4

    for solver, (seconds, value, iters) in results.items():
        print(f"scikit-learn {solver:9s}: {seconds:.2f} s (data in memory), {iters} iterations, objective {value:.12g}")
    print(f"downhill fit --solver lbfgs: {ours_seconds:.2f} s wall, read included ({fit_seconds:.2f} s fitting, "
          f"{iterations.group(1)} iterations, {iterations.group(2)} passes), objective {ours:.12g}, "
          f"peak memory {peak / 1e6:.0f} MB against {csr_bytes / 1e6:.0f} MB of CSR")
    best = min(v for _, v, _ in results.values())
    print(f"objective relative to scikit-learn's best: {(ours - best) / abs(best):.2e}")


def one_epoch(args, folder, path, x, y, rate=0.01, rounds=3):
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import SGDClassifier

    best = None
    for seed in range(rounds):
        model = SGDClassifier(loss="log_loss", penalty="l2", alpha=args.alpha, learning_rate="constant",
                              eta0=rate, max_iter=1, tol=None, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            started = time.perf_counter()
            model.fit(x, y)
            seconds = time.perf_counter() - started
        if best is None or seconds < best[0]:
            best = (seconds, objective(x, y, args.alpha, model.intercept_[0], model.coef_[0]))
    print(f"scikit-learn SGDClassifier(max_iter=1), one epoch: {best[0] * 1e3:.1f} ms, objective {best[1]:.6g}")
    saved = os.path.join(folder, "epoch.json")
    for optimizer in ["sgd", "momentum"]:
        times = []
        for seed in range(rounds):
            command = [args.binary, "fit", "--data", path, "--target", "y", "--model", "logistic",
                       "--variant", "sgd", "--optimizer", optimizer, "--lr", repr(rate), "--epochs", "1",
                       "--l2", repr(args.alpha), "--no-standardize", "--device", "cpu", "--seed", str(seed),
                       "--save", saved]
            run = subprocess.run(command, capture_output=True, text=True)
            if run.returncode != 0:
                sys.exit(run.stderr)
            times.append(float(re.search(r"time:\s+([\d.]+) s", run.stdout).group(1)))
        model = json.load(open(saved))
        coef = np.array(model["weights"], dtype=np.float64).ravel()
        value = objective(x, y, args.alpha, float(np.ravel(model["bias"])[0]), coef)
        print(f"downhill fit --variant sgd --optimizer {optimizer}, one epoch: {min(times) * 1e3:.1f} ms fitting "
              f"(best of {rounds}), objective {value:.6g}; SGDClassifier / ours = {best[0] / min(times):.2f}")


if __name__ == "__main__":
    main()
