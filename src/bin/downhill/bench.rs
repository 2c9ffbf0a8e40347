//! `downhill bench`: throughput of one or more devices across batch sizes
//! on seeded synthetic data, against the machine's measured peak.

use std::path::PathBuf;
use std::time::Instant;

use downhill::{Device, GradientDescent, Model, Optimizer, Shuffle, Synthetic, Variant};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;

/// Arguments of `downhill bench`.
#[derive(clap::Args, Debug)]
// Negative values reach downhill's own checks (`--lr -1`) rather than
// reading as unknown options.
#[command(allow_negative_numbers = true)]
pub struct BenchArgs {
    /// Rows of the synthetic data.
    #[arg(long, default_value_t = 1_000_000)]
    rows: usize,
    /// Features of the synthetic data.
    #[arg(long, default_value_t = 64)]
    features: usize,
    /// `linear` (targets x·w + b + noise) or `logistic` (Bernoulli labels).
    #[arg(long, default_value = "linear")]
    model: Model,
    /// Comma-separated batch sizes (`N` or `minibatch:N`, `sgd`), `full`
    /// for the full batch.
    #[arg(long, default_value = "32,256,4096,65536,full", value_delimiter = ',')]
    batch_sizes: Vec<Variant>,
    /// Comma-separated row orders of the mini-batch runs: rows, blocks:N,
    /// none (one run each; the full batch runs once).
    #[arg(long, default_value = "rows", value_delimiter = ',')]
    shuffle: Vec<Shuffle>,
    /// Epochs per run; the throughput is averaged over them.
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Comma-separated devices: `cpu`, `gpu`.
    #[arg(long, default_value = "cpu,gpu", value_delimiter = ',')]
    device: Vec<Device>,
    /// Learning rate of the plain SGD runs (small enough for batch 1 on
    /// standard-normal features).
    #[arg(long, default_value_t = 0.001)]
    lr: f32,
    /// Seed of the data and of the batch order.
    #[arg(long, default_value_t = downhill::DEFAULT_SEED)]
    seed: u64,
    /// Also write the results, with the machine, to this JSON file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Instead of timing, write the data as x.npy and y.npy (float32) into
    /// this folder, generated block by block straight into the files, so
    /// that a file of any size (larger than memory) can be made; then fit
    /// it with `downhill fit --data FOLDER/x.npy --target FOLDER/y.npy`.
    #[arg(long, value_name = "FOLDER")]
    write: Option<PathBuf>,
    /// Also write X and y as raw little-endian f32 (x.f32, y.f32) into this
    /// folder, for the peer script to time other libraries on the same data.
    #[arg(long)]
    dump_data: Option<PathBuf>,
}

#[derive(Serialize)]
struct Machine {
    cpu_model: String,
    cpu_cores: usize,
    host_read_gb_per_s: f64,
    gpu: Option<GpuMachine>,
}

#[derive(Serialize, Clone)]
struct GpuMachine {
    adapter: String,
    backend: String,
    device_type: String,
    driver: String,
    copy_gb_per_s: f64,
    largest_binding_bytes: u64,
    x_buffers: usize,
}

#[derive(Serialize)]
struct Run {
    device: String,
    batch_size: String,
    shuffle: String,
    epochs: usize,
    seconds: f64,
    samples_per_s: f64,
    steps_per_s: f64,
    gb_per_s: f64,
    percent_of_peak: f64,
    final_loss: f64,
    /// Why the run could not be made, where it could not.
    error: Option<String>,
}

#[derive(Serialize)]
struct Report {
    rows: usize,
    features: usize,
    model: String,
    x_bytes: u64,
    generation_seconds: f64,
    machine: Machine,
    runs: Vec<Run>,
}

/// A batch size as the tables show it: `full` or the rows per step.
fn batch_label(variant: Variant) -> String {
    match variant.batch_size() {
        None => "full".into(),
        Some(size) => size.to_string(),
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|name| name.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// Bytes per second at which all cores read `values`: the best of three
/// parallel sums over it.
fn host_read_bandwidth(values: &[f32]) -> f64 {
    const LANES: usize = 32;
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let start = Instant::now();
        // Many independent sums per chunk, so that the compiler keeps them
        // in vector registers and the loop is bound by memory, not by a
        // chain of dependent additions.
        let sum: f32 = values
            .par_chunks(1 << 16)
            .map(|chunk| {
                let mut lanes = [0.0f32; LANES];
                let blocks = chunk.chunks_exact(LANES);
                let tail: f32 = blocks.remainder().iter().sum();
                for block in blocks {
                    let block: &[f32; LANES] = block.try_into().expect("exact chunks");
                    for lane in 0..LANES {
                        lanes[lane] += block[lane];
                    }
                }
                lanes.iter().sum::<f32>() + tail
            })
            .sum();
        std::hint::black_box(sum);
        best = best.min(start.elapsed().as_secs_f64());
    }
    std::mem::size_of_val(values) as f64 / best
}

fn gb(bytes: f64) -> f64 {
    bytes / 1e9
}

/// Runs the benchmark and prints its tables.
pub fn bench(args: &BenchArgs) -> Result<(), String> {
    let model = args.model;
    if let Some(folder) = &args.write {
        return write(args, folder);
    }
    if let Some(auto) = args.device.iter().find(|d| **d == Device::Auto) {
        return Err(format!(
            "--device takes cpu and gpu, not {auto}: the bench names what it measures"
        ));
    }
    // Each mini-batch size once per shuffle; the full batch, which reads
    // the rows in storage order, once.
    let variants: Vec<(String, Variant, Shuffle)> = args
        .batch_sizes
        .iter()
        .flat_map(|&v| {
            let shuffles = match v {
                Variant::Full => vec![Shuffle::None],
                _ => args.shuffle.clone(),
            };
            shuffles
                .into_iter()
                .map(move |shuffle| (batch_label(v), v, shuffle))
        })
        .collect();
    if args.epochs == 0 {
        return Err("--epochs must be at least 1".into());
    }
    // Refused before anything is allocated: a shape that overflows, or
    // X beyond the memory budget that `fit` streams within.
    let x_bytes = Synthetic::check_within(args.rows, args.features, downhill::memory::default_budget())
        .map_err(|e| e.to_string())? as u64;
    eprintln!(
        "generating {} rows × {} features ({:.2} GB of X), {} model, seed {} ...",
        args.rows,
        args.features,
        gb(x_bytes as f64),
        args.model,
        args.seed
    );
    let started = Instant::now();
    let data =
        Synthetic::generate(model, args.rows, args.features, 0.1, args.seed).map_err(|e| e.to_string())?;
    let generation_seconds = started.elapsed().as_secs_f64();
    eprintln!("generated in {generation_seconds:.1} s (not counted)");
    if let Some(folder) = &args.dump_data {
        dump(folder, &data)?;
    }

    let x = data.x.as_slice().expect("generated data are contiguous");
    let host_read = host_read_bandwidth(x);
    let gpu = if args.device.contains(&Device::Gpu) {
        Some(gpu_machine(x_bytes)?)
    } else {
        None
    };
    let machine = Machine {
        cpu_model: cpu_model(),
        cpu_cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        host_read_gb_per_s: gb(host_read),
        gpu: gpu.as_ref().map(|(m, _)| m.clone()),
    };
    say!(
        "machine: {} ({} cores), host read bandwidth {:.1} GB/s",
        machine.cpu_model,
        machine.cpu_cores,
        machine.host_read_gb_per_s
    );
    if let Some(gpu) = &machine.gpu {
        say!(
            "GPU: {} ({}, {}, {}), copy bandwidth {:.1} GB/s (read + write)",
            gpu.adapter,
            gpu.backend,
            gpu.device_type,
            gpu.driver,
            gpu.copy_gb_per_s
        );
        if gpu.x_buffers > 1 {
            say!(
                "X ({:.2} GB) exceeds the adapter's largest binding ({:.2} GB): split across {} buffers",
                gb(x_bytes as f64),
                gb(gpu.largest_binding_bytes as f64),
                gpu.x_buffers
            );
        }
        if gpu.device_type == "Cpu" {
            say!("note: a software adapter runs the shaders on the CPU; its timings say nothing about a GPU");
        }
    }

    let devices = args.device.clone();
    let progress = ProgressBar::new((devices.len() * variants.len()) as u64);
    progress.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} runs, {elapsed} {msg}").expect("a valid template"),
    );
    let mut runs = Vec::new();
    for &device in &devices {
        for (name, variant, shuffle) in &variants {
            progress.set_message(format!("{} batch {name} {shuffle}", device.name()));
            let mut descent = GradientDescent::new(model)
                .variant(*variant)
                .shuffle(*shuffle)
                .optimizer(Optimizer::sgd(args.lr))
                .max_epochs(args.epochs)
                .divergence_factor(f64::INFINITY)
                .seed(args.seed)
                .device(device);
            if let (Device::Gpu, Some((_, context))) = (device, &gpu) {
                descent = descent.gpu_context(context.clone());
            }
            let peak = match device {
                Device::Gpu => gpu.as_ref().map_or(f64::NAN, |(m, _)| m.copy_gb_per_s),
                _ => gb(host_read),
            };
            runs.push(match descent.fit(data.x.view(), data.y.view()) {
                Ok(fitted) => {
                    let seconds = fitted.history().records().last().map_or(f64::NAN, |r| r.seconds);
                    let epochs = fitted.history().len();
                    let gb_per_s = gb((x_bytes * epochs as u64) as f64) / seconds;
                    Run {
                        device: device.name().into(),
                        batch_size: name.clone(),
                        shuffle: shuffle.to_string(),
                        epochs,
                        seconds,
                        samples_per_s: (args.rows * epochs) as f64 / seconds,
                        steps_per_s: fitted.gradient_evaluations() as f64 / seconds,
                        gb_per_s,
                        percent_of_peak: 100.0 * gb_per_s / peak,
                        final_loss: fitted.history().final_loss().unwrap_or(f64::NAN),
                        error: None,
                    }
                }
                Err(error) => Run {
                    device: device.name().into(),
                    batch_size: name.clone(),
                    shuffle: shuffle.to_string(),
                    epochs: 0,
                    seconds: f64::NAN,
                    samples_per_s: f64::NAN,
                    steps_per_s: f64::NAN,
                    gb_per_s: f64::NAN,
                    percent_of_peak: f64::NAN,
                    final_loss: f64::NAN,
                    error: Some(error.to_string()),
                },
            });
            progress.inc(1);
        }
    }
    progress.finish_and_clear();

    for device in &devices {
        let peak = if *device == Device::Gpu {
            "GPU copy"
        } else {
            "host read"
        };
        say!(
            "\n{} ({} epochs per run; % of the {peak} bandwidth)",
            device.name(),
            args.epochs
        );
        say!(
            "{:>8} {:>12} {:>14} {:>12} {:>8} {:>7} {:>12}",
            "batch",
            "shuffle",
            "samples/s",
            "steps/s",
            "GB/s",
            "% peak",
            "final loss"
        );
        for run in runs.iter().filter(|r| r.device == device.name()) {
            match &run.error {
                Some(error) => say!("{:>8} {:>12} skipped: {error}", run.batch_size, run.shuffle),
                None => say!(
                    "{:>8} {:>12} {:>14.4e} {:>12.4e} {:>8.2} {:>7.1} {:>12.6}",
                    run.batch_size,
                    run.shuffle,
                    run.samples_per_s,
                    run.steps_per_s,
                    run.gb_per_s,
                    run.percent_of_peak,
                    run.final_loss
                ),
            }
        }
    }

    if let Some(path) = &args.json {
        let report = Report {
            rows: args.rows,
            features: args.features,
            model: args.model.to_string(),
            x_bytes,
            generation_seconds,
            machine,
            runs,
        };
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        downhill::atomic_file::write_atomically(path, |file| {
            use std::io::Write;
            file.write_all(text.as_bytes())
        })
        .map_err(|e| e.to_string())?;
        say!("\nwrote {}", path.display());
    }
    Ok(())
}

/// `--write FOLDER`: the data as .npy files, made in place.
fn write(args: &BenchArgs, folder: &std::path::Path) -> Result<(), String> {
    std::fs::create_dir_all(folder).map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
    let (x_path, y_path) = (folder.join("x.npy"), folder.join("y.npy"));
    let started = Instant::now();
    downhill::npy::write_synthetic(
        args.model,
        args.rows,
        args.features,
        0.1,
        args.seed,
        &x_path,
        &y_path,
    )
    .map_err(|e| e.to_string())?;
    let bytes = (args.rows * (args.features + 1) * 4) as f64;
    say!(
        "wrote {} and {} ({} rows × {} features, {:.2} GB) in {:.1} s",
        x_path.display(),
        y_path.display(),
        args.rows,
        args.features,
        bytes / 1e9,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn gpu_machine(x_bytes: u64) -> Result<(GpuMachine, std::sync::Arc<downhill::GpuContext>), String> {
    let context = downhill::GpuContext::shared().map_err(|e| e.to_string())?;
    let adapter = context.adapter();
    // Large enough that the submission's fixed cost is lost in the copy.
    let copy = context
        .copy_bandwidth(x_bytes.clamp(64 << 20, 1 << 30))
        .map_err(|e| e.to_string())?;
    let binding = adapter.max_binding_bytes;
    Ok((
        GpuMachine {
            adapter: adapter.name.clone(),
            backend: adapter.backend.clone(),
            device_type: adapter.device_type.clone(),
            driver: adapter.driver.clone(),
            copy_gb_per_s: gb(copy),
            largest_binding_bytes: binding,
            x_buffers: x_bytes.div_ceil(binding) as usize,
        },
        context,
    ))
}

/// The rows as raw little-endian float32 files, each written whole or not
/// at all.
fn dump(folder: &std::path::Path, data: &Synthetic) -> Result<(), String> {
    use std::io::Write;
    std::fs::create_dir_all(folder).map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
    for (name, values) in [
        ("x.f32", data.x.as_slice().expect("contiguous")),
        ("y.f32", data.y.as_slice().expect("contiguous")),
    ] {
        downhill::atomic_file::write_atomically(folder.join(name), |file| {
            let mut file = std::io::BufWriter::new(file);
            for chunk in values.chunks(1 << 16) {
                let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
                file.write_all(&bytes)?;
            }
            file.flush()
        })
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}
