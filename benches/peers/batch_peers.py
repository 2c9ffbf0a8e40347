#!/usr/bin/env python3
"""Throughput across batch sizes: downhill against NumPy, scikit-learn and
PyTorch on the same generated data, in one run, on this machine; prints a
Markdown table per batch size with samples/s and ratios.

    pip install numpy scikit-learn [torch]
    python3 benches/peers/batch_peers.py [--rows 1000000] [--features 64]
        [--model linear|logistic] [--batch-sizes 32,256,4096,65536,full]
        [--epochs 3] [--device cpu,gpu] [--shuffle rows,blocks:4096]

downhill's side is `downhill bench` (cargo run --release -- bench ...): it
generates the seeded data, times itself, writes its results as JSON and the
data as raw little-endian f32, on which the peers then run:

- NumPy: the full-batch gradient `X.T @ (h(X @ w + b) - y)` and the usual
  hand-written mini-batch loop (fresh permutation per epoch, fancy-index
  gather, two matrix-vector products, SGD update), float32;
- scikit-learn: SGDRegressor (linear) or SGDClassifier(loss="log_loss")
  (logistic) for one epoch (max_iter=1), its own batch of 1, on float64
  data converted before the clock starts;
- PyTorch, where importable: the same full-batch gradient and mini-batch
  loop as NumPy's, on CUDA where present (timed with synchronize), else on
  the CPU.

Every peer runs the same epochs as downhill and the median epoch counts.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

LR = 0.001


def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def epoch_seconds(epochs, run):
    times = []
    for epoch in range(epochs):
        start = time.perf_counter()
        run(epoch)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def numpy_epoch(x, y, batch, logistic, rng, state):
    n = x.shape[0]
    w, b = state
    scale = np.float32(1.0 if logistic else 2.0)
    if batch is None:
        z = x @ w + b
        r = (sigmoid(z) if logistic else z) - y
        g = x.T @ r
        w -= np.float32(LR) * scale / n * g
        b -= np.float32(LR) * scale / n * r.sum()
        return w, b
    order = rng.permutation(n)
    for start in range(0, n, batch):
        rows = order[start:start + batch]
        xb, yb = x[rows], y[rows]
        z = xb @ w + b
        r = (sigmoid(z) if logistic else z) - yb
        w -= np.float32(LR) * scale / len(rows) * (xb.T @ r)
        b -= np.float32(LR) * scale / len(rows) * r.sum()
    return w, b


def torch_epoch(torch, x, y, batch, logistic, generator, state, device):
    n = x.shape[0]
    w, b = state
    scale = 1.0 if logistic else 2.0
    if batch is None:
        z = x @ w + b
        r = (torch.sigmoid(z) if logistic else z) - y
        w -= LR * scale / n * (x.T @ r)
        b -= LR * scale / n * r.sum()
        return w, b
    order = torch.randperm(n, generator=generator, device="cpu").to(device)
    for start in range(0, n, batch):
        rows = order[start:start + batch]
        xb, yb = x.index_select(0, rows), y.index_select(0, rows)
        z = xb @ w + b
        r = (torch.sigmoid(z) if logistic else z) - yb
        w -= LR * scale / len(rows) * (xb.T @ r)
        b -= LR * scale / len(rows) * r.sum()
    return w, b


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--model", choices=["linear", "logistic"], default="linear")
    parser.add_argument("--batch-sizes", default="32,256,4096,65536,full")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="cpu,gpu")
    parser.add_argument("--shuffle", default="rows",
                        help="downhill's row orders of the mini-batch runs (one run each)")
    args = parser.parse_args()
    logistic = args.model == "logistic"
    batches = args.batch_sizes.split(",")

    with tempfile.TemporaryDirectory() as folder:
        report_path = os.path.join(folder, "downhill.json")
        subprocess.run(
            ["cargo", "run", "--quiet", "--release", "--", "bench",
             "--rows", str(args.rows), "--features", str(args.features), "--model", args.model,
             "--batch-sizes", args.batch_sizes, "--epochs", str(args.epochs), "--device", args.device,
             "--shuffle", args.shuffle, "--lr", str(LR), "--json", report_path, "--dump-data", folder],
            check=True, stdout=sys.stderr)
        with open(report_path) as f:
            report = json.load(f)
        x = np.fromfile(os.path.join(folder, "x.f32"), dtype="<f4").reshape(args.rows, args.features)
        y = np.fromfile(os.path.join(folder, "y.f32"), dtype="<f4")

    # (device, batch) -> [(shuffle, samples/s)]
    ours = {}
    for r in report["runs"]:
        if r["error"] is None:
            ours.setdefault((r["device"], r["batch_size"]), []).append((r.get("shuffle", "rows"), r["samples_per_s"]))
    peers = {}  # (peer, batch) -> samples/s
    rng = np.random.default_rng(0)
    for name in batches:
        batch = None if name == "full" else int(name)
        state = (np.zeros(args.features, dtype=np.float32), np.float32(0.0))

        def run(_epoch):
            nonlocal state
            state = numpy_epoch(x, y, batch, logistic, rng, state)

        peers[("NumPy " + np.__version__, name)] = args.rows / epoch_seconds(args.epochs, run)
        print(f"NumPy batch {name} done", file=sys.stderr)

    try:
        import sklearn
        from sklearn.linear_model import SGDClassifier, SGDRegressor
        x64, y64 = x.astype(np.float64), y.astype(np.float64)
        if logistic:
            estimator = SGDClassifier(loss="log_loss", max_iter=1, tol=None, learning_rate="constant",
                                      eta0=LR, penalty=None, shuffle=True, random_state=0)
        else:
            estimator = SGDRegressor(max_iter=1, tol=None, learning_rate="constant", eta0=LR,
                                     penalty=None, shuffle=True, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            seconds = epoch_seconds(args.epochs, lambda _e: estimator.fit(x64, y64))
        peers[(f"scikit-learn {sklearn.__version__} {type(estimator).__name__}", "1")] = args.rows / seconds
    except ImportError:
        print("scikit-learn is not installed: skipped", file=sys.stderr)

    try:
        import torch
    except Exception as error:  # not installed, or a CUDA build without its libraries
        torch = None
        print(f"PyTorch unavailable ({error}): skipped", file=sys.stderr)
    if torch is not None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
        xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
        generator = torch.Generator().manual_seed(0)
        for name in batches:
            batch = None if name == "full" else int(name)
            state = (torch.zeros(args.features, device=device), torch.zeros((), device=device))

            def run(_epoch):
                nonlocal state
                state = torch_epoch(torch, xt, yt, batch, logistic, generator, state, device)
                if device == "cuda":
                    torch.cuda.synchronize()

            peers[(f"PyTorch {torch.__version__} ({device})", name)] = args.rows / epoch_seconds(args.epochs, run)
            print(f"PyTorch batch {name} done", file=sys.stderr)

    machine = report["machine"]
    print(f"{args.rows:,} × {args.features} f32, {args.model}, SGD lr {LR}, median of {args.epochs} epochs; "
          f"{machine['cpu_model']}, {machine['cpu_cores']} cores, host read {machine['host_read_gb_per_s']:.1f} GB/s; "
          f"{platform.python_implementation()} {platform.python_version()}")
    if machine.get("gpu"):
        gpu = machine["gpu"]
        print(f"GPU: {gpu['adapter']} ({gpu['backend']}, {gpu['device_type']}), copy {gpu['copy_gb_per_s']:.1f} GB/s")
    print()
    print("| batch | downhill device | downhill shuffle | downhill samples/s | peer | peer samples/s | downhill ÷ peer |")
    print("|---|---|---|---:|---|---:|---:|")
    devices = [d for d in args.device.split(",")]
    for name in batches + (["1"] if "1" not in batches else []):
        for (peer, peer_batch), peer_rate in peers.items():
            if peer_batch != name:
                continue
            peer_on_gpu = "(cuda)" in peer
            for device in devices:
                if (device == "gpu") != peer_on_gpu:
                    continue
                runs = ours.get((device, name))
                if not runs:
                    print(f"| {name} | {device} | | not run | {peer} | {peer_rate:.3e} | |")
                for shuffle, rate in runs or []:
                    print(f"| {name} | {device} | {shuffle} | {rate:.3e} | {peer} | {peer_rate:.3e} | "
                          f"{rate / peer_rate:.2f}× |")


if __name__ == "__main__":
    main()
