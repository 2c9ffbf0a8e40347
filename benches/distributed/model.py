"""Where data-parallel descent stops paying: a model of one step on P ranks,

    T(P) = t_row * b / P  +  c  +  t_allreduce(P)

b the global batch (rows per step), t_row the time one rank spends per row
of its share, c the fixed cost of a step on a rank (for a GPU rank: the
parameters up, one dispatch, the sums back), t_allreduce(P) the one
all-reduce of d + 3 float64 numbers. The speedup over one rank is
T(1) / T(P) and the efficiency T(1) / (P T(P)).

    python3 benches/distributed/model.py

Measured on this project's 2-core machine (BENCHMARKS.md, 2026-11-24):
t_row of the CPU engine at d = 64 (13.1 ns a row on one core), and the
all-reduce of 67 numbers between 2 ranks in shared memory (0.48 µs).
Assumed, not measured here (no GPU or cluster has been lent): an H100
reading X at 80% of its 3.35 TB/s (t_row = 4 (d + 1) bytes / 2.68 TB/s),
a GPU step's fixed cost of 30 µs (a submit and a mapped readback), and an
all-reduce across nodes of 3 µs per hop of recursive doubling
(log2 P hops).
"""
import math

D = 64
CPU_ROW = 13.1e-9          # measured: one core, d = 64
ALLREDUCE_LOCAL = 0.48e-6  # measured: 2 ranks, shared memory, 67 numbers
GPU_ROW = 4 * (D + 1) / (0.8 * 3.35e12)  # assumed: 80% of H100 HBM3
GPU_STEP = 30e-6           # assumed: one submit + readback per step
HOP = 3e-6                 # assumed: one network hop of a small all-reduce


def allreduce(p, hop):
    return 0.0 if p == 1 else hop * math.ceil(math.log2(p))


def step(p, batch, row, fixed, hop):
    return row * batch / p + fixed + allreduce(p, hop)


def table(name, row, fixed, hop, ranks, batches):
    print(f"\n{name}: t_row {row * 1e9:.3f} ns, fixed {fixed * 1e6:.1f} µs a step, {hop * 1e6:.2f} µs a hop")
    print(f"{'rows/step':>12} " + " ".join(f"{'P=' + str(p) + ' eff':>10}" for p in ranks) + f" {'P=' + str(ranks[-1]) + ' step':>14}")
    for b in batches:
        effs = [step(1, b, row, fixed, hop) / (p * step(p, b, row, fixed, hop)) for p in ranks]
        last = step(ranks[-1], b, row, fixed, hop)
        print(f"{b:>12.0e} " + " ".join(f"{e:>10.2f}" for e in effs) + f" {last * 1e6:>12.1f}µs")
    for target in (0.5, 0.9):
        # E = (t_row b + c) / (t_row b + P c + P a) >= target, solved for b / P.
        p = ranks[-1]
        a = allreduce(p, hop)
        need = max(0.0, (target * (fixed + a) - fixed / p) / ((1 - target) * row))
        print(f"  {int(target * 100)}% efficiency at P={p} needs about {need:,.0f} rows per rank a step ({need * p:,.0f} per global batch)")


table("CPU ranks on one node (measured)", CPU_ROW, 0.0, ALLREDUCE_LOCAL, [2, 8, 64], [1e2, 1e3, 1e4, 1e5, 1e6, 1e7])
table("CPU ranks across nodes", CPU_ROW, 0.0, HOP, [2, 8, 64], [1e2, 1e3, 1e4, 1e5, 1e6, 1e7])
table("H100 ranks across nodes (modelled)", GPU_ROW, GPU_STEP, HOP, [2, 8, 64], [1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9])
