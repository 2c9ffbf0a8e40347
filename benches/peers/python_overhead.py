"""The Python package against the Rust library and against scikit-learn, in
one run on one machine (issue 26).

    cargo build --release --example python_overhead
    python3 -m venv venv && venv/bin/pip install "./python[test]"
    venv/bin/python benches/peers/python_overhead.py [--rows 1000000] [--features 64]

1. Overhead: the Rust example `python_overhead` writes seeded rows
   (1,000,000 x 64 float32) and times `GradientDescent::fit` on them
   (mini-batches of 256, plain SGD, 5 epochs); this script times
   `downhill.SGDRegressor(...).fit` with the same settings on the same
   bytes, alternating with the Rust runs, and checks that both found the
   same weights bit for bit. Overhead = Python / Rust - 1 (medians).
2. One SGD epoch (batch 1, constant rate, no penalty): downhill's
   `SGDRegressor(max_iter=1)` against scikit-learn's on the same rows.
3. L2 logistic regression to its optimum (lbfgs, C = 1): downhill's
   `LogisticRegression` against scikit-learn's (tol 1e-8) on seeded rows
   of the same shape (300,000 rows by default), objectives compared in
   float64.
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

import numpy as np
import sklearn
import sklearn.linear_model as sk

import downhill

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def rust_runs(args, folder, repeats):
    binary = os.path.join(ROOT, "target", "release", "examples", "python_overhead")
    command = [binary, str(args.rows), str(args.features), str(args.epochs), str(repeats), folder]
    run = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(run.stdout)


def median(values):
    return float(np.median(values))


def logistic_objective(x, y, coef, intercept, C):
    z = x @ np.ravel(coef) + float(np.ravel(intercept)[0])
    s = 2.0 * y - 1.0
    return C * np.logaddexp(0.0, -s * z).sum() + 0.5 * float(np.ravel(coef) @ np.ravel(coef))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--logistic-rows", type=int, default=300_000)
    args = parser.parse_args()
    print(f"machine: {os.uname().machine}, {os.cpu_count()} cores; downhill (Python) and scikit-learn "
          f"{sklearn.__version__}, NumPy {np.__version__}")
    with tempfile.TemporaryDirectory() as folder:
        first = rust_runs(args, folder, 1)
        x = np.fromfile(os.path.join(folder, "x.f32"), dtype=np.float32).reshape(args.rows, args.features)
        y = np.fromfile(os.path.join(folder, "y.f32"), dtype=np.float32)
        model = downhill.SGDRegressor(penalty=None, learning_rate="constant", eta0=0.002, tol=None,
                                      max_iter=args.epochs, batch_size=256, random_state=1)
        rust, python = [], []
        for _ in range(args.rounds):
            rust += rust_runs(args, folder, 1)["seconds"]
            start = time.perf_counter()
            model.fit(x, y)
            python.append(time.perf_counter() - start)
        same = np.array_equal(model.coef_.astype(np.float32), np.asarray(first["weights"], dtype=np.float32))
        print(f"\n1. {args.rows} x {args.features}, batches of 256, {args.epochs} epochs, {args.rounds} rounds:")
        print(f"   Rust GradientDescent::fit: median {median(rust):.3f} s  {['%.3f' % t for t in rust]}")
        print(f"   Python SGDRegressor.fit:   median {median(python):.3f} s  {['%.3f' % t for t in python]}")
        print(f"   overhead {100 * (median(python) / median(rust) - 1):+.1f}%; the same weights bit for bit: {same}")

        ours, theirs = [], []
        for seed in range(3):
            mine = downhill.SGDRegressor(penalty=None, learning_rate="constant", eta0=0.001, tol=None,
                                         max_iter=1, random_state=seed)
            start = time.perf_counter()
            mine.fit(x, y)
            ours.append(time.perf_counter() - start)
            peer = sk.SGDRegressor(penalty=None, learning_rate="constant", eta0=0.001, tol=None,
                                   max_iter=1, random_state=seed)
            start = time.perf_counter()
            peer.fit(x, y)
            theirs.append(time.perf_counter() - start)
        print(f"\n2. one SGD epoch (batch 1) on {args.rows} x {args.features}, best of 3:")
        print(f"   downhill {min(ours) * 1e3:.0f} ms (R^2 {mine.score(x, y):.4f}), scikit-learn "
              f"{min(theirs) * 1e3:.0f} ms (R^2 {peer.score(x, y):.4f}): {min(theirs) / min(ours):.2f}x")
        del x, y

    rng = np.random.default_rng(5)
    n, d = args.logistic_rows, args.features
    x = (rng.normal(size=(n, d)) * rng.uniform(0.5, 2.0, d)).astype(np.float32)
    y = (rng.random(n) < 1 / (1 + np.exp(-(x @ rng.normal(size=d) * 0.3)))).astype(np.int64)
    x64 = x.astype(np.float64)
    start = time.perf_counter()
    mine = downhill.LogisticRegression(C=1.0, max_iter=1000).fit(x, y)
    ours = time.perf_counter() - start
    start = time.perf_counter()
    peer = sk.LogisticRegression(C=1.0, tol=1e-8, max_iter=10000).fit(x64, y)
    theirs = time.perf_counter() - start
    found = logistic_objective(x64, y, mine.coef_, mine.intercept_, 1.0)
    expected = logistic_objective(x64, y, peer.coef_, peer.intercept_, 1.0)
    print(f"\n3. L2 logistic regression to the optimum, {n} x {d}:")
    print(f"   downhill {ours:.2f} s ({mine.n_iter_} iterations), scikit-learn {theirs:.2f} s "
          f"({int(np.max(peer.n_iter_))} iterations): {theirs / ours:.1f}x; objective relative "
          f"difference {(found - expected) / expected:+.1e}")


if __name__ == "__main__":
    main()
