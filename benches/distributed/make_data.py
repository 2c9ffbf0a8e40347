"""Seeded synthetic rows for the data-parallel scaling benchmark, written
block by block into .npy files (X float32 rows × features, y float32), so
that 10,000,000 × 64 (2.56 GB of X) never sits in memory twice.

    python3 benches/distributed/make_data.py --rows 10000000 --features 64 --out /tmp/downhill-scaling

y = X·w + 0.5 + noise(0.1), w uniform in [-2, 2], X standard normal.
"""
import argparse
import os

import numpy as np


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--out", default="/tmp/downhill-scaling")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    n, d = args.rows, args.features
    rng = np.random.default_rng(13)
    w = rng.uniform(-2, 2, size=d).astype(np.float32)
    x = np.lib.format.open_memmap(os.path.join(args.out, "x.npy"), mode="w+", dtype=np.float32, shape=(n, d))
    y = np.lib.format.open_memmap(os.path.join(args.out, "y.npy"), mode="w+", dtype=np.float32, shape=(n,))
    block = 1 << 18
    for start in range(0, n, block):
        rows = min(block, n - start)
        xb = rng.standard_normal((rows, d), dtype=np.float32)
        x[start : start + rows] = xb
        y[start : start + rows] = xb @ w + 0.5 + 0.1 * rng.standard_normal(rows, dtype=np.float32)
    x.flush()
    y.flush()
    print(f"wrote {n} x {d} to {args.out}")


if __name__ == "__main__":
    main()
