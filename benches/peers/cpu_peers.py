#!/usr/bin/env python3
"""Times downhill's CPU engine and its peers (NumPy, scikit-learn) on the same
data, in one run, on this machine, and prints a Markdown table of the ratios.

    pip install numpy scikit-learn
    python3 benches/peers/cpu_peers.py [--rows 1000000] [--features 64] [--repeats 5]

downhill's side runs as `cargo run --release --example cpu_throughput`, which
generates seeded synthetic data, writes it as raw little-endian f32 for this
script, and times itself. The peers then run on exactly those bytes.

What is timed (linear model, MSE with DESIGN.md's factor 2):
- full gradient: one evaluation of Xᵀ(Xw + b − y) over all rows; NumPy's
  `X.T @ (X @ w - y)` (two passes over X through OpenBLAS).
- mini-batch epoch: a fresh permutation, then for each batch of 32 or 256
  rows the gradient and an SGD update; NumPy as the usual hand-written loop
  (fancy-index gather, two matrix-vector products, update).
- SGD epoch: batch 1; scikit-learn's SGDRegressor(max_iter=1) with a
  constant learning rate and no penalty, given float64 data converted before
  the clock starts (it would otherwise copy X to float64 inside fit).
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time
import warnings

import numpy as np


def median_seconds(repeats, run):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def numpy_minibatch_epoch(X, y, batch, rng, lr=0.001):
    n, d = X.shape
    w = np.zeros(d, dtype=np.float32)
    b = np.float32(0.0)
    order = rng.permutation(n)
    for start in range(0, n, batch):
        idx = order[start:start + batch]
        Xb = X[idx]
        r = Xb @ w + b - y[idx]
        scale = np.float32(2.0 / len(idx))
        w -= lr * scale * (Xb.T @ r)
        b -= lr * scale * r.sum()
    return w, b


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data-dir", default=os.path.join(os.path.dirname(__file__), "data"))
    args = parser.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

    ours = json.loads(subprocess.run(
        ["cargo", "run", "--quiet", "--release", "--example", "cpu_throughput", "--",
         str(args.rows), str(args.features), str(args.repeats), args.data_dir],
        cwd=root, check=True, capture_output=True, text=True).stdout)

    n, d = args.rows, args.features
    X = np.fromfile(os.path.join(args.data_dir, "x.f32"), dtype="<f4").reshape(n, d)
    y = np.fromfile(os.path.join(args.data_dir, "y.f32"), dtype="<f4")
    w = np.full(d, 0.01, dtype=np.float32)
    rng = np.random.default_rng(0)

    peers = {}
    peers["full_gradient"] = median_seconds(args.repeats, lambda: X.T @ (X @ w - y))
    for batch in (32, 256):
        peers[f"epoch_batch_{batch}"] = median_seconds(
            min(args.repeats, 3), lambda: numpy_minibatch_epoch(X, y, batch, rng))
    from sklearn.linear_model import SGDRegressor
    X64, y64 = X.astype(np.float64), y.astype(np.float64)
    warnings.filterwarnings("ignore")  # max_iter=1 always "fails to converge"
    peers["epoch_batch_1"] = median_seconds(min(args.repeats, 3), lambda: SGDRegressor(
        max_iter=1, tol=None, penalty=None, learning_rate="constant", eta0=0.001,
        shuffle=True, random_state=0).fit(X64, y64))

    import sklearn
    rows = [
        ("one full-batch gradient", "full_gradient", f"NumPy {np.__version__} `X.T @ (X @ w - y)`"),
        ("one mini-batch epoch, batch 32", "epoch_batch_32", "NumPy loop"),
        ("one mini-batch epoch, batch 256", "epoch_batch_256", "NumPy loop"),
        ("one SGD epoch (batch 1)", "epoch_batch_1", f"scikit-learn {sklearn.__version__} SGDRegressor(max_iter=1)"),
    ]
    print(f"{n:,} × {d} f32, median of {args.repeats} (epochs: of {min(args.repeats, 3)}); "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"host read bandwidth {ours['read_bandwidth_gbs']:.1f} GB/s")
    print()
    print("| what | downhill (ms) | peer | peer (ms) | downhill is faster by |")
    print("|---|---:|---|---:|---:|")
    for label, key, peer in rows:
        print(f"| {label} | {ours[key] * 1e3:.1f} | {peer} | {peers[key] * 1e3:.1f} | "
              f"{peers[key] / ours[key]:.2f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
