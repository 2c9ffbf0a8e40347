#!/usr/bin/env python3
"""L-BFGS against full-batch gradient descent and scikit-learn's `lbfgs`
solver, on the same data in one run on this machine: time and gradient
evaluations to the same objective value. Prints a Markdown table.

    pip install numpy scikit-learn
    cargo build --release
    python3 benches/peers/lbfgs_peers.py [--rows 100000] [--features 16] [--classes 2] [--device cpu]
        [--scales spread|mixed] [--model logistic|linear] [--tol 1e-10] [--no-descent]

The data: seeded logistic data, float32, the features on raw scales from
0.1 to 10 (ill-conditioned, as real tables are before standardization),
written as x.npy / y.npy. The objective: (1/n) Σ log-loss + (alpha/2)|w|²,
the intercept unpenalized, which is scikit-learn's LogisticRegression with
C = 1 / (alpha n). With --classes K > 2, the labels are K classes drawn
from a softmax of K random directions, and the objective is the
multinomial's: (1/n) Σ (log Σₖ e^(zₖ) − z_y) + (alpha/2)‖W‖²
(LogisticRegression's multinomial). Every solver's objective is evaluated
here in float64 at the parameters it returns.

--scales mixed draws HIGGS-like columns instead: scales from 0.1 to 10 in
a seeded order, half of the columns shifted (mean up to 3 scales, as
momenta are positive), a quarter log-normal (skewed, positive), so that the
columns differ in mean as well as in scale.

--model linear: y = x·truth + noise, the objective (1/n) Σ (z − y)² +
(alpha/2)|w|² (this crate's squared error); scikit-learn's `Ridge`
(alpha_ridge = n·alpha/2, solver cholesky, float64) gives the optimum, and
SciPy's L-BFGS-B on the same float64 objective (gtol = --tol, the
settings LogisticRegression passes) the iterations to compare with.

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


def objective(x, y, w, b, alpha, linear=False):
    """w: features (two classes) or features × K; b: a number or K."""
    z = x @ w + b
    if linear:
        return float(np.mean((z - y) ** 2) + 0.5 * alpha * (w @ w))
    if w.ndim == 1:
        return float(np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * alpha * (w @ w))
    largest = z.max(axis=1, keepdims=True)
    log_sum = largest[:, 0] + np.log(np.exp(z - largest).sum(axis=1))
    losses = log_sum - z[np.arange(len(y)), y.astype(int)]
    return float(np.mean(losses) + 0.5 * alpha * (w ** 2).sum())


def parameters(saved):
    """The weights and the bias of a saved model, as `objective` takes them."""
    return np.array(saved["weights"], dtype=np.float64), np.array(saved["bias"], dtype=np.float64)


def run_downhill(binary, folder, extra, device, model_kind="logistic"):
    model = os.path.join(folder, "model.json")
    command = [binary, "fit", "--data", os.path.join(folder, "x.npy"), "--target", os.path.join(folder, "y.npy"),
               "--model", model_kind, "--no-standardize", "--device", device, "--save", model] + extra
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
    parser.add_argument("--scales", choices=["spread", "mixed"], default="spread")
    parser.add_argument("--model", choices=["logistic", "linear"], default="logistic")
    parser.add_argument("--tol", type=float, default=1e-10, help="scikit-learn's (and L-BFGS-B's) gtol")
    parser.add_argument("--no-descent", action="store_true", help="leave out downhill's gradient descent")
    args = parser.parse_args()
    n, d, alpha, k = args.rows, args.features, args.alpha, args.classes
    linear = args.model == "linear"

    rng = np.random.default_rng(42)
    scales = np.geomspace(0.1, 10.0, d)
    if args.scales == "spread":
        x = (rng.normal(0.0, 1.0, (n, d)) * scales).astype(np.float32)
    else:
        scales = rng.permutation(scales)
        kind = np.arange(d) % 4
        means = np.where(kind == 1, rng.uniform(0.5, 3.0, d) * scales, 0.0)
        x = np.empty((n, d), dtype=np.float32)
        for j in range(d):
            column = rng.normal(0.0, 1.0, n)
            if kind[j] == 3:
                column = np.exp(0.5 * column) - 1.0
            x[:, j] = (means[j] + scales[j] * column).astype(np.float32)
    if linear:
        truth = rng.normal(0.0, 1.0, d) / scales
        y = (x.astype(np.float64) @ truth + 0.5 + rng.normal(0.0, 1.0, n)).astype(np.float32)
    elif k == 2:
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

    import sklearn
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.linear_model import _linear_loss

    if linear:
        import scipy.optimize
        ridge = Ridge(alpha=n * alpha / 2, solver="cholesky").fit(x64, y64)
        sk_objective = objective(x64, y64, ridge.coef_, ridge.intercept_, alpha, linear=True)
        evaluations = {"count": 0}

        def value_and_gradient(theta):
            evaluations["count"] += 1
            w, b = theta[:-1], theta[-1]
            r = x64 @ w + b - y64
            g = np.empty_like(theta)
            g[:-1] = 2.0 * (x64.T @ r) / n + alpha * w
            g[-1] = 2.0 * r.mean()
            return float(np.mean(r * r) + 0.5 * alpha * (w @ w)), g

        start = time.perf_counter()
        result = scipy.optimize.minimize(value_and_gradient, np.zeros(d + 1), jac=True, method="L-BFGS-B",
                                         options={"maxiter": 100_000, "maxls": 50, "gtol": args.tol,
                                                  "ftol": 64 * np.finfo(float).eps})
        sk_seconds = time.perf_counter() - start
        lbfgsb_objective = objective(x64, y64, result.x[:-1], result.x[-1], alpha, linear=True)
        rows = [("scikit-learn Ridge (cholesky, float64): the optimum", 0.0, 0, 0, sk_objective),
                ("SciPy L-BFGS-B (float64, as LogisticRegression calls it)", sk_seconds, int(result.nit),
                 evaluations["count"], lbfgsb_objective)]
    else:
        counted = {"evaluations": 0}
        original = _linear_loss.LinearModelLoss.loss_gradient

        def counting(self, *a, **k):
            counted["evaluations"] += 1
            return original(self, *a, **k)

        _linear_loss.LinearModelLoss.loss_gradient = counting
        model = LogisticRegression(C=1.0 / (alpha * n), solver="lbfgs", tol=args.tol, max_iter=100_000)
        start = time.perf_counter()
        model.fit(x64, y64)
        sk_seconds = time.perf_counter() - start
        _linear_loss.LinearModelLoss.loss_gradient = original
        if k == 2:
            sk_objective = objective(x64, y64, model.coef_[0], model.intercept_[0], alpha)
        else:
            sk_objective = objective(x64, y64, model.coef_.T, model.intercept_, alpha)
        rows = [("scikit-learn lbfgs (float64)", sk_seconds, int(model.n_iter_[0]), counted["evaluations"],
                 sk_objective)]

    model_kind = "linear" if linear else "logistic"
    # --binary may name several builds, comma-separated (before and after a
    # change): one L-BFGS row each.
    for binary in args.binary.split(","):
        saved = run_downhill(binary, folder, ["--solver", "lbfgs", "--penalty", "l2", "--alpha", str(alpha)],
                             args.device, model_kind)
        w, b = parameters(saved)
        reason = saved.get("stop_reason")
        reason = reason.get("kind", next(iter(reason))) if isinstance(reason, dict) else reason
        rows.append((f"downhill L-BFGS, {binary} ({reason})", saved["history"][-1]["seconds"],
                     len(saved["history"]), saved["gradient_evaluations"], objective(x64, y64, w, b, alpha, linear)))
    binary = args.binary.split(",")[-1]

    if not args.no_descent:
        saved = run_downhill(binary, folder, ["--penalty", "l2", "--alpha", str(alpha), "--epochs",
                                                   str(args.epochs), "--parameter-tol", "1e-12"], args.device,
                             model_kind)
        reached = next((r for r in saved["history"] if r["loss"] <= sk_objective * (1 + 1e-6)), None)
        w, b = parameters(saved)
        if reached is None:
            last = saved["history"][-1]
            rows.append((f"downhill gradient descent (not within 1e-6 in {last['epoch']} epochs)", last["seconds"],
                         last["epoch"], last["epoch"], objective(x64, y64, w, b, alpha, linear)))
        else:
            rows.append(("downhill gradient descent (Nesterov, auto rate)", reached["seconds"], reached["epoch"],
                         reached["epoch"], reached["loss"]))

    model_name = "linear" if linear else "logistic" if k == 2 else f"multinomial ({k} classes)"
    print(f"{n} rows × {d} features (raw scales 0.1–10, {args.scales}), {model_name} + L2 alpha {alpha}, "
          f"tol {args.tol}, device {args.device}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"scikit-learn {sklearn.__version__}, NumPy {np.__version__}, {time.strftime('%Y-%m-%d')}")
    print()
    print("| solver | seconds | iterations / epochs | gradient evaluations | objective (float64) | above scikit-learn's |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, seconds, iterations, evaluations, value in rows:
        print(f"| {name} | {seconds:.3f} | {iterations} | {evaluations} | {value:.10f} | {(value - sk_objective) / sk_objective:.1e} |")


if __name__ == "__main__":
    main()
