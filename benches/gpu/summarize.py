#!/usr/bin/env python3
"""Combines what benches/gpu/run.sh measured into tables per model and
summary.json / summary.md; standard library only.

    python3 benches/gpu/summarize.py --out DIR [--models linear,logistic]
        [--manifest .gpu-bench/MANIFEST] [--command "benches/gpu/run.sh ..."]

Reads DIR/downhill-MODEL.json (`downhill bench --json`, one GPU run per
batch size and kernel generation) and DIR/torch-MODEL.json
(torch_peers.py: the "torch" and "torch cuda-graph" peers). Both time alike:
the data on the device before the clock starts, one untimed warm-up epoch,
then the timed epochs; every rate is from the median timed epoch. Per model:

1. throughput, one row per batch size and run (downhill's kernel
   generations, then the peers): samples/s (rows / median epoch), the
   median epoch, the timed epochs' total, µs per step (median epoch /
   steps per epoch), GB/s of X (X's size / median epoch) as % of the wgpu
   copy bandwidth downhill bench measured and of the CUDA copy bandwidth
   torch_peers.py measured (both bytes read + bytes written per second),
   and ours ÷ that run (ours: the current kernels, or the one generation
   run);
2. ratios per batch size: current ÷ legacy kernels (new ÷ old), ours ÷
   torch, ours ÷ torch cuda-graph, all of samples/s;
3. structure, from the work downhill's engine counted: dispatches per step,
   submissions and readbacks per epoch, X read per epoch (a multiple of
   X's size), bytes uploaded per epoch.
"""
import argparse
import datetime
import json
import os
import sys

# The kernel generations downhill bench runs, newest first.
NEW, OLD = "current", "legacy"
PEERS = ("torch", "torch cuda-graph")


def rate(value):
    """1.23e8, as BENCHMARKS.md writes samples/s."""
    mantissa, exponent = f"{value:.2e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def count(value):
    """A count per step or per epoch: whole numbers as they are, small
    fractions (a few dispatches per epoch of many steps) not as 0.00."""
    if value == int(value):
        return f"{value:.0f}"
    return f"{value:.2f}" if abs(value) >= 0.01 else rate(value)


def byte_size(value):
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if value >= scale:
            return f"{value / scale:.2f} {unit}"
    return f"{value:.0f} B"


def ratio(a, b):
    if a is None or b is None or not b:
        return None
    return a / b


def times(value):
    return "–" if value is None else f"{value:.2f}×"


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def gpu_runs(report):
    """{(batch, kernels): run} of downhill's GPU runs, in the report's order."""
    return {(run["batch_size"], run.get("kernels") or NEW): run
            for run in report["runs"] if run["device"] == "gpu"}


def cpu_runs(report):
    return {run["batch_size"]: run for run in report["runs"] if run["device"] == "cpu"}


def ours(report, run):
    """Our figures for one run, recomputed from the JSON's raw fields; the
    reason instead where there are none."""
    if run.get("error") is not None:
        return None, run["error"]
    if "median_epoch_seconds" not in run:
        return None, "no median_epoch_seconds: a downhill bench from before the median-epoch timing; stage again"
    return {
        **timing_figures(report, run),
        "shuffle_seconds_per_epoch": run["shuffle_seconds_per_epoch"],
        "final_loss": run["final_loss"],
        "structure": {key: run[key] for key in (
            "dispatches_per_step", "submissions_per_epoch", "readbacks_per_epoch",
            "x_reads_per_epoch", "x_bytes_read_per_epoch", "uploaded_bytes_per_epoch")},
    }, None


def timing_figures(report, run):
    """The figures of a run's median epoch, ours or a peer's alike."""
    median = run["median_epoch_seconds"]
    gb_per_s = report["x_bytes"] / median / 1e9
    return {
        "samples_per_s": report["rows"] / median,
        "median_epoch_seconds": median,
        "seconds": run["seconds"],
        "epochs": run["epochs"],
        "us_per_step": 1e6 * median / run["steps_per_epoch"],
        "gb_per_s": gb_per_s,
        "percent_of_copy": 100.0 * gb_per_s / report["machine"]["gpu"]["copy_gb_per_s"],
    }


def peer_figures(report, run, cuda_copy):
    """A peer's figures, recomputed from its raw fields."""
    figures = timing_figures(report, run)
    return {
        **figures,
        "percent_of_cuda_copy": 100.0 * figures["gb_per_s"] / cuda_copy if cuda_copy else None,
        "loss_after": run.get("loss_after"),
    }


def model_table(model, report, peers):
    """Markdown lines and the JSON rows of one model's tables."""
    gpu = report["machine"]["gpu"]
    software = gpu["device_type"] == "Cpu"
    where = "the software adapter" if software else "the GPU"
    x_bytes = report["x_bytes"]
    size = f"{x_bytes / 1e9:.2f} GB" if x_bytes >= 1e8 else f"{x_bytes / 1e6:.2f} MB"
    lines = [
        f"### {model}: {report['rows']:,} × {report['features']} f32 ({size} of X), SGD lr 0.001",
        "",
        f"- adapter: {gpu['adapter']} ({gpu['backend']}, {gpu['device_type']}, {gpu['driver']}); "
        f"wgpu device-to-device copy {gpu['copy_gb_per_s']:.1f} GB/s (read + write), measured by downhill bench",
    ]
    cuda_copy = None
    if peers is None:
        peer_cell = "failed"
        lines.append("- PyTorch: failed (no result file; see the run's log)")
    elif peers.get("skipped"):
        peer_cell = f"skipped: {peers['skipped']}"
        lines.append(f"- PyTorch: {peer_cell} ({peers.get('detail', '')}); no CUDA copy bandwidth measured")
    else:
        peer_cell = None
        cuda_copy = peers.get("cuda_copy_gb_per_s")
        lines.append(f"- PyTorch {peers['torch']} (CUDA {peers['cuda']}) on {peers['device']}, "
                     f"{peers['python']}; peers: torch (eager), torch cuda-graph (one step captured in a "
                     f"CUDA graph, batches of at most {peers.get('graph_max_batch', 4096)} rows)")
        lines.append(f"- CUDA device-to-device copy {cuda_copy:.1f} GB/s (read + write), measured by "
                     f"torch_peers.py: {peers.get('cuda_copy', '')}")
    epochs = sorted({run["epochs"] for run in report["runs"] if run["device"] == "gpu" and "epochs" in run})
    warm_up = report.get("warmup_epochs", 1)
    lines.append(f"- timing, ours and the peers alike: the data on the device before the clock starts, "
                 f"{warm_up} untimed warm-up epoch, then {', '.join(str(e) for e in epochs) or '?'} timed "
                 f"epochs; samples/s = rows / median epoch; total = the timed epochs; µs per step = median "
                 f"epoch / steps per epoch; GB/s = X's size / median epoch")
    if software:
        lines.append("- **software adapter: these timings are the CPU running the shaders, not GPU numbers**")

    mine = gpu_runs(report)
    generations = []
    for _, kernels in mine:
        if kernels not in generations:
            generations.append(kernels)
    reference = NEW if NEW in generations else (generations[0] if generations else None)
    batches = []
    for batch, _ in mine:
        if batch not in batches:
            batches.append(batch)
    peer_runs = {} if peer_cell is not None else {
        (run.get("peer", "torch"), run["batch_size"]): run for run in peers["runs"]}
    ours_cpu = cpu_runs(report)

    throughput = [
        "",
        f"Throughput on {where}, one row per run; ours = downhill with the {reference} kernels:",
        "",
        "| batch | run | samples/s | median epoch (ms) | total (s) | µs per step | GB/s of X "
        "| % of wgpu copy | % of CUDA copy | ours ÷ this run |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ratios = [
        "",
        f"Ratios of samples/s per batch size ({NEW} ÷ {OLD}: the kernels' new generation over the old):",
        "",
        f"| batch | {NEW} ÷ {OLD} | ours ÷ torch | ours ÷ torch cuda-graph |",
        "|---:|---:|---:|---:|",
    ]
    structure = [
        "",
        "Structure, as downhill's engine counted it (per step and per epoch; the counts include the warm-up "
        "epoch, the ratios do not depend on it):",
        "",
        "| batch | kernels | dispatches per step | submissions per epoch | readbacks per epoch "
        "| X read per epoch | uploaded per epoch |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    rows = []
    for batch in batches:
        row = {"batch_size": batch, "ours": {}, "errors": {}, "peers": {}}
        for kernels in generations:
            run = mine.get((batch, kernels))
            if run is None:
                continue
            figures, error = ours(report, run)
            row["ours"][kernels] = figures
            if error is not None:
                row["errors"][kernels] = error
        reference_rate = (row["ours"].get(reference) or {}).get("samples_per_s")
        for kernels in generations:
            if (batch, kernels) not in mine:
                continue
            figures = row["ours"].get(kernels)
            if figures is None:
                throughput.append(f"| {batch} | downhill {kernels} | error: {row['errors'][kernels]} "
                                  "| | | | | | | |")
                structure.append(f"| {batch} | {kernels} | error | | | | |")
                continue
            mark = "–" if kernels == reference else times(ratio(reference_rate, figures["samples_per_s"]))
            throughput.append(
                f"| {batch} | downhill {kernels} | {rate(figures['samples_per_s'])} "
                f"| {1e3 * figures['median_epoch_seconds']:.3f} | {figures['seconds']:.4f} "
                f"| {figures['us_per_step']:.2f} | {figures['gb_per_s']:.2f} "
                f"| {figures['percent_of_copy']:.1f} "
                f"| {'–' if cuda_copy is None else format(100.0 * figures['gb_per_s'] / cuda_copy, '.1f')} "
                f"| {mark} |")
            s = figures["structure"]
            structure.append(
                f"| {batch} | {kernels} | {count(s['dispatches_per_step'])} | {count(s['submissions_per_epoch'])} "
                f"| {count(s['readbacks_per_epoch'])} | {s['x_reads_per_epoch']:.2f}× X "
                f"| {byte_size(s['uploaded_bytes_per_epoch'])} |")
        if peer_cell is not None:
            throughput.append(f"| {batch} | PyTorch | {peer_cell} | | | | | | | |")
        for peer in PEERS:
            run = peer_runs.get((peer, batch))
            if run is None:
                # The graph peer runs small mini-batches only, by design.
                if peer == "torch" and peer_cell is None:
                    throughput.append(f"| {batch} | {peer} | not run | | | | | | | |")
                continue
            figures = peer_figures(report, run, cuda_copy)
            row["peers"][peer] = figures
            percent_cuda = figures["percent_of_cuda_copy"]
            throughput.append(
                f"| {batch} | {peer} | {rate(figures['samples_per_s'])} "
                f"| {1e3 * figures['median_epoch_seconds']:.3f} | {figures['seconds']:.4f} "
                f"| {figures['us_per_step']:.2f} | {figures['gb_per_s']:.2f} "
                f"| {figures['percent_of_copy']:.1f} "
                f"| {'–' if percent_cuda is None else format(percent_cuda, '.1f')} "
                f"| {times(ratio(reference_rate, figures['samples_per_s']))} |")
        new_rate = (row["ours"].get(NEW) or {}).get("samples_per_s")
        old_rate = (row["ours"].get(OLD) or {}).get("samples_per_s")
        row["new_over_old"] = ratio(new_rate, old_rate)
        for peer in PEERS:
            row[f"ours_over_{peer.replace(' ', '_').replace('-', '_')}"] = ratio(
                reference_rate, (row["peers"].get(peer) or {}).get("samples_per_s"))
        ratios.append(f"| {batch} | {times(row['new_over_old'])} | {times(row['ours_over_torch'])} "
                      f"| {times(row['ours_over_torch_cuda_graph'])} |")
        cpu = ours_cpu.get(batch)
        if cpu is not None and cpu.get("error") is None and cpu.get("median_epoch_seconds"):
            row["ours_cpu_samples_per_s"] = report["rows"] / cpu["median_epoch_seconds"]
        rows.append(row)
    return lines + throughput + ratios + structure, rows, software


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--models", default="linear,logistic")
    parser.add_argument("--manifest", default=None)
    parser.add_argument("--command", default=None)
    args = parser.parse_args()
    models = [m for m in args.models.split(",") if m]

    manifest = None
    if args.manifest and os.path.exists(args.manifest):
        with open(args.manifest) as f:
            manifest = f.read().strip()

    summary = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": args.command,
        "manifest": manifest,
        "environment": {k: os.environ.get(k) for k in
                        ("WGPU_BACKEND", "VK_DRIVER_FILES", "VK_ICD_FILENAMES", "LD_LIBRARY_PATH")},
        "models": {},
    }
    markdown = []
    software = False
    machine = None
    missing = []
    for model in models:
        report = load(os.path.join(args.out, f"downhill-{model}.json"))
        if report is None:
            missing.append(model)
            continue
        peers = load(os.path.join(args.out, f"torch-{model}.json"))
        lines, rows, model_software = model_table(model, report, peers)
        software = software or model_software
        machine = report["machine"]
        markdown += lines + [""]
        summary["models"][model] = {
            "rows": report["rows"],
            "features": report["features"],
            "x_bytes": report["x_bytes"],
            "kernels": report.get("kernels"),
            "peer": None if peers is None else {k: v for k, v in peers.items() if k != "runs"},
            "table": rows,
        }
    summary["machine"] = machine
    summary["software_adapter"] = software
    summary["gpu_numbers"] = bool(summary["models"]) and not software

    header = [f"Date: {summary['date']}."]
    if args.command:
        header.append(f"Command: `{args.command}`.")
    if machine:
        header.append(f"CPU: {machine['cpu_model']}, {machine['cpu_cores']} cores.")
    if manifest:
        # What was staged and from which commit; the package list is in summary.json.
        header += ["", "```", "\n".join(manifest.splitlines()[:4]), "```"]
    if software:
        header = ["**SOFTWARE ADAPTER: no GPU was used. The columns below time the CPU "
                  "running the shaders; they are not GPU numbers and must not be recorded as such.**",
                  ""] + header
    text = "\n".join(header + [""] + markdown).rstrip() + "\n"
    print(text)
    with open(os.path.join(args.out, "summary.md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(f"wrote {os.path.join(args.out, 'summary.json')} and summary.md")
    if missing:
        print(f"missing downhill results for: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
