#!/usr/bin/env bash
# Runs `downhill bench` of two builds in one run of this script, alternating
# them so that both see the same machine state (old then new in odd rounds,
# new then old in even ones: a process that runs right after another can find
# fewer huge pages free, which slows random row access by several percent),
# and prints each run's table:
#
#   benches/compare_builds.sh OLD_BINARY NEW_BINARY [ROUNDS] [-- BENCH ARGS...]
#
# Default bench arguments: the CPU regression check of docs/DESIGN.md,
#   --rows 1000000 --features 64 --batch-sizes 32,256,4096,full --epochs 3 --device cpu
set -euo pipefail

if [ "$#" -lt 2 ]; then
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
old=$1
new=$2
shift 2
rounds=2
if [ "$#" -gt 0 ] && [ "$1" != "--" ]; then
    rounds=$1
    shift
fi
if [ "$#" -gt 0 ] && [ "$1" = "--" ]; then
    shift
fi
if [ "$#" -eq 0 ]; then
    set -- --rows 1000000 --features 64 --batch-sizes 32,256,4096,full --epochs 3 --device cpu
fi

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') ($(nproc) cores), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "bench arguments: $*"
for round in $(seq 1 "$rounds"); do
    order="old new"
    if [ $((round % 2)) -eq 0 ]; then order="new old"; fi
    for build in $order; do
        binary=$old
        if [ "$build" = new ]; then binary=$new; fi
        echo
        echo "== round $round, $build build ($binary)"
        "$binary" bench "$@" 2>/dev/null | sed -n '/^cpu\|^gpu/,$p'
    done
done
