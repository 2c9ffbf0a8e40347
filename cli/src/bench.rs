//! `downhill bench`: throughput of one or more devices across batch sizes
//! on seeded synthetic data, against the machine's measured peak.
//!
//! The clock of a run starts with the data already on the device: every
//! run takes one warm-up epoch first, and the figures come from the epochs
//! after it (the median epoch for the rates), so that neither the upload
//! nor a first epoch's one-off costs (pipelines built, pages touched) are
//! counted, and one slow epoch cannot move the rate. Beside the times, each
//! run reports what the engine counted it did (dispatches per step, round
//! trips per epoch, bytes of X read), figures that do not depend on the
//! machine's speed.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use downhill::{
    CvOptions, Device, Fitted, Folds, GpuContext, GpuOptions, GradientDescent, KernelGeneration, Model,
    Optimizer, PathFitting, Penalty, Shuffle, Synthetic, Variant,
};
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
    /// Timed epochs per run, after one untimed warm-up epoch; the rates
    /// are those of the median timed epoch.
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Comma-separated devices: `cpu`, `gpu`.
    #[arg(long, default_value = "cpu,gpu", value_delimiter = ',')]
    device: Vec<Device>,
    /// Comma-separated generations of the GPU kernels: `current`,
    /// `legacy`. Each GPU run is made once per generation; with both, the
    /// output gives current ÷ legacy per configuration.
    #[arg(long, default_value = "current", value_delimiter = ',')]
    kernels: Vec<KernelGeneration>,
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
    /// Sparse rows instead, of about this many entries a row among
    /// --features (shaped like text: power-law feature frequencies, unit
    /// rows; `Synthetic::sparse`), fitted from their CSR arrays; the rates
    /// are of CSR bytes (8 an entry).
    #[arg(long, value_name = "ENTRIES")]
    sparse: Option<usize>,
    /// Instead of the batch sizes: a regularization path of this many L2
    /// strengths (1 down to 1e-4), fitted together by full-batch gradient
    /// descent (`GradientDescent::path`, one pass over the rows a round for
    /// every model), timed against one fit of the same epochs, on each
    /// device and kernel generation.
    #[arg(long, value_name = "STRENGTHS")]
    path: Option<usize>,
    /// With --path: also a cross-validation of the path's strengths over
    /// this many folds, the folds side by side in one lockstep
    /// (`PathFitting::FoldsTogether`: one read of the rows a pass for
    /// every fold) and one after another (`WarmStarted`), each timed.
    #[arg(long, value_name = "K", requires = "path")]
    folds: Option<usize>,
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

/// Untimed epochs at the start of every run: the first epoch of a fit pays
/// once for what the later ones reuse (pipelines built on first use, pages
/// and caches touched), which is not the cost of an epoch.
const WARM_UP_EPOCHS: usize = 1;

/// One configuration's result, as the JSON holds it.
#[derive(Serialize)]
struct Run {
    device: String,
    /// The generation of the GPU kernels; `None` for the CPU.
    kernels: Option<String>,
    batch_size: String,
    shuffle: String,
    /// What was measured; absent where the run could not be made.
    #[serde(flatten)]
    measured: Option<Measured>,
    /// Why the run could not be made, where it could not.
    error: Option<String>,
}

/// The times and the counted work of a run that was made.
#[derive(Serialize)]
struct Measured {
    /// Timed epochs: those after the warm-up.
    epochs: usize,
    /// Untimed epochs before them.
    warmup_epochs: usize,
    steps_per_epoch: f64,
    /// Each timed epoch's seconds (the host's shuffle included).
    epoch_seconds: Vec<f64>,
    /// The median of `epoch_seconds`: what the rates below are from.
    median_epoch_seconds: f64,
    /// The timed epochs' seconds together.
    seconds: f64,
    /// Median epoch / steps per epoch.
    us_per_step: f64,
    samples_per_s: f64,
    steps_per_s: f64,
    /// X's size / median epoch.
    gb_per_s: f64,
    /// `gb_per_s` as a percentage of the device's measured peak (host
    /// read bandwidth; GPU copy bandwidth, read + write).
    percent_of_peak: f64,
    /// Seconds per epoch the host spent drawing the row orders (inside
    /// the epoch times).
    shuffle_seconds_per_epoch: f64,
    dispatches_per_step: f64,
    submissions_per_epoch: f64,
    readbacks_per_epoch: f64,
    /// Bytes of X read per epoch, as the kernels are designed to read them.
    x_bytes_read_per_epoch: f64,
    /// `x_bytes_read_per_epoch` as a multiple of X's size.
    x_reads_per_epoch: f64,
    uploaded_bytes_per_epoch: f64,
    /// The engine's counts over every epoch, the warm-up included.
    work: Work,
    final_loss: f64,
}

/// [`downhill::WorkCounts`] as the JSON holds it.
#[derive(Serialize)]
struct Work {
    epochs: u64,
    steps: u64,
    dispatches: u64,
    submissions: u64,
    readbacks: u64,
    uploaded_bytes: u64,
    x_bytes_read: u64,
    shuffle_seconds: f64,
}

impl From<downhill::WorkCounts> for Work {
    fn from(counts: downhill::WorkCounts) -> Self {
        Work {
            epochs: counts.epochs,
            steps: counts.steps,
            dispatches: counts.dispatches,
            submissions: counts.submissions,
            readbacks: counts.readbacks,
            uploaded_bytes: counts.uploaded_bytes,
            x_bytes_read: counts.x_bytes_read,
            shuffle_seconds: counts.shuffle_seconds,
        }
    }
}

#[derive(Serialize)]
struct Report {
    rows: usize,
    features: usize,
    model: String,
    x_bytes: u64,
    /// How the runs were timed, in words.
    timing: String,
    /// Timed epochs per run, as asked.
    epochs: usize,
    warmup_epochs: usize,
    /// The GPU kernel generations run (none without a GPU run).
    kernels: Vec<String>,
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

/// The median of `values` (not empty): the middle one, or the mean of the
/// two middle ones.
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    }
}

/// The figures of a finished fit of `rows` rows and `x_bytes` bytes of X,
/// against a peak of `peak_gb_per_s`: times from the epochs after the
/// warm-up, work from the engine's counts.
fn measure(fitted: &Fitted, rows: usize, x_bytes: u64, peak_gb_per_s: f64) -> Result<Measured, String> {
    let records = fitted.history().records();
    if records.len() <= WARM_UP_EPOCHS {
        return Err(format!(
            "the fit stopped after {} epoch(s) ({}): none after the warm-up to time",
            records.len(),
            fitted.stop_reason()
        ));
    }
    // Each record's seconds run from the fit's start, so an epoch's time
    // is the difference from the record before it; the warm-up epoch's
    // record is only the start of the first timed one.
    let epoch_seconds: Vec<f64> = records[WARM_UP_EPOCHS - 1..]
        .windows(2)
        .map(|pair| pair[1].seconds - pair[0].seconds)
        .collect();
    let median_epoch_seconds = median(&epoch_seconds);
    let work = fitted.work();
    let epochs_counted = work.epochs.max(1) as f64;
    // Every epoch of a plan takes the same number of steps.
    let steps_per_epoch = work.steps as f64 / epochs_counted;
    let gb_per_s = gb(x_bytes as f64) / median_epoch_seconds;
    Ok(Measured {
        epochs: epoch_seconds.len(),
        warmup_epochs: WARM_UP_EPOCHS,
        steps_per_epoch,
        seconds: epoch_seconds.iter().sum(),
        median_epoch_seconds,
        epoch_seconds,
        us_per_step: 1e6 * median_epoch_seconds / steps_per_epoch,
        samples_per_s: rows as f64 / median_epoch_seconds,
        steps_per_s: steps_per_epoch / median_epoch_seconds,
        gb_per_s,
        percent_of_peak: 100.0 * gb_per_s / peak_gb_per_s,
        shuffle_seconds_per_epoch: work.shuffle_seconds / epochs_counted,
        dispatches_per_step: work.dispatches_per_step(),
        submissions_per_epoch: work.submissions_per_epoch(),
        readbacks_per_epoch: work.readbacks_per_epoch(),
        x_bytes_read_per_epoch: work.x_bytes_per_epoch(),
        x_reads_per_epoch: work.x_bytes_per_epoch() / x_bytes as f64,
        uploaded_bytes_per_epoch: work.uploaded_bytes as f64 / epochs_counted,
        work: work.into(),
        final_loss: fitted.history().final_loss().unwrap_or(f64::NAN),
    })
}

/// `bytes` in B, KB, MB or GB (powers of 1000), for the tables.
fn byte_size(bytes: f64) -> String {
    match bytes {
        b if b >= 1e9 => format!("{:.2} GB", b / 1e9),
        b if b >= 1e6 => format!("{:.2} MB", b / 1e6),
        b if b >= 1e3 => format!("{:.2} KB", b / 1e3),
        b => format!("{b:.0} B"),
    }
}

/// A count per step or per epoch for the tables: whole numbers as they
/// are, fractions to two decimals, and those too small for two decimals (a
/// few dispatches per epoch of hundreds of steps) in scientific notation
/// rather than as a misleading 0.00.
fn count(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else if value.abs() >= 0.01 {
        format!("{value:.2}")
    } else {
        format!("{value:.2e}")
    }
}

/// The kernel generations of `--kernels`, each once, in the order given.
fn kernel_generations(asked: &[KernelGeneration]) -> Vec<KernelGeneration> {
    let mut generations = Vec::new();
    for &generation in asked {
        if !generations.contains(&generation) {
            generations.push(generation);
        }
    }
    generations
}

/// A GPU context whose steps run `kernels`: the one every GPU fit shares
/// for the default generation, as `fit` uses it; a context of its own for
/// another.
fn gpu_context(kernels: KernelGeneration) -> Result<Arc<GpuContext>, String> {
    let context = if kernels == KernelGeneration::default() {
        GpuContext::shared()
    } else {
        GpuContext::with_options(GpuOptions {
            kernels,
            ..GpuOptions::default()
        })
    };
    context.map_err(|e| format!("no GPU context for the {} kernels: {e}", kernels.name()))
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
    let generations = kernel_generations(&args.kernels);
    if let Some(per_row) = args.sparse {
        return bench_sparse(args, per_row, &variants, &generations);
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
        Some(gpu_machine(x_bytes, &generations)?)
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

    if let Some(count) = args.path {
        return bench_path(args, &data, count, &gpu, &generations, host_read);
    }
    let devices = args.device.clone();
    // The configurations of a device: on the GPU, each batch size once per
    // kernel generation, the generations of one batch size one after the
    // other so that both see the machine in the same state.
    // Each as indices into `variants` and `generations` (none on the CPU).
    let configurations = |device: Device| -> Vec<(usize, Option<usize>)> {
        (0..variants.len())
            .flat_map(|v| match device {
                Device::Gpu => (0..generations.len()).map(|g| (v, Some(g))).collect(),
                _ => vec![(v, None)],
            })
            .collect()
    };
    let total: usize = devices.iter().map(|&d| configurations(d).len()).sum();
    let progress = ProgressBar::new(total as u64);
    progress.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} runs, {elapsed} {msg}").expect("a valid template"),
    );
    let mut runs = Vec::new();
    for &device in &devices {
        for (v, generation) in configurations(device) {
            let (name, variant, shuffle) = &variants[v];
            let kernels = generation.map(|g| generations[g]);
            progress.set_message(format!(
                "{}{} batch {name} {shuffle}",
                device.name(),
                kernels.map_or(String::new(), |k| format!(" {}", k.name()))
            ));
            let (descent, peak) = timed_run(args, (*variant, *shuffle), device, generation, &gpu, host_read);
            let measured = descent
                .fit(data.x.view(), data.y.view())
                .map_err(|e| e.to_string())
                .and_then(|fitted| measure(&fitted, args.rows, x_bytes, peak));
            let (measured, error) = match measured {
                Ok(measured) => (Some(measured), None),
                Err(error) => (None, Some(error)),
            };
            runs.push(Run {
                device: device.name().into(),
                kernels: kernels.map(|k| k.name().to_string()),
                batch_size: name.clone(),
                shuffle: shuffle.to_string(),
                measured,
                error,
            });
            progress.inc(1);
        }
    }
    progress.finish_and_clear();

    for device in &devices {
        print_tables(device, args.epochs, x_bytes, &runs);
    }
    if devices.contains(&Device::Gpu) {
        print_kernel_ratios(&runs, &generations);
    }

    if let Some(path) = &args.json {
        let report = Report {
            rows: args.rows,
            features: args.features,
            model: args.model.to_string(),
            x_bytes,
            timing: format!(
                "{WARM_UP_EPOCHS} untimed warm-up epoch, then the timed epochs; the clock starts with the \
                 data on the device (the upload is not timed); rates from the median timed epoch"
            ),
            epochs: args.epochs,
            warmup_epochs: WARM_UP_EPOCHS,
            kernels: if devices.contains(&Device::Gpu) {
                generations.iter().map(|k| k.name().to_string()).collect()
            } else {
                Vec::new()
            },
            generation_seconds,
            machine,
            runs,
        };
        write_json(path, &report)?;
    }
    Ok(())
}

/// The settings of one timed run (plain SGD at --lr, the warm-up epoch and
/// the timed ones, no stop but the epochs) on `device`, with the GPU
/// context of kernel generation `generation`, and the bandwidth its rate
/// is measured against.
fn timed_run(
    args: &BenchArgs,
    (variant, shuffle): (Variant, Shuffle),
    device: Device,
    generation: Option<usize>,
    gpu: &Option<(GpuMachine, Vec<Arc<GpuContext>>)>,
    host_read: f64,
) -> (GradientDescent, f64) {
    let mut descent = GradientDescent::new(args.model)
        .variant(variant)
        .shuffle(shuffle)
        .optimizer(Optimizer::sgd(args.lr))
        .max_epochs(WARM_UP_EPOCHS + args.epochs)
        .divergence_factor(f64::INFINITY)
        .seed(args.seed)
        .device(device);
    if let (Some(g), Some((_, contexts))) = (generation, gpu) {
        descent = descent.gpu_context(contexts[g].clone());
    }
    let peak = match device {
        Device::Gpu => gpu.as_ref().map_or(f64::NAN, |(m, _)| m.copy_gb_per_s),
        _ => gb(host_read),
    };
    (descent, peak)
}

/// One device's path against its one fit, as the JSON of `--path` holds it.
#[derive(Serialize)]
struct PathRun {
    device: String,
    kernels: Option<String>,
    one_fit_seconds: Option<f64>,
    path_seconds: Option<f64>,
    /// The path's seconds over the one fit's.
    ratio: Option<f64>,
    /// The passes of every model of the path together.
    model_passes: Option<u64>,
    /// With --folds: the cross-validation's seconds, the folds side by
    /// side and one after another.
    folds_together_seconds: Option<f64>,
    folds_apart_seconds: Option<f64>,
    error: Option<String>,
}

/// `downhill bench --path N`: on each device (and GPU kernel generation),
/// one full-batch fit of the warm-up and timed epochs at the strongest of
/// `count` L2 strengths, then the path of all of them in lockstep, the
/// same epochs each; both timed after an untimed fit that builds what a
/// first fit builds.
fn bench_path(
    args: &BenchArgs,
    data: &Synthetic,
    count: usize,
    gpu: &Option<(GpuMachine, Vec<Arc<GpuContext>>)>,
    generations: &[KernelGeneration],
    host_read: f64,
) -> Result<(), String> {
    if count < 2 {
        return Err(format!("--path takes at least 2 strengths, not {count}"));
    }
    let strengths: Vec<f32> = (0..count)
        .map(|k| 10f32.powf(-4.0 * k as f32 / (count - 1) as f32))
        .collect();
    let (x, y) = (data.x.view(), data.y.view());
    let mut runs = Vec::new();
    for &device in &args.device {
        let kernels: Vec<Option<usize>> = match device {
            Device::Gpu => (0..generations.len()).map(Some).collect(),
            _ => vec![None],
        };
        for generation in kernels {
            let (descent, _) = timed_run(
                args,
                (Variant::Full, Shuffle::None),
                device,
                generation,
                gpu,
                host_read,
            );
            let descent = descent.penalty(Penalty::L2(strengths[0])).tolerance(0.0);
            let mut run = PathRun {
                device: device.name().into(),
                kernels: generation.map(|g| generations[g].name().to_string()),
                one_fit_seconds: None,
                path_seconds: None,
                ratio: None,
                model_passes: None,
                folds_together_seconds: None,
                folds_apart_seconds: None,
                error: None,
            };
            let timed = || -> Result<(f64, f64, u64), String> {
                descent.fit(x, y).map_err(|e| e.to_string())?;
                let started = Instant::now();
                descent.fit(x, y).map_err(|e| e.to_string())?;
                let one = started.elapsed().as_secs_f64();
                let started = Instant::now();
                let path = descent.path(x, y, &strengths).map_err(|e| e.to_string())?;
                let seconds = started.elapsed().as_secs_f64();
                Ok((one, seconds, path.iter().map(|f| f.gradient_evaluations()).sum()))
            };
            // The folds of a cross-validation of the same strengths, side
            // by side and one after another: the same fits either way.
            let cross_validated = |count: usize| -> Result<(f64, f64), String> {
                let folds = match args.model {
                    Model::Logistic => Folds::stratified(y, count, args.seed),
                    Model::Linear => Folds::new(x.nrows(), count, args.seed),
                }
                .map_err(|e| e.to_string())?;
                let mut seconds = [0.0; 2];
                for (slot, fitting) in [PathFitting::FoldsTogether, PathFitting::WarmStarted]
                    .into_iter()
                    .enumerate()
                {
                    let options = CvOptions {
                        fitting,
                        ..CvOptions::default()
                    };
                    let started = Instant::now();
                    descent
                        .cross_validate(x, y, &strengths, &folds, options)
                        .map_err(|e| e.to_string())?;
                    seconds[slot] = started.elapsed().as_secs_f64();
                }
                Ok((seconds[0], seconds[1]))
            };
            match timed() {
                Ok((one, path, passes)) => {
                    run.one_fit_seconds = Some(one);
                    run.path_seconds = Some(path);
                    run.ratio = Some(path / one);
                    run.model_passes = Some(passes);
                    if let Some(count) = args.folds {
                        match cross_validated(count) {
                            Ok((together, apart)) => {
                                run.folds_together_seconds = Some(together);
                                run.folds_apart_seconds = Some(apart);
                            }
                            Err(error) => run.error = Some(error),
                        }
                    }
                }
                Err(error) => run.error = Some(error),
            }
            runs.push(run);
        }
    }
    let epochs = WARM_UP_EPOCHS + args.epochs;
    say!(
        "\na path of {count} L2 strengths (1 to 1e-4), {epochs} full-batch epochs each, against one fit of {epochs} epochs"
    );
    say!("| device | kernels | one fit (s) | path (s) | path ÷ one fit | model-passes |");
    say!("|---|---|---:|---:|---:|---:|");
    for run in &runs {
        let cell = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
        say!(
            "| {} | {} | {} | {} | {} | {} |",
            run.device,
            run.kernels.as_deref().unwrap_or("-"),
            cell(run.one_fit_seconds),
            cell(run.path_seconds),
            cell(run.ratio),
            run.model_passes.map_or("-".to_string(), |p| p.to_string())
        );
        if let Some(error) = &run.error {
            say!("  {}: {error}", run.device);
        }
    }
    if let Some(count) = args.folds {
        say!("\ncross-validation of those strengths over {count} folds");
        say!("| device | kernels | folds side by side (s) | one after another (s) | ratio |");
        say!("|---|---|---:|---:|---:|");
        for run in &runs {
            let cell = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
            let ratio = run
                .folds_apart_seconds
                .zip(run.folds_together_seconds)
                .map(|(a, t)| a / t);
            say!(
                "| {} | {} | {} | {} | {} |",
                run.device,
                run.kernels.as_deref().unwrap_or("-"),
                cell(run.folds_together_seconds),
                cell(run.folds_apart_seconds),
                cell(ratio)
            );
        }
    }
    if let Some(path) = &args.json {
        write_json(
            path,
            &serde_json::json!({
            "rows": args.rows,
            "features": args.features,
            "model": args.model.to_string(),
            "folds": args.folds,
            "strengths": strengths,
            "epochs_per_model": epochs,
            "runs": runs,
            }),
        )?;
    }
    Ok(())
}

/// `downhill bench --sparse`: the runs of `variants` on sparse rows of
/// about `per_row` entries, timed as the dense runs are, their rates in
/// CSR bytes.
fn bench_sparse(
    args: &BenchArgs,
    per_row: usize,
    variants: &[(String, Variant, Shuffle)],
    generations: &[KernelGeneration],
) -> Result<(), String> {
    eprintln!(
        "generating {} sparse rows × {} features, about {per_row} entries a row, {} model, seed {} ...",
        args.rows, args.features, args.model, args.seed
    );
    let started = Instant::now();
    let rows = Synthetic::sparse(args.model, args.rows, args.features, per_row, args.seed)
        .map_err(|e| e.to_string())?;
    eprintln!(
        "generated {} entries in {:.1} s (not counted)",
        rows.entries(),
        started.elapsed().as_secs_f64()
    );
    let csr_bytes = rows.bytes() as u64;
    let host_read = host_read_bandwidth(rows.csr().values);
    let gpu = match args.device.contains(&Device::Gpu) {
        true => Some(gpu_machine(csr_bytes, generations)?),
        false => None,
    };
    say!(
        "machine: {} ({} cores), host read bandwidth {:.1} GB/s; CSR arrays {:.3} GB ({} entries)",
        cpu_model(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        gb(host_read),
        gb(csr_bytes as f64),
        rows.entries()
    );
    if let Some((gpu, _)) = &gpu {
        say!("GPU: {} ({}, {})", gpu.adapter, gpu.backend, gpu.device_type);
    }
    let mut runs = Vec::new();
    for &device in &args.device {
        let kernels: Vec<Option<usize>> = match device {
            Device::Gpu => (0..generations.len()).map(Some).collect(),
            _ => vec![None],
        };
        for (name, variant, shuffle) in variants {
            for &generation in &kernels {
                let mut run = Run {
                    device: device.name().into(),
                    kernels: generation.map(|g| generations[g].name().to_string()),
                    batch_size: name.clone(),
                    shuffle: shuffle.to_string(),
                    measured: None,
                    error: None,
                };
                let (descent, peak) =
                    timed_run(args, (*variant, *shuffle), device, generation, &gpu, host_read);
                match descent
                    .fit_source(&rows)
                    .map_err(|e| e.to_string())
                    .and_then(|fitted| measure(&fitted, args.rows, csr_bytes, peak))
                {
                    Ok(measured) => run.measured = Some(measured),
                    Err(error) => run.error = Some(error),
                }
                runs.push(run);
            }
        }
    }
    for device in &args.device {
        print_tables(device, args.epochs, csr_bytes, &runs);
    }
    if let Some(path) = &args.json {
        write_json(
            path,
            &serde_json::json!({
            "rows": args.rows,
            "features": args.features,
            "entries": rows.entries(),
            "csr_bytes": csr_bytes,
            "model": args.model.to_string(),
            "epochs": args.epochs,
            "warmup_epochs": WARM_UP_EPOCHS,
            "runs": runs,
            }),
        )?;
    }
    Ok(())
}

/// Writes `report` as JSON to `path` (through a temporary name) and says so.
fn write_json(path: &std::path::Path, report: &impl Serialize) -> Result<(), String> {
    let text = serde_json::to_string_pretty(report).map_err(|e| e.to_string())?;
    downhill::atomic_file::write_atomically(path, |file| {
        use std::io::Write;
        file.write_all(text.as_bytes())
    })
    .map_err(|e| e.to_string())?;
    say!("\nwrote {}", path.display());
    Ok(())
}

/// The kernel generation of a run as the tables show it (`-` for the CPU).
fn kernels_cell(run: &Run) -> &str {
    run.kernels.as_deref().unwrap_or("-")
}

/// `device`'s two tables: the times, then the work the engine counted.
fn print_tables(device: &Device, timed_epochs: usize, x_bytes: u64, runs: &[Run]) {
    let (peak, excluded) = if *device == Device::Gpu {
        ("GPU copy", "the warm-up epoch and the upload of X")
    } else {
        ("host read", "the warm-up epoch")
    };
    let runs: Vec<&Run> = runs.iter().filter(|r| r.device == device.name()).collect();
    say!(
        "\n{} ({timed_epochs} timed epochs per run after {WARM_UP_EPOCHS} warm-up epoch; times exclude {excluded})",
        device.name()
    );
    say!(
        "rates from the median epoch; epoch ms: the median epoch, the host's shuffle included (shuffle ms: \
         the shuffle alone); total s: the timed epochs; GB/s: X's size / median epoch; % peak: of the {peak} \
         bandwidth"
    );
    say!(
        "{:>8} {:>8} {:>12} {:>10} {:>9} {:>10} {:>12} {:>12} {:>8} {:>7} {:>10} {:>12}",
        "batch",
        "kernels",
        "shuffle",
        "epoch ms",
        "total s",
        "µs/step",
        "samples/s",
        "steps/s",
        "GB/s",
        "% peak",
        "shuffle ms",
        "final loss"
    );
    for run in &runs {
        match (&run.measured, &run.error) {
            (Some(m), _) => say!(
                "{:>8} {:>8} {:>12} {:>10.3} {:>9.4} {:>10.2} {:>12.4e} {:>12.4e} {:>8.2} {:>7.1} {:>10.3} {:>12.6}",
                run.batch_size,
                kernels_cell(run),
                run.shuffle,
                1e3 * m.median_epoch_seconds,
                m.seconds,
                m.us_per_step,
                m.samples_per_s,
                m.steps_per_s,
                m.gb_per_s,
                m.percent_of_peak,
                1e3 * m.shuffle_seconds_per_epoch,
                m.final_loss
            ),
            (None, error) => say!(
                "{:>8} {:>8} {:>12} skipped: {}",
                run.batch_size,
                kernels_cell(run),
                run.shuffle,
                error.as_deref().unwrap_or("no result")
            ),
        }
    }
    say!(
        "\n{}: work per run, as the engine counted it (the counts include the warm-up epoch; \
         per-step and per-epoch figures do not depend on it)",
        device.name()
    );
    say!(
        "{:>8} {:>8} {:>12} {:>15} {:>17} {:>15} {:>12} {:>14}",
        "batch",
        "kernels",
        "shuffle",
        "dispatches/step",
        "submissions/epoch",
        "readbacks/epoch",
        "X read/epoch",
        "uploaded/epoch"
    );
    for run in &runs {
        if let Some(m) = &run.measured {
            say!(
                "{:>8} {:>8} {:>12} {:>15} {:>17} {:>15} {:>12} {:>14}",
                run.batch_size,
                kernels_cell(run),
                run.shuffle,
                count(m.dispatches_per_step),
                count(m.submissions_per_epoch),
                count(m.readbacks_per_epoch),
                format!("{:.2}× X", m.x_reads_per_epoch),
                byte_size(m.uploaded_bytes_per_epoch)
            );
        }
    }
    // X beyond the GPU's memory budget is streamed through it every
    // epoch: then the upload is part of each epoch, timed with it.
    let streamed = runs
        .iter()
        .filter(|r| {
            r.measured
                .as_ref()
                .is_some_and(|m| m.uploaded_bytes_per_epoch >= x_bytes as f64)
        })
        .count();
    if streamed > 0 {
        say!(
            "note: {streamed} run(s) uploaded as many bytes as X every epoch (uploaded/epoch ≥ X: X streamed \
             through a memory budget, or sparse mini-batches' copies by column); their epoch times include \
             that upload"
        );
    }
}

/// Where both kernel generations ran: each GPU configuration's samples/s
/// with the current kernels over those with the legacy ones.
fn print_kernel_ratios(runs: &[Run], generations: &[KernelGeneration]) {
    let (new, old) = (KernelGeneration::Current, KernelGeneration::Legacy);
    if !(generations.contains(&new) && generations.contains(&old)) {
        return;
    }
    let samples_per_s = |kernels: KernelGeneration, batch: &str, shuffle: &str| {
        runs.iter()
            .find(|r| {
                r.device == Device::Gpu.name()
                    && r.kernels.as_deref() == Some(kernels.name())
                    && r.batch_size == batch
                    && r.shuffle == shuffle
            })
            .and_then(|r| r.measured.as_ref())
            .map(|m| m.samples_per_s)
    };
    say!(
        "\ngpu: {} ÷ {} kernels, samples/s of the median epochs (above 1: the {} kernels are faster)",
        new.name(),
        old.name(),
        new.name()
    );
    say!(
        "{:>8} {:>12} {:>18}",
        "batch",
        "shuffle",
        format!("{} ÷ {}", new.name(), old.name())
    );
    for run in runs
        .iter()
        .filter(|r| r.device == Device::Gpu.name() && r.kernels.as_deref() == Some(new.name()))
    {
        let ratio = match (
            samples_per_s(new, &run.batch_size, &run.shuffle),
            samples_per_s(old, &run.batch_size, &run.shuffle),
        ) {
            (Some(new), Some(old)) => format!("{:.3}×", new / old),
            _ => "-".into(),
        };
        say!("{:>8} {:>12} {:>18}", run.batch_size, run.shuffle, ratio);
    }
}

/// `--write FOLDER`: the data as .npy files, made in place.
fn write(args: &BenchArgs, folder: &std::path::Path) -> Result<(), String> {
    std::fs::create_dir_all(folder).map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
    let (x_path, y_path) = (folder.join("x.npy"), folder.join("y.npy"));
    let started = Instant::now();
    downhill::data::npy::write_synthetic(
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

/// The GPU's description and peak, measured on the first context, and a
/// context per kernel generation, in the order of `generations`.
fn gpu_machine(
    x_bytes: u64,
    generations: &[KernelGeneration],
) -> Result<(GpuMachine, Vec<Arc<GpuContext>>), String> {
    let contexts = generations
        .iter()
        .map(|&kernels| gpu_context(kernels))
        .collect::<Result<Vec<_>, String>>()?;
    let context = contexts.first().ok_or("--kernels names no kernel generation")?;
    let adapter = context.adapter();
    // A ratio between generations means something only on one adapter.
    if let Some(other) = contexts.iter().find(|c| c.adapter() != adapter) {
        return Err(format!(
            "the kernel generations' contexts took different adapters ({} and {}): their ratio would compare adapters",
            adapter.name,
            other.adapter().name
        ));
    }
    // Large enough that the submission's fixed cost is lost in the copy.
    let copy = context
        .copy_bandwidth(x_bytes.clamp(64 << 20, 1 << 30))
        .map_err(|e| e.to_string())?;
    let binding = adapter.max_binding_bytes;
    let machine = GpuMachine {
        adapter: adapter.name.clone(),
        backend: adapter.backend.clone(),
        device_type: adapter.device_type.clone(),
        driver: adapter.driver.clone(),
        copy_gb_per_s: gb(copy),
        largest_binding_bytes: binding,
        x_buffers: x_bytes.div_ceil(binding) as usize,
    };
    Ok((machine, contexts))
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
