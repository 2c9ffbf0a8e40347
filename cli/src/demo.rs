//! `downhill demo`, what `cargo run --release` runs.

use std::path::PathBuf;
use std::sync::Arc;

use downhill::plot::{self, Curve};
use downhill::{
    reference, Device, Fitted, GpuContext, GradientDescent, Model, Optimizer, Schedule, Synthetic, Variant,
};

/// Arguments of `downhill demo`.
#[derive(clap::Args, Debug)]
// Negative values reach downhill's own checks (`--lr -1`) rather than
// reading as unknown options.
#[command(allow_negative_numbers = true)]
pub struct DemoArgs {
    /// Rows of the synthetic data.
    #[arg(long, default_value_t = 2000)]
    rows: usize,
    /// Features of the synthetic data.
    #[arg(long, default_value_t = 3)]
    features: usize,
    /// Epochs per run.
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// cpu, gpu or auto: a hardware GPU where there is one, else the CPU
    /// (a software adapter such as lavapipe only with gpu).
    #[arg(long, default_value = "auto")]
    device: Device,
    /// Seed of the data and of the batch order.
    #[arg(long, default_value_t = downhill::DEFAULT_SEED)]
    seed: u64,
    /// Where to write the loss curves (SVG, or PNG if it ends in .png).
    #[arg(long, default_value = "downhill-demo-loss.svg")]
    plot: PathBuf,
}

impl Default for DemoArgs {
    fn default() -> Self {
        <DemoArgs as clap::FromArgMatches>::from_arg_matches(
            &<DemoArgs as clap::Args>::augment_args(clap::Command::new("demo")).get_matches_from(["demo"]),
        )
        .expect("the defaults parse")
    }
}

/// The largest |a − b| / max(|b|, 1e-3) over pairs.
fn largest_relative_difference(a: impl IntoIterator<Item = f64>, b: impl IntoIterator<Item = f64>) -> f64 {
    a.into_iter()
        .zip(b)
        .map(|(a, b)| (a - b).abs() / b.abs().max(1e-3))
        .fold(0.0, f64::max)
}

fn parameters(fitted: &Fitted) -> Vec<f64> {
    std::iter::once(fitted.bias())
        .chain(fitted.weights().iter().copied())
        .map(f64::from)
        .collect()
}

/// The GPU that runs the demo for `device`, if any, said out loud: as
/// `Device::Auto` chooses, a software adapter only when asked for.
fn choose_gpu(device: Device) -> Result<Option<Arc<GpuContext>>, String> {
    if device == Device::Cpu {
        say!("running on the CPU, as asked");
        return Ok(None);
    }
    match GpuContext::shared() {
        Ok(context) if device == Device::Gpu || !context.adapter().is_software() => {
            let adapter = context.adapter();
            say!(
                "running on the GPU: {adapter}{}",
                if adapter.is_software() {
                    " — a software adapter, so this checks results, not speed"
                } else {
                    ""
                }
            );
            Ok(Some(context))
        }
        Ok(context) => {
            say!(
                "the only GPU adapter is a software one ({}); running on the CPU (--device gpu runs on it anyway)",
                context.adapter()
            );
            Ok(None)
        }
        Err(error) if device == Device::Gpu => Err(error.to_string()),
        Err(error) => {
            say!("no GPU ({error}); running on the CPU");
            Ok(None)
        }
    }
}

pub fn demo(args: &DemoArgs) -> Result<(), String> {
    let data = Synthetic::generate(Model::Linear, args.rows, args.features, 0.1, args.seed)
        .map_err(|e| e.to_string())?;
    say!(
        "downhill demo: linear regression on {} rows × {} features, y = x·w + b + noise(σ = 0.1)",
        args.rows,
        args.features
    );
    let context = choose_gpu(args.device)?;
    say!();
    let (exact_weights, exact_bias) =
        reference::least_squares(data.x.view(), data.y.view(), 0.0).map_err(|e| e.to_string())?;
    let runs = [
        ("full batch, SGD lr 0.1", Variant::Full, Schedule::constant(), 0.1),
        (
            "mini-batch 32, SGD lr 0.05",
            Variant::MiniBatch(32),
            Schedule::constant(),
            0.05,
        ),
        (
            "stochastic, SGD lr 0.01, step decay",
            Variant::Stochastic,
            Schedule::step_decay(5, 0.5),
            0.01,
        ),
    ];
    let mut fits = Vec::new();
    for (name, variant, schedule, lr) in runs {
        let descent = GradientDescent::linear()
            .variant(variant)
            .optimizer(Optimizer::sgd(lr))
            .schedule(schedule)
            .max_epochs(args.epochs)
            .seed(args.seed);
        let on_device = match &context {
            Some(context) => descent
                .clone()
                .device(Device::Gpu)
                .gpu_context(Arc::clone(context)),
            None => descent.clone().device(Device::Cpu),
        };
        let fitted = on_device
            .fit(data.x.view(), data.y.view())
            .map_err(|e| e.to_string())?;
        say!(
            "{name} on {}: {} steps, {}",
            fitted.device(),
            fitted.gradient_evaluations(),
            fitted.stop_reason()
        );
        let losses: Vec<String> = fitted
            .history()
            .losses()
            .iter()
            .map(|l| format!("{l:.4}"))
            .collect();
        say!("  loss per epoch: {}", losses.join(" "));
        if fitted.device() == Device::Gpu {
            let cpu = descent
                .device(Device::Cpu)
                .fit(data.x.view(), data.y.view())
                .map_err(|e| e.to_string())?;
            let losses = largest_relative_difference(fitted.history().losses(), cpu.history().losses());
            let coefficients = largest_relative_difference(parameters(&fitted), parameters(&cpu));
            say!(
                "  against the CPU engine on the same seed: losses within {losses:.1e}, coefficients within {coefficients:.1e} (relative) {}",
                if losses <= 1e-4 && coefficients <= 1e-4 { "✓" } else { "✗ MISMATCH" }
            );
        }
        say!();
        fits.push((name, fitted));
    }

    say!("{:<38} bias and weights", "coefficients");
    let row = |name: &str, values: Vec<f64>| {
        let values: Vec<String> = values.iter().map(|w| format!("{w:>8.4}")).collect();
        say!("{name:<38} {}", values.join(" "));
    };
    row(
        "true (generating)",
        std::iter::once(data.bias)
            .chain(data.weights.iter().copied())
            .map(f64::from)
            .collect(),
    );
    row(
        "closed-form least squares",
        std::iter::once(exact_bias)
            .chain(exact_weights.iter().copied())
            .collect(),
    );
    for (name, fitted) in &fits {
        row(name, parameters(fitted));
    }

    let curves: Vec<Curve> = fits
        .iter()
        .map(|(name, fitted)| Curve {
            label: name.to_string(),
            losses: fitted.history().losses(),
        })
        .collect();
    plot::loss_curves(&args.plot, "downhill demo: loss per epoch", &curves, true)
        .map_err(|e| e.to_string())?;
    say!("\nloss curves: {}", args.plot.display());
    Ok(())
}
