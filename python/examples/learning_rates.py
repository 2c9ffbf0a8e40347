"""Four learning rates on the same standardized data, notebook style: the
walkthrough this project grew from (examples/learning_rates.rs in Rust),
from the Python package.

One feature, y = 3x + 2 + noise, standardized in a scikit-learn Pipeline;
full-batch gradient descent (`batch_size=None`) at four rates for 100
epochs; the loss curves plotted with matplotlib (learning_rates.png).

With one standardized feature the mean squared error's Hessian is 2·I (the
library's loss is (1/n)Σr², the walkthroughs' scale), so each step
multiplies the distance to the least-squares fit by 1 − 2η: 0.98 for
η = 0.01 (crawls), 0.8 for 0.1 (converges), −0.2 for 0.6 (oscillates and
converges), −1.1 for 1.05 (diverges). SGDRegressor speaks scikit-learn's
units, whose squared error is halved: its `eta0` is 2η.

    pip install "./python" matplotlib
    python python/examples/learning_rates.py [--plot learning_rates.png]
"""
import argparse
import warnings

import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import downhill

RATES = [0.01, 0.1, 0.6, 1.05]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--plot", default="learning_rates.png", help="where the loss curves go ('' for none)")
    args = parser.parse_args()

    rng = np.random.default_rng(3)
    x = rng.normal(2.0, 4.0, size=(200, 1))
    y = 3.0 * x[:, 0] + 2.0 + rng.normal(0.0, 0.5, size=200)
    exact = np.polyfit(StandardScaler().fit_transform(x)[:, 0], y, 1)

    curves = {}
    for rate in RATES:
        model = make_pipeline(
            StandardScaler(),
            downhill.SGDRegressor(
                penalty=None, learning_rate="constant", eta0=2 * rate, batch_size=None,
                max_iter=100, tol=None, random_state=0,
            ),
        )
        # A diverging fit is warned of (DivergenceWarning); here it is the point.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", downhill.DivergenceWarning)
            regressor = model.fit(x, y)[-1]
        curves[rate] = regressor.loss_curve_
        error = abs(regressor.coef_[0] - exact[0])
        print(f"eta = {rate:<5} epochs {regressor.n_iter_:>3}  {regressor.stop_reason_:<40} "
              f"weight {regressor.coef_[0]:+.4f} (exact {exact[0]:+.4f}, off by {error:.1e})")

    # The verdicts, read off the runs.
    crawl, converge, oscillate, diverge = (curves[rate] for rate in RATES)
    assert converge[-1] < 1.01 * min(converge) and converge[-1] < crawl[-1], "0.1 converges faster than 0.01"
    assert oscillate[-1] < 1.01 * min(oscillate), "0.6 converges too"
    assert len(diverge) < 100 or not np.isfinite(diverge[-1]) or diverge[-1] > diverge[0], "1.05 diverges"
    print("verdicts: 0.01 crawls, 0.1 and 0.6 converge, 1.05 diverges")

    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axes = plt.subplots(figsize=(7, 4))
        for rate, curve in curves.items():
            axes.plot(range(1, len(curve) + 1), curve, label=f"η = {rate}")
        axes.set_yscale("log")
        axes.set_xlabel("epoch")
        axes.set_ylabel("mean squared error")
        axes.set_title("Full-batch gradient descent at four learning rates")
        axes.legend()
        figure.tight_layout()
        figure.savefig(args.plot)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
