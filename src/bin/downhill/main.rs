//! The `downhill` command-line program.

#[cfg(feature = "gpu")]
mod bench;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use downhill::{reference, Device, GradientDescent, Model, Optimizer, Schedule, Synthetic, Variant};

/// Gradient descent for linear and logistic regression.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// A short tour on built-in data: full-batch, mini-batch and stochastic
    /// descent, their loss per epoch, and the coefficients they find
    /// (the default when no command is given).
    Demo(DemoArgs),
    /// Throughput across batch sizes on seeded synthetic data: samples/s,
    /// steps/s, GB/s of X read and the share of the machine's measured
    /// peak, per device; optionally as JSON.
    #[cfg(feature = "gpu")]
    Bench(bench::BenchArgs),
}

#[derive(clap::Parser)]
struct DemoArgs {
    /// Rows of the synthetic data.
    #[arg(long, default_value_t = 2000)]
    rows: usize,
    /// Features of the synthetic data.
    #[arg(long, default_value_t = 3)]
    features: usize,
    /// Epochs per run.
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Seed of the data and of the batch order.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

impl Default for DemoArgs {
    fn default() -> Self {
        DemoArgs::parse_from(["demo"])
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Demo(DemoArgs::default())) {
        Command::Demo(args) => demo(&args).map_err(|e| e.to_string()),
        #[cfg(feature = "gpu")]
        Command::Bench(args) => bench::bench(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn demo(args: &DemoArgs) -> Result<(), downhill::Error> {
    let data = Synthetic::generate(Model::Linear, args.rows, args.features, 0.1, args.seed)?;
    println!(
        "downhill demo: linear regression on {} rows × {} features, y = x·w + b + noise(σ = 0.1)\n",
        args.rows, args.features
    );
    let (exact_weights, exact_bias) = reference::least_squares(data.x.view(), data.y.view(), 0.0)?;
    let runs = [
        ("full batch, SGD lr 0.1", Variant::Full, Schedule::constant()),
        (
            "mini-batch 32, SGD lr 0.05",
            Variant::MiniBatch(32),
            Schedule::constant(),
        ),
        (
            "stochastic, SGD lr 0.01, step decay",
            Variant::Stochastic,
            Schedule::step_decay(5, 0.5),
        ),
    ];
    let learning_rates = [0.1, 0.05, 0.01];
    let mut fits = Vec::new();
    for ((name, variant, schedule), lr) in runs.into_iter().zip(learning_rates) {
        let fitted = GradientDescent::linear()
            .variant(variant)
            .optimizer(Optimizer::sgd(lr))
            .schedule(schedule)
            .max_epochs(args.epochs)
            .seed(args.seed)
            .device(Device::Auto)
            .fit(data.x.view(), data.y.view())?;
        println!(
            "{name} on {}: {} steps, stopped by {:?}",
            fitted.device().name(),
            fitted.gradient_evaluations(),
            fitted.stop_reason()
        );
        let losses: Vec<String> = fitted
            .history()
            .losses()
            .iter()
            .map(|l| format!("{l:.4}"))
            .collect();
        println!("  loss per epoch: {}\n", losses.join(" "));
        fits.push((name, fitted));
    }

    println!("{:<38} bias and weights", "coefficients");
    let row = |name: &str, bias: f64, weights: Vec<f64>| {
        let weights: Vec<String> = weights.iter().map(|w| format!("{w:>8.4}")).collect();
        println!("{name:<38} {bias:>8.4} {}", weights.join(" "));
    };
    row(
        "true (generating)",
        f64::from(data.bias),
        data.weights.iter().map(|&w| f64::from(w)).collect(),
    );
    row("closed-form least squares", exact_bias, exact_weights.to_vec());
    for (name, fitted) in &fits {
        row(
            name,
            f64::from(fitted.bias()),
            fitted.weights().iter().map(|&w| f64::from(w)).collect(),
        );
    }
    Ok(())
}
