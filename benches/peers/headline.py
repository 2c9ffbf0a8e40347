#!/usr/bin/env python3
"""The headline workload, in one run on this machine: a HIGGS-shaped table
(11,000,000 rows × 28 float32 features on mixed scales, a 0/1 label) as a
Parquet file, fitted to the optimum of an L2-penalized logistic regression
by `downhill fit` from the file, and by scikit-learn on the same rows held
in memory. Prints a Markdown table; both objectives are evaluated here in
float64 at the parameters each returned.

    python3 -m venv venv && venv/bin/pip install numpy pyarrow scikit-learn
    cargo build --release
    venv/bin/python benches/peers/headline.py [--rows 11000000] [--features 28] [--model logistic|linear]

The objective (this crate's, --no-standardize, intercept unpenalized):
- logistic: (1/n) Σ log(1 + e^−s z) + (l2/2) |w|², which is scikit-learn's
  LogisticRegression with C = 1 / (l2 n);
- linear: (1/n) Σ (z − y)² + (l2/2) |w|², which is Ridge with
  alpha = l2 n / 2 (LinearRegression where l2 = 0).

What is timed:
- downhill: `downhill fit --data FILE.parquet --solver lbfgs --no-standardize
  --device cpu`, the whole process (the file's read included), with its peak
  resident memory from /usr/bin/time (GNU time, Debian's `time` package);
- scikit-learn: `fit` alone, on float64 arrays converted before the clock
  starts (the read of the file is not counted on its side):
  LogisticRegression(solver="lbfgs", tol=--sk-tol) and SGDClassifier(
  loss="log_loss", alpha=l2) for the logistic model; Ridge (or
  LinearRegression) and SGDRegressor(alpha=l2 / 2) for the linear one
  (SGDRegressor halves the squared error, so its alpha halves too). The
  SGD estimators run with their defaults: they stop short of the optimum,
  which their objective shows.
"""
import argparse
import json
import os
import platform
import re
import subprocess
import tempfile
import time

import numpy as np


def write_table(path, rows, features, model, seed):
    """Seeded rows, written block by block as row groups of a Parquet file;
    returns X (float32) and y as NumPy arrays."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    scales = 10.0 ** rng.uniform(-1.0, 1.0, size=features)
    offsets = rng.normal(size=features) * scales
    true_w = rng.normal(size=features) / scales / np.sqrt(features)
    x = np.empty((rows, features), dtype=np.float32)
    y = np.empty(rows, dtype=np.float32)
    names = [f"f{j}" for j in range(features)]
    block = 1_000_000
    writer = None
    for start in range(0, rows, block):
        n = min(block, rows - start)
        xb = (rng.normal(size=(n, features)) * scales + offsets).astype(np.float32)
        z = (xb.astype(np.float64) - offsets) @ true_w + 0.25
        if model == "logistic":
            yb = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))).astype(np.int8)
        else:
            yb = (z + 0.5 * rng.normal(size=n)).astype(np.float32)
        x[start:start + n] = xb
        y[start:start + n] = yb
        columns = [pa.array(xb[:, j]) for j in range(features)] + [pa.array(yb)]
        table = pa.Table.from_arrays(columns, names=names + ["label"])
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=block)
    writer.close()
    return x, y


def objective(x, y, w, b, l2, model):
    z = x @ w + b
    if model == "logistic":
        data = np.mean(np.logaddexp(0.0, z) - y * z)
    else:
        data = np.mean((z - y) ** 2)
    return float(data + 0.5 * l2 * (w @ w))


def timed_downhill(binary, path, model, l2, folder):
    saved = os.path.join(folder, "model.json")
    command = ["/usr/bin/time", "-v", binary, "fit", "--data", path, "--target", "label", "--model", model,
               "--solver", "lbfgs", "--l2", str(l2), "--no-standardize", "--device", "cpu", "--save", saved]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"downhill failed:\n{done.stdout}\n{done.stderr}")
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    with open(saved) as f:
        fitted = json.load(f)
    w = np.array(fitted["weights"], dtype=np.float64)
    b = float(np.array(fitted["bias"], dtype=np.float64).reshape(-1)[0])
    return seconds, peak_kb * 1024, w, b, fitted.get("gradient_evaluations"), done.stdout


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=11_000_000)
    parser.add_argument("--features", type=int, default=28)
    parser.add_argument("--model", choices=["logistic", "linear"], default="logistic")
    parser.add_argument("--l2", type=float, default=1e-4)
    parser.add_argument("--sk-tol", type=float, default=1e-8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--binary", default="target/release/downhill")
    parser.add_argument("--skip-sgd", action="store_true")
    parser.add_argument("--folder", default=None, help="where the Parquet file goes (default: a temporary folder)")
    args = parser.parse_args()
    n, d, l2, model = args.rows, args.features, args.l2, args.model

    folder = args.folder or tempfile.mkdtemp(prefix="downhill-headline-")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"table-{n}x{d}-{model}.parquet")
    started = time.perf_counter()
    x32, y = write_table(path, n, d, model, args.seed)
    print(f"wrote {path} ({os.path.getsize(path) / 1e9:.2f} GB) in {time.perf_counter() - started:.1f} s")
    matrix_bytes = x32.nbytes

    ours_seconds, ours_peak, w, b, passes, _ = timed_downhill(args.binary, path, model, l2, folder)
    x = x32.astype(np.float64)
    del x32
    y64 = y.astype(np.float64)
    ours = objective(x, y64, w, b, l2, model)

    rows = []
    import sklearn
    from sklearn.linear_model import (LinearRegression, LogisticRegression, Ridge, SGDClassifier,
                                      SGDRegressor)

    if model == "logistic":
        peers = [("LogisticRegression(lbfgs, tol=%g)" % args.sk_tol,
                  LogisticRegression(C=1.0 / (l2 * n), solver="lbfgs", tol=args.sk_tol, max_iter=10_000))]
        if not args.skip_sgd:
            peers.append(("SGDClassifier(log_loss)", SGDClassifier(loss="log_loss", alpha=l2, random_state=0)))
    else:
        batch = Ridge(alpha=l2 * n / 2.0) if l2 > 0 else LinearRegression()
        peers = [(type(batch).__name__, batch)]
        if not args.skip_sgd:
            # SGDRegressor's loss is half the squared error: alpha halves too.
            peers.append(("SGDRegressor", SGDRegressor(alpha=l2 / 2.0, random_state=0)))
    for name, estimator in peers:
        start = time.perf_counter()
        estimator.fit(x, y64 if model == "linear" else y.astype(np.int64))
        seconds = time.perf_counter() - start
        coef = np.asarray(estimator.coef_, dtype=np.float64).reshape(-1)
        intercept = float(np.asarray(estimator.intercept_).reshape(-1)[0])
        iterations = np.asarray(getattr(estimator, "n_iter_", [np.nan])).reshape(-1)[0]
        rows.append((name, seconds, objective(x, y64, coef, intercept, l2, model), iterations))

    best = min(value for _, _, value, _ in rows)
    print()
    print(f"{n:,} rows × {d} features, {model}, l2 {l2:g}; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores; scikit-learn {sklearn.__version__}, NumPy {np.__version__}")
    print()
    print("| fit | wall (s) | objective | relative to the best peer | iterations / passes | peak memory |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| downhill fit (read included) | {ours_seconds:.1f} | {ours:.12g} | {(ours - best) / abs(best):+.1e} "
          f"| {passes} passes | {ours_peak / 1e9:.2f} GB ({ours_peak / matrix_bytes:.2f}× the float32 matrix) |")
    for name, seconds, value, iterations in rows:
        print(f"| scikit-learn {name} (fit only, in memory) | {seconds:.1f} | {value:.12g} "
              f"| {(value - best) / abs(best):+.1e} | {iterations} iterations | — |")
    print()
    lbfgs_seconds = rows[0][1]
    print(f"downhill is {lbfgs_seconds / ours_seconds:.2f}× faster than scikit-learn's {rows[0][0]} "
          f"(its read included, theirs not)")


if __name__ == "__main__":
    main()
