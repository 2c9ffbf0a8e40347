#!/bin/bash
# The L-BFGS fits of the repository's tables through the program, each
# report (stop, iterations, gradient evaluations, final loss,
# coefficients) kept in OUT: run it before and after a change and compare
# the folders (`diff -r` ignoring the time and saved-path lines), for
# "passes unchanged or fewer" and the same optimum.
#
#   benches/lbfgs_runs.sh OUT [path/to/downhill]
set -euo pipefail
out=${1:?usage: benches/lbfgs_runs.sh OUT [downhill binary]}
program=${2:-target/release/downhill}
cd "$(dirname "$0")/.."
mkdir -p "$out"
i=0
run() {
    i=$((i + 1))
    "$program" fit --device cpu --solver lbfgs "$@" 2>&1 | grep -v -E '^(time|saved): ' > "$out/fit$i.txt" || true
    { echo "== fit $i: $*"; grep -E 'stopped|iterations|final loss' "$out/fit$i.txt"; }
}
run --data tests/data/wine.csv --target cultivar --model logistic --l2 1e-3
run --data tests/data/wine.csv --target cultivar --model logistic --l2 1e-4 --no-standardize
run --data tests/data/wine.csv --target cultivar --model logistic --l2 1e-3 --validation-fraction 0.2
run --data tests/data/iris.csv --target species --model logistic --l2 1e-2 --weight-column weight
run --data tests/data/logistic.csv --target y --model logistic --l2 1e-4 --weight-column weight
run --data tests/data/poisson.csv --target y --loss poisson --l2 1e-3
run --data tests/data/digits.csv --target digit --model logistic --l2 1e-3 --epochs 30
run --data tests/data/penalties.csv --target y --l2 1e-3 --no-standardize
