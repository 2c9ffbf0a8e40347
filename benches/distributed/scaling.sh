#!/usr/bin/env bash
# Strong scaling of a data-parallel full-batch fit on this machine: the
# same ROWS × FEATURES (default 10,000,000 × 64, 2.56 GB of X) fitted by
# 1 rank and by 2 ranks (mpirun), one rayon thread per rank, plus one
# process on 2 threads and NumPy's gradient on the same rows for
# comparison, all in one run. Prints seconds per epoch (the training loop
# alone, from each fit's history), GB/s of X read, and the efficiency
# T1 / (2 · T2).
#
#   cargo build --release --features distributed
#   benches/distributed/scaling.sh            # ROWS=… FEATURES=… EPOCHS=… DIR=… to change
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS=${ROWS:-10000000}
FEATURES=${FEATURES:-64}
EPOCHS=${EPOCHS:-20}
DIR=${DIR:-/tmp/downhill-scaling}
PYTHON=${PYTHON:-python3}
BIN=target/release/downhill
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

if [ ! -f "$DIR/x.npy" ]; then
    "$PYTHON" benches/distributed/make_data.py --rows "$ROWS" --features "$FEATURES" --out "$DIR"
fi
# A fixed rate: the automatic one measures the curvature first (dozens of
# passes), which would drown the epochs timed here.
FIT=(fit --data "$DIR/x.npy" --target "$DIR/y.npy" --epochs "$EPOCHS" --lr 0.1 --no-standardize --device cpu)

per_epoch() {
    "$PYTHON" -c "
import json, sys
records = json.load(open(sys.argv[1]))['history']
print((records[-1]['seconds'] - records[0]['seconds']) / (len(records) - 1))" "$1"
}

# Warm the page cache, so that no run reads the disk.
cat "$DIR/x.npy" "$DIR/y.npy" > /dev/null

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%Y-%m-%d)"
echo "data: $ROWS x $FEATURES float32 ($(( ROWS * FEATURES * 4 / 1000000 )) MB of X), $EPOCHS full-batch epochs"
for round in $(seq "${ROUNDS:-3}"); do
    RAYON_NUM_THREADS=1 "$BIN" "${FIT[@]}" --save "$DIR/one.json" > /dev/null
    mpirun -np 2 -x RAYON_NUM_THREADS=1 "$BIN" "${FIT[@]}" --save "$DIR/two.json" > /dev/null
    RAYON_NUM_THREADS=2 "$BIN" "${FIT[@]}" --save "$DIR/threads.json" > /dev/null
    one=$(per_epoch "$DIR/one.json")
    two=$(per_epoch "$DIR/two.json")
    threads=$(per_epoch "$DIR/threads.json")
    "$PYTHON" - "$one" "$two" "$threads" "$ROWS" "$FEATURES" "$round" <<'PY'
import sys
one, two, threads = map(float, sys.argv[1:4])
rows, features, round_ = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
gb = rows * features * 4 / 1e9
print(f"round {round_}")
print(f"  {'run':<34} {'s/epoch':>9} {'GB/s of X':>10}")
for name, t in [("1 rank, 1 thread", one), ("2 ranks (mpirun), 1 thread each", two), ("1 process, 2 threads", threads)]:
    print(f"  {name:<34} {t:>9.4f} {gb / t:>10.2f}")
print(f"  strong-scaling efficiency T1 / (2 T2): {one / (2 * two):.3f}")
PY
done
"$PYTHON" - "$DIR" <<'PY'
import sys, time
import numpy as np
x = np.load(sys.argv[1] + "/x.npy", mmap_mode="r")
y = np.load(sys.argv[1] + "/y.npy", mmap_mode="r")
x = np.asarray(x)
w = np.zeros(x.shape[1], dtype=np.float32)
times = []
for _ in range(3):
    t = time.perf_counter()
    r = x @ w + 0.0 - y
    g = x.T @ r
    times.append(time.perf_counter() - t)
t = min(times)
print(f"NumPy gradient X^T(Xw - y) (two passes over X, its BLAS threads): {t:.4f} s, {x.nbytes / 1e9 / t:.2f} GB/s of X per pass pair")
t = time.perf_counter(); s = x.sum(); t = time.perf_counter() - t
print(f"NumPy X.sum() (one read of X on one core): {t:.4f} s, {x.nbytes / 1e9 / t:.2f} GB/s")
PY
