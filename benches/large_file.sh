#!/bin/sh
# A file larger than memory through the CPU engine, against the disk's
# sequential read bandwidth measured in the same run on the same file.
#
#   benches/large_file.sh [FOLDER] [ROWS]    (defaults: big, 117000000)
#
# Writes FOLDER/x.npy and FOLDER/y.npy (ROWS × 64 float32: 30 GB at the
# default) with `downhill bench --write` unless they exist, reads x.npy once
# with dd (64 MiB blocks), runs two full-batch epochs of `downhill fit`
# through a 1 GB memory budget under /usr/bin/time -v (peak resident set),
# prints the rate at which the epochs read X (from the saved model's
# history: the epochs alone, without the pass that checks the targets
# and the pass that scores the fit), and reads x.npy with dd again. The
# file must be larger than the page cache can hold, or the reads measure
# memory instead of the disk.
set -e
folder=${1:-big}
rows=${2:-117000000}
downhill=./target/release/downhill
cargo build --release --quiet
if [ ! -f "$folder/x.npy" ]; then
    "$downhill" bench --write "$folder" --rows "$rows" --features 64
fi
echo "== sequential read of x.npy (dd, 64 MiB blocks)"
dd if="$folder/x.npy" of=/dev/null bs=64M 2>&1 | tail -1
echo "== downhill fit, 2 full-batch epochs, memory budget 1GB"
/usr/bin/time -v "$downhill" fit --data "$folder/x.npy" --target "$folder/y.npy" \
    --memory-budget 1GB --optimizer sgd --lr 0.001 --epochs 2 --no-standardize --device cpu \
    --save "$folder/model.json" 2>&1 \
    | grep -E "stopped|epochs:|time:|Elapsed|Maximum resident"
bytes=$(stat -c %s "$folder/x.npy")
python3 -c "
import json, sys
history = json.load(open('$folder/model.json'))['history']
seconds = history[-1]['seconds']
print(f'epochs read X at {len(history) * $bytes / seconds / 1e9:.2f} GB/s ({len(history)} epochs in {seconds:.1f} s)')
"
echo "== sequential read of x.npy again"
dd if="$folder/x.npy" of=/dev/null bs=64M 2>&1 | tail -1
