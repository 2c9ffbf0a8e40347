#!/usr/bin/env python3
"""PyTorch on CUDA, on the data `downhill bench --dump-data DIR` wrote: the
same plain SGD that downhill runs, timed per batch size as downhill bench
times itself; writes JSON.

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
step on all rows per epoch. float32 throughout, TF32 off.

Two peers per batch size, each its own row in the JSON ("peer"):

- "torch": the loop above, eager: every step launches its kernels from
  Python;
- "torch cuda-graph", for mini-batches of at most 4096 rows: one step
  (forward z, the gradient Xᵀr and Σr that backpropagation would give for
  this loss, the SGD update of w and b) captured once in a
  torch.cuda.CUDAGraph over static batch tensors; each step fills them
  with index_select (out=) from the rows on the device and replays the
  graph. The last, shorter batch has a graph of its own. This takes the
  per-step launch cost of Python and PyTorch out of the loop.

Timing, as downhill bench's: the data are on the device before the clock
starts; each peer runs one untimed warm-up epoch and then --epochs timed
epochs on the same weights, each epoch between two torch.cuda.synchronize()
calls (the permutation included). Reported per run: the median timed epoch
(samples/s = rows / median, steps/s, µs per step = median / steps), the
timed epochs' total, GB/s of X (X's size / median epoch) and that as % of
the CUDA device-to-device copy bandwidth measured here: a 1 GiB tensor
copied into another, eight copies per timing, best of five, counted as
bytes read + bytes written per second (downhill's GpuContext::copy_bandwidth
convention).

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

# Untimed epochs before the timed ones, as downhill bench takes them.
WARM_UP_EPOCHS = 1
# The largest mini-batch the CUDA-graph peer runs: beyond it a step's work
# dwarfs its launches, which is what the graph removes.
GRAPH_MAX_BATCH = 4096
# The copy bandwidth's tensor: large enough that a copy's fixed cost is
# lost in it.
COPY_BYTES = 1 << 30
COPIES_PER_TIMING = 8
COPY_TIMINGS = 5


def skip(path, reason, detail):
    report = {"peer": "PyTorch", "skipped": reason, "detail": detail, "cuda_copy_gb_per_s": None, "runs": []}
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


def copy_bandwidth(torch, device):
    """Bytes read + bytes written per second copying a COPY_BYTES tensor
    into another on the device: COPIES_PER_TIMING copies back and forth per
    timing (CUDA events), the best of COPY_TIMINGS after one untimed round."""
    a = torch.empty(COPY_BYTES, dtype=torch.uint8, device=device)
    a.fill_(1)
    b = torch.empty_like(a)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    best = math.inf
    for timing in range(COPY_TIMINGS + 1):
        start.record()
        for copy in range(COPIES_PER_TIMING):
            if copy % 2 == 0:
                b.copy_(a)
            else:
                a.copy_(b)
        end.record()
        end.synchronize()
        if timing > 0:  # the first round pays for first touches
            best = min(best, start.elapsed_time(end) / 1e3)
    del a, b
    torch.cuda.empty_cache()
    return 2.0 * COPY_BYTES * COPIES_PER_TIMING / best


def sgd_step(torch, xb, yb, w, b, logistic, step_scale):
    """One SGD step on the rows xb, yb, in place on w and b; step_scale is
    lr × (2 or 1) / rows of the batch."""
    z = xb @ w + b
    r = (torch.sigmoid(z) if logistic else z) - yb
    w.sub_(step_scale * (xb.T @ r))
    b.sub_(step_scale * r.sum())


def sgd_epoch(torch, x, y, w, b, batch, logistic, lr, generator):
    """One epoch of plain SGD, in place on w and b (batch None: full batch)."""
    n = x.shape[0]
    scale = 1.0 if logistic else 2.0
    if batch is None:
        sgd_step(torch, x, y, w, b, logistic, lr * scale / n)
        return
    order = torch.randperm(n, generator=generator, device=x.device)
    for start in range(0, n, batch):
        rows = order[start:start + batch]
        size = rows.shape[0]
        sgd_step(torch, x.index_select(0, rows), y.index_select(0, rows), w, b, logistic, lr * scale / size)


class GraphStep:
    """One SGD step on `size` rows captured in a CUDA graph over static
    batch tensors, updating w and b in place when replayed."""

    def __init__(self, torch, size, features, w, b, logistic, lr):
        device = w.device
        self.x = torch.zeros(size, features, device=device, dtype=torch.float32)
        self.y = torch.zeros(size, device=device, dtype=torch.float32)
        step_scale = lr * (1.0 if logistic else 2.0) / size
        # Capture records without running, but PyTorch wants the step run
        # a few times on a side stream first (allocator, cuBLAS
        # workspaces); those runs move w and b, which are put back after.
        saved_w, saved_b = w.clone(), b.clone()
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):
                sgd_step(torch, self.x, self.y, w, b, logistic, step_scale)
        torch.cuda.current_stream().wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            sgd_step(torch, self.x, self.y, w, b, logistic, step_scale)
        w.copy_(saved_w)
        b.copy_(saved_b)
        torch.cuda.synchronize()

    def run(self, torch, x, y, rows):
        """Gathers `rows` of x and y into the static batch, then the step."""
        torch.index_select(x, 0, rows, out=self.x)
        torch.index_select(y, 0, rows, out=self.y)
        self.graph.replay()


def graph_epoch(torch, x, y, steps, batch, generator):
    """One mini-batch epoch of replayed steps: steps[size] is the GraphStep
    for a batch of `size` rows."""
    n = x.shape[0]
    order = torch.randperm(n, generator=generator, device=x.device)
    for start in range(0, n, batch):
        rows = order[start:start + batch]
        steps[rows.shape[0]].run(torch, x, y, rows)


def full_loss(torch, x, y, w, b, logistic):
    """The loss over all rows (docs/DESIGN.md), after training, off the clock."""
    z = x @ w + b
    if logistic:
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
    else:
        loss = ((z - y) ** 2).mean()
    return float(loss)


def timed_epochs(torch, epochs, run_epoch):
    """Seconds of each epoch of WARM_UP_EPOCHS + epochs, each between two
    synchronizations."""
    seconds = []
    for _ in range(WARM_UP_EPOCHS + epochs):
        torch.cuda.synchronize()
        start = time.perf_counter()
        run_epoch()
        torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
    return seconds


def statistics_of(peer, name, seconds, steps, rows, x_bytes, copy_gb_per_s):
    """A run's figures from its epochs' seconds, the warm-up left out."""
    warm_up, timed = seconds[:WARM_UP_EPOCHS], seconds[WARM_UP_EPOCHS:]
    median = statistics.median(timed)
    gb_per_s = x_bytes / median / 1e9
    return {
        "peer": peer,
        "batch_size": name,
        "epochs": len(timed),
        "warmup_epochs": WARM_UP_EPOCHS,
        "steps_per_epoch": steps,
        "warmup_epoch_seconds": warm_up,
        "epoch_seconds": timed,
        "median_epoch_seconds": median,
        "seconds": sum(timed),
        "samples_per_s": rows / median,
        "steps_per_s": steps / median,
        "us_per_step": 1e6 * median / steps,
        "gb_per_s": gb_per_s,
        "percent_of_cuda_copy": 100.0 * gb_per_s / copy_gb_per_s if copy_gb_per_s else None,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder with x.f32 and y.f32")
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--features", type=int, required=True)
    parser.add_argument("--model", choices=["linear", "logistic"], default="linear")
    parser.add_argument("--batch-sizes", default="32,256,4096,65536,full")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs, after one warm-up epoch")
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
    # Before X is on the device, so that the two 1 GiB tensors fit.
    copy_gb_per_s = copy_bandwidth(torch, device) / 1e9
    print(f"CUDA device-to-device copy: {copy_gb_per_s:.1f} GB/s (read + write)", file=sys.stderr)
    x_path, y_path = os.path.join(args.data, "x.f32"), os.path.join(args.data, "y.f32")
    x_host = load(torch, x_path, args.rows * args.features).view(args.rows, args.features)
    y_host = load(torch, y_path, args.rows)
    x = x_host.to(device)
    y = y_host.to(device)
    del x_host, y_host
    torch.cuda.synchronize()
    x_bytes = 4 * args.rows * args.features
    generator = torch.Generator(device=device)
    generator.manual_seed(args.seed)

    runs = []
    for name in batches:
        batch = None if name == "full" else min(int(name), args.rows)
        steps = 1 if batch is None else math.ceil(args.rows / batch)
        peers = ["torch"]
        if batch is not None and batch <= GRAPH_MAX_BATCH:
            peers.append("torch cuda-graph")
        for peer in peers:
            w = torch.zeros(args.features, device=device, dtype=torch.float32)
            b = torch.zeros((), device=device, dtype=torch.float32)
            if peer == "torch":
                def run_epoch():
                    sgd_epoch(torch, x, y, w, b, batch, logistic, args.lr, generator)
            else:
                # One graph per batch length of an epoch: the full batches'
                # and the last, shorter one's. Built off the clock.
                lengths = {batch, args.rows - (steps - 1) * batch}
                graphs = {size: GraphStep(torch, size, args.features, w, b, logistic, args.lr)
                          for size in lengths}

                def run_epoch():
                    graph_epoch(torch, x, y, graphs, batch, generator)
            seconds = timed_epochs(torch, args.epochs, run_epoch)
            run = statistics_of(peer, name, seconds, steps, args.rows, x_bytes, copy_gb_per_s)
            run["loss_after"] = full_loss(torch, x, y, w, b, logistic)
            runs.append(run)
            print(f"{peer} {args.model} batch {name}: {run['samples_per_s']:.4e} samples/s, "
                  f"{run['us_per_step']:.2f} µs/step, {run['percent_of_cuda_copy']:.1f}% of CUDA copy "
                  f"(median of {args.epochs} epochs after {WARM_UP_EPOCHS} warm-up)", file=sys.stderr)
            # A graph holds its own memory pool until it is freed, and the
            # closure holds the graphs.
            del run_epoch
            if peer != "torch":
                del graphs

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
        "x_bytes": x_bytes,
        "model": args.model,
        "lr": args.lr,
        "dtype": "float32, TF32 off",
        "timing": (f"{WARM_UP_EPOCHS} untimed warm-up epoch, then the timed epochs, each between two "
                   "torch.cuda.synchronize() calls, the data on the device before; rates from the median "
                   "timed epoch"),
        "cuda_copy_gb_per_s": copy_gb_per_s,
        "cuda_copy": (f"{COPY_BYTES} bytes copied into another tensor, {COPIES_PER_TIMING} copies per "
                      f"timing, best of {COPY_TIMINGS}; bytes read + written per second"),
        "graph_max_batch": GRAPH_MAX_BATCH,
        "runs": runs,
    }
    with open(args.json, "w") as f:
        json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
