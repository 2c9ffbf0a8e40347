#!/usr/bin/env python3
"""PyTorch on CUDA, on the data `downhill bench --dump-data DIR` wrote: the
same plain SGD that downhill runs, timed per batch size; writes JSON.

    python3 benches/gpu/torch_peers.py --data DIR --rows N --features D
        [--model linear|logistic] [--batch-sizes 32,256,4096,65536,full]
        [--epochs 3] [--lr 0.001] [--seed 0] --json FILE

DIR holds x.f32 (N × D, row-major, little-endian float32) and y.f32 (N).
The loop is benches/peers/batch_peers.py's, on the GPU end to end
(docs/DESIGN.md's math):

- linear: loss mean (z − y)², step w -= lr (2/|B|) X_Bᵀ r, b -= lr (2/|B|) Σ r
- logistic: cross-entropy, step w -= lr (1/|B|) X_Bᵀ r, b -= lr (1/|B|) Σ r

with z = X_B w + b and r = h(z) − y; a mini-batch epoch takes a fresh
permutation (torch.randperm on the device), gathers each batch of rows with
index_select and steps; the last, shorter batch is used too. `full` is one
step on all rows per epoch. Each batch size first takes a few untimed steps
on throwaway weights (the first call of each kernel); then each epoch is
timed between two torch.cuda.synchronize() calls; samples/s = rows / median
epoch seconds. float32 throughout, TF32 off.

Where PyTorch is not importable or sees no CUDA device, nothing is timed: the
JSON says why under "skipped" and the script exits 0. It needs no NumPy.
"""
import argparse
import json
import math
import os
import platform
import statistics
import sys
import time


def skip(path, reason, detail):
    report = {"peer": "PyTorch", "skipped": reason, "detail": detail, "runs": []}
    with open(path, "w") as f:
        json.dump(report, f, indent=2)
    print(f"PyTorch peers skipped: {reason} ({detail})", file=sys.stderr)


def load(torch, path, count):
    """count float32 from a raw little-endian file, as a CPU tensor."""
    expected = 4 * count
    size = os.path.getsize(path)
    if size != expected:
        raise SystemExit(f"{path} has {size} bytes, expected {expected} ({count} float32)")
    buffer = bytearray(expected)
    with open(path, "rb") as f:
        view = memoryview(buffer)
        read = 0
        while read < expected:
            n = f.readinto(view[read:])
            if not n:
                raise SystemExit(f"{path}: short read at byte {read}")
            read += n
    if sys.byteorder != "little":
        raise SystemExit("the dumped data are little-endian float32; this machine is big-endian")
    return torch.frombuffer(buffer, dtype=torch.float32)


def sgd_epoch(torch, x, y, w, b, batch, logistic, lr, generator):
    """One epoch of plain SGD, in place on w and b (batch None: full batch)."""
    n = x.shape[0]
    scale = 1.0 if logistic else 2.0
    if batch is None:
        z = x @ w + b
        r = (torch.sigmoid(z) if logistic else z) - y
        w.sub_(lr * scale / n * (x.T @ r))
        b.sub_(lr * scale / n * r.sum())
        return
    order = torch.randperm(n, generator=generator, device=x.device)
    for start in range(0, n, batch):
        rows = order[start:start + batch]
        size = rows.shape[0]
        xb, yb = x.index_select(0, rows), y.index_select(0, rows)
        z = xb @ w + b
        r = (torch.sigmoid(z) if logistic else z) - yb
        w.sub_(lr * scale / size * (xb.T @ r))
        b.sub_(lr * scale / size * r.sum())


def full_loss(torch, x, y, w, b, logistic):
    """The loss over all rows (docs/DESIGN.md), after training, off the clock."""
    z = x @ w + b
    if logistic:
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
    else:
        loss = ((z - y) ** 2).mean()
    return float(loss)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder with x.f32 and y.f32")
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--features", type=int, required=True)
    parser.add_argument("--model", choices=["linear", "logistic"], default="linear")
    parser.add_argument("--batch-sizes", default="32,256,4096,65536,full")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.001)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", required=True, help="where to write the results")
    args = parser.parse_args()
    logistic = args.model == "logistic"
    batches = [b.strip() for b in args.batch_sizes.split(",") if b.strip()]
    for name in batches:
        if name != "full" and not (name.isdigit() and int(name) > 0):
            parser.error(f"batch size {name!r} is neither a positive number nor 'full'")
    if args.rows <= 0 or args.features <= 0 or args.epochs <= 0:
        parser.error("--rows, --features and --epochs must be positive")

    try:
        import torch
    except Exception as error:  # not installed, or a build whose libraries are missing
        skip(args.json, "no CUDA", f"PyTorch is not importable: {error}")
        return 0
    if not torch.cuda.is_available():
        skip(args.json, "no CUDA", f"PyTorch {torch.__version__} sees no CUDA device")
        return 0

    device = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    x_path, y_path = os.path.join(args.data, "x.f32"), os.path.join(args.data, "y.f32")
    x_host = load(torch, x_path, args.rows * args.features).view(args.rows, args.features)
    y_host = load(torch, y_path, args.rows)
    x = x_host.to(device)
    y = y_host.to(device)
    del x_host, y_host
    torch.cuda.synchronize()
    generator = torch.Generator(device=device)
    generator.manual_seed(args.seed)

    runs = []
    for name in batches:
        batch = None if name == "full" else int(name)
        steps = 1 if batch is None else math.ceil(args.rows / batch)
        # Off the clock, on throwaway weights: the first call of each kernel
        # (cuBLAS handles, randperm, index_select) is not the loop's cost.
        warm_w = torch.zeros(args.features, device=device, dtype=torch.float32)
        warm_b = torch.zeros((), device=device, dtype=torch.float32)
        warm_rows = args.rows if batch is None else min(args.rows, 4 * batch)
        sgd_epoch(torch, x[:warm_rows], y[:warm_rows], warm_w, warm_b, batch, logistic, args.lr, generator)
        torch.cuda.synchronize()
        w = torch.zeros(args.features, device=device, dtype=torch.float32)
        b = torch.zeros((), device=device, dtype=torch.float32)
        seconds = []
        for _ in range(args.epochs):
            torch.cuda.synchronize()
            start = time.perf_counter()
            sgd_epoch(torch, x, y, w, b, batch, logistic, args.lr, generator)
            torch.cuda.synchronize()
            seconds.append(time.perf_counter() - start)
        median = statistics.median(seconds)
        run = {
            "batch_size": name,
            "epochs": args.epochs,
            "steps_per_epoch": steps,
            "epoch_seconds": seconds,
            "median_epoch_seconds": median,
            "samples_per_s": args.rows / median,
            "steps_per_s": steps / median,
            "us_per_step": 1e6 * median / steps,
            "loss_after": full_loss(torch, x, y, w, b, logistic),
        }
        runs.append(run)
        print(f"PyTorch {args.model} batch {name}: {run['samples_per_s']:.4e} samples/s, "
              f"{run['us_per_step']:.2f} µs/step (median of {args.epochs} epochs)", file=sys.stderr)

    properties = torch.cuda.get_device_properties(device)
    report = {
        "peer": "PyTorch",
        "skipped": None,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device": torch.cuda.get_device_name(device),
        "device_memory_bytes": properties.total_memory,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "rows": args.rows,
        "features": args.features,
        "model": args.model,
        "lr": args.lr,
        "dtype": "float32, TF32 off",
        "timing": "median epoch, torch.cuda.synchronize() before and after each",
        "runs": runs,
    }
    with open(args.json, "w") as f:
        json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
