#!/usr/bin/env python3
"""Combines what benches/gpu/run.sh measured into one table per model and
summary.json / summary.md; standard library only.

    python3 benches/gpu/summarize.py --out DIR [--models linear,logistic]
        [--manifest .gpu-bench/MANIFEST] [--command "benches/gpu/run.sh ..."]

Reads DIR/downhill-MODEL.json (`downhill bench --json`) and
DIR/torch-MODEL.json (torch_peers.py). Columns, per batch size:

- ours on the GPU, samples/s: rows × epochs / seconds of the whole fit
  (every shuffle, step and update), from downhill's JSON;
- PyTorch on the GPU, samples/s: rows / median epoch seconds;
- ours ÷ PyTorch;
- ours as % of copy bandwidth: bytes of X read per second (X once per
  epoch) over the device-to-device copy bandwidth downhill bench measured
  on the same adapter (bytes read + bytes written per second);
- ours µs per step: 1e6 / downhill's steps_per_s.
"""
import argparse
import datetime
import json
import os
import sys


def rate(value):
    """1.23e8, as BENCHMARKS.md writes samples/s."""
    mantissa, exponent = f"{value:.2e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def gpu_runs(report):
    return {run["batch_size"]: run for run in report["runs"] if run["device"] == "gpu"}


def cpu_runs(report):
    return {run["batch_size"]: run for run in report["runs"] if run["device"] == "cpu"}


def ours(report, run):
    """Our figures for one run, recomputed from the JSON's raw fields."""
    if run.get("error") is not None or not run.get("seconds"):
        return None
    seconds, epochs = run["seconds"], run["epochs"]
    copy = report["machine"]["gpu"]["copy_gb_per_s"] * 1e9
    return {
        "samples_per_s": report["rows"] * epochs / seconds,
        "percent_of_copy": 100.0 * report["x_bytes"] * epochs / seconds / copy,
        "us_per_step": 1e6 / run["steps_per_s"],
        "steps_per_s": run["steps_per_s"],
        "seconds": seconds,
        "epochs": epochs,
        "final_loss": run["final_loss"],
    }


def model_table(model, report, peers):
    """Markdown lines and the JSON rows of one model's table."""
    gpu = report["machine"]["gpu"]
    software = gpu["device_type"] == "Cpu"
    where = "the software adapter" if software else "the GPU"
    x_bytes = report["x_bytes"]
    size = f"{x_bytes / 1e9:.2f} GB" if x_bytes >= 1e8 else f"{x_bytes / 1e6:.2f} MB"
    lines = [
        f"### {model}: {report['rows']:,} × {report['features']} f32 ({size} of X), SGD lr 0.001",
        "",
        f"- adapter: {gpu['adapter']} ({gpu['backend']}, {gpu['device_type']}, {gpu['driver']}); "
        f"device-to-device copy {gpu['copy_gb_per_s']:.1f} GB/s (read + write), measured by downhill bench",
    ]
    if peers is None:
        peer_cell = "failed"
        lines.append("- PyTorch: failed (no result file; see the run's log)")
    elif peers.get("skipped"):
        peer_cell = f"skipped: {peers['skipped']}"
        lines.append(f"- PyTorch: {peer_cell} ({peers.get('detail', '')})")
    else:
        peer_cell = None
        lines.append(f"- PyTorch {peers['torch']} (CUDA {peers['cuda']}) on {peers['device']}, "
                     f"{peers['python']}; samples/s = rows / median epoch seconds, "
                     f"median of {peers['runs'][0]['epochs'] if peers['runs'] else '?'} epochs")
    epochs = {run["epochs"] for run in report["runs"] if run["device"] == "gpu" and run.get("error") is None}
    lines.append(f"- ours: epochs per run {', '.join(str(e) for e in sorted(epochs)) or '?'}, "
                 f"samples/s = rows × epochs / seconds of the whole fit; µs per step = 1e6 / steps per second")
    if software:
        lines.append("- **software adapter: these timings are the CPU running the shaders, not GPU numbers**")
    lines += [
        "",
        f"| batch | ours on {where} (samples/s) | PyTorch on the GPU (samples/s) | ours ÷ PyTorch "
        f"| ours, % of copy bandwidth | ours, µs per step |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    peer_runs = {} if peer_cell is not None else {run["batch_size"]: run for run in peers["runs"]}
    ours_cpu = cpu_runs(report)
    rows = []
    for name, run in gpu_runs(report).items():
        mine = ours(report, run)
        theirs = peer_runs.get(name)
        row = {"batch_size": name, "ours": mine, "ours_error": run.get("error"), "pytorch": theirs}
        cpu = ours_cpu.get(name)
        if cpu is not None and cpu.get("error") is None and cpu.get("seconds"):
            row["ours_cpu_samples_per_s"] = report["rows"] * cpu["epochs"] / cpu["seconds"]
        if mine is None:
            cells = [f"error: {run.get('error')}", "", "", "", ""]
        else:
            cells = [rate(mine["samples_per_s"]), "", "–",
                     f"{mine['percent_of_copy']:.1f}", f"{mine['us_per_step']:.2f}"]
        if theirs is not None:
            cells[1] = rate(theirs["samples_per_s"])
            if mine is not None:
                row["ratio"] = mine["samples_per_s"] / theirs["samples_per_s"]
                cells[2] = f"{row['ratio']:.2f}×"
        else:
            cells[1] = peer_cell or "not run"
        rows.append(row)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines, rows, software


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
