#!/usr/bin/env python3
"""L-BFGS against full-batch gradient descent and scikit-learn's `lbfgs`
solver, on the same data in one run on this machine: time and gradient
evaluations to the same objective value. Prints a Markdown table.

    pip install numpy scikit-learn
    cargo build --release
    python3 benches/peers/lbfgs_peers.py [--rows 100000] [--features 16] [--classes 2] [--device cpu]

The data: seeded logistic data, float32, the features on raw scales from
0.1 to 10 (ill-conditioned, as real tables are before standardization),
written as x.npy / y.npy. The objective: (1/n) Σ log-loss + (alpha/2)|w|²,
the intercept unpenalized, which is scikit-learn's LogisticRegression with
C = 1 / (alpha n). With --classes K > 2, the labels are K classes drawn
from a softmax of K random directions, and the objective is the
multinomial's: (1/n) Σ (log Σₖ e^(zₖ) − z_y) + (alpha/2)‖W‖²
(LogisticRegression's multinomial). Every solver's objective is evaluated
here in float64 at the parameters it returns.

- scikit-learn: LogisticRegression(solver="lbfgs", tol=1e-10) on float64
  data converted before the clock starts; its gradient evaluations are
  counted by wrapping LinearModelLoss.loss_gradient, which SciPy's L-BFGS-B
  calls once per evaluation.
- downhill L-BFGS: `downhill fit --solver lbfgs --no-standardize`; the time
  is the fit's own (the history's last record), the evaluations the saved
  model's `gradient_evaluations`.
- downhill gradient descent: the CLI's defaults (full batch, Nesterov at
  the automatic rate and momentum), `--no-standardize`, up to --epochs;
  its time and epochs are those of the first epoch whose loss (taken at
  the epoch's start) is within 1e-6 of scikit-learn's objective.
"""
import argparse
import json
import os
import platform
import subprocess
import tempfile
import time

import numpy as np


def objective(x, y, w, b, alpha):
    """w: features (two classes) or features × K; b: a number or K."""
    z = x @ w + b
    if w.ndim == 1:
        return float(np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * alpha * (w @ w))
    largest = z.max(axis=1, keepdims=True)
    log_sum = largest[:, 0] + np.log(np.exp(z - largest).sum(axis=1))
    losses = log_sum - z[np.arange(len(y)), y.astype(int)]
    return float(np.mean(losses) + 0.5 * alpha * (w ** 2).sum())


def parameters(saved):
    """The weights and the bias of a saved model, as `objective` takes them."""
    return np.array(saved["weights"], dtype=np.float64), np.array(saved["bias"], dtype=np.float64)


def run_downhill(binary, folder, extra, device):
    model = os.path.join(folder, "model.json")
    command = [binary, "fit", "--data", os.path.join(folder, "x.npy"), "--target", os.path.join(folder, "y.npy"),
               "--model", "logistic", "--no-standardize", "--device", device, "--save", model] + extra
    subprocess.run(command, check=True, capture_output=True, text=True)
    with open(model) as f:
        return json.load(f)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--alpha", type=float, default=1e-4)
    parser.add_argument("--epochs", type=int, default=20_000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--classes", type=int, default=2)
    parser.add_argument("--binary", default="target/release/downhill")
    args = parser.parse_args()
    n, d, alpha, k = args.rows, args.features, args.alpha, args.classes

    rng = np.random.default_rng(42)
    scales = np.geomspace(0.1, 10.0, d)
    x = (rng.normal(0.0, 1.0, (n, d)) * scales).astype(np.float32)
    if k == 2:
        truth = rng.normal(0.0, 1.0, d) / scales
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(x.astype(np.float64) @ truth - 0.5)))).astype(np.float32)
    else:
        truth = rng.normal(0.0, 1.0, (d, k)) / scales[:, None]
        z = x.astype(np.float64) @ truth
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        y = (p.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1).astype(np.float32)
    folder = tempfile.mkdtemp(prefix="downhill-lbfgs-")
    np.save(os.path.join(folder, "x.npy"), x)
    np.save(os.path.join(folder, "y.npy"), y)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)

    from sklearn.linear_model import LogisticRegression
    from sklearn.linear_model import _linear_loss
    import sklearn

    counted = {"evaluations": 0}
    original = _linear_loss.LinearModelLoss.loss_gradient

    def counting(self, *a, **k):
        counted["evaluations"] += 1
        return original(self, *a, **k)

    _linear_loss.LinearModelLoss.loss_gradient = counting
    model = LogisticRegression(C=1.0 / (alpha * n), solver="lbfgs", tol=1e-10, max_iter=100_000)
    start = time.perf_counter()
    model.fit(x64, y64)
    sk_seconds = time.perf_counter() - start
    _linear_loss.LinearModelLoss.loss_gradient = original
    if k == 2:
        sk_objective = objective(x64, y64, model.coef_[0], model.intercept_[0], alpha)
    else:
        sk_objective = objective(x64, y64, model.coef_.T, model.intercept_, alpha)
    rows = [("scikit-learn lbfgs (float64)", sk_seconds, int(model.n_iter_[0]), counted["evaluations"], sk_objective)]

    saved = run_downhill(args.binary, folder, ["--solver", "lbfgs", "--penalty", "l2", "--alpha", str(alpha)], args.device)
    w, b = parameters(saved)
    rows.append(("downhill L-BFGS", saved["history"][-1]["seconds"], len(saved["history"]),
                 saved["gradient_evaluations"], objective(x64, y64, w, b, alpha)))

    saved = run_downhill(args.binary, folder, ["--penalty", "l2", "--alpha", str(alpha), "--epochs", str(args.epochs),
                                               "--parameter-tol", "1e-12"], args.device)
    reached = next((r for r in saved["history"] if r["loss"] <= sk_objective * (1 + 1e-6)), None)
    w, b = parameters(saved)
    if reached is None:
        last = saved["history"][-1]
        rows.append((f"downhill gradient descent (not within 1e-6 in {last['epoch']} epochs)", last["seconds"],
                     last["epoch"], last["epoch"], objective(x64, y64, w, b, alpha)))
    else:
        rows.append(("downhill gradient descent (Nesterov, auto rate)", reached["seconds"], reached["epoch"],
                     reached["epoch"], reached["loss"]))

    model_name = "logistic" if k == 2 else f"multinomial ({k} classes)"
    print(f"{n} rows × {d} features (raw scales 0.1–10), {model_name} + L2 alpha {alpha}, device {args.device}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"scikit-learn {sklearn.__version__}, NumPy {np.__version__}, {time.strftime('%Y-%m-%d')}")
    print()
    print("| solver | seconds | iterations / epochs | gradient evaluations | objective (float64) | above scikit-learn's |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, seconds, iterations, evaluations, value in rows:
        print(f"| {name} | {seconds:.3f} | {iterations} | {evaluations} | {value:.10f} | {(value - sk_objective) / sk_objective:.1e} |")


if __name__ == "__main__":
    main()
