//! `downhill fit` and `downhill sweep`: their options, the run, the report.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use downhill::data::{read_csv, CsvData};
use downhill::plot::{self, Curve, ParameterPath};
use downhill::{
    reference, Device, Error, Fitted, GradientDescent, Model, Optimizer, Schedule, StopReason, Variant,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::saved::SavedModel;

/// The CSV file and its columns.
#[derive(clap::Args, Debug, Clone)]
pub struct DataArgs {
    /// CSV file with a header row.
    #[arg(long, value_name = "FILE.csv")]
    pub data: PathBuf,
    /// The column to predict.
    #[arg(long, value_name = "COLUMN")]
    pub target: String,
    /// Comma-separated feature columns [default: every other numeric column].
    #[arg(long, value_delimiter = ',', value_name = "a,b,c")]
    pub features: Option<Vec<String>>,
}

/// How to descend, shared by `fit` and `sweep`.
#[derive(clap::Args, Debug, Clone)]
pub struct TrainArgs {
    /// linear (mean squared error) or logistic (cross-entropy; the target must be 0 or 1).
    #[arg(long, default_value = "linear", value_parser = ["linear", "logistic"])]
    pub model: String,
    /// full (every row per step), sgd (one row per step) or minibatch:N.
    #[arg(long, default_value = "full", value_parser = parse_variant)]
    pub variant: Variant,
    /// The update rule.
    #[arg(long, default_value = "sgd", value_parser = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"])]
    pub optimizer: String,
    /// The momentum factor of momentum and nesterov.
    #[arg(long, default_value_t = 0.9)]
    pub beta: f32,
    /// Learning-rate schedule, stepped once per epoch: constant, step:EVERY:FACTOR,
    /// exp:GAMMA, invscaling:POWER, cosine (to 0 over --epochs), plateau:FACTOR:PATIENCE.
    #[arg(long, default_value = "constant", value_parser = parse_schedule)]
    pub schedule: ScheduleArg,
    /// L2 penalty: adds (l2/2)·|w|² to the loss; the bias is not penalized.
    #[arg(long, default_value_t = 0.0)]
    pub l2: f32,
    /// The most epochs to run.
    #[arg(long, default_value_t = 100)]
    pub epochs: usize,
    /// Early stopping: stop once the epoch loss has improved by less than this
    /// for --patience epochs in a row [default: off].
    #[arg(long)]
    pub tol: Option<f64>,
    /// Epochs without enough improvement before early stopping.
    #[arg(long, default_value_t = 5)]
    pub patience: usize,
    /// Fit on standardized features; coefficients are still reported (and
    /// saved) in the units of the CSV.
    #[arg(long)]
    pub standardize: bool,
    /// Seed of the per-epoch shuffles.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// cpu, gpu or auto (the GPU where a hardware one exists).
    #[arg(long, default_value = "auto", value_parser = ["cpu", "gpu", "auto"])]
    pub device: String,
    /// Draw loss plots with a logarithmic loss axis.
    #[arg(long)]
    pub log_scale: bool,
}

/// A schedule as given on the command line; `cosine` takes its length from
/// --epochs.
#[derive(Debug, Clone, Copy)]
pub enum ScheduleArg {
    Ready(Schedule),
    CosineOverEpochs,
}

/// Arguments of `downhill fit`.
#[derive(clap::Args, Debug)]
pub struct FitArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub train: TrainArgs,
    /// Learning rate.
    #[arg(long, default_value_t = 0.01)]
    pub lr: f32,
    /// Write the loss curve to this file (SVG, or PNG if it ends in .png).
    #[arg(long, value_name = "loss.svg")]
    pub plot: Option<PathBuf>,
    /// Linear model with one feature: write the loss surface over (w, b) with
    /// the path of this run and of full-batch and stochastic runs beside it.
    #[arg(long, value_name = "contour.svg")]
    pub plot_path: Option<PathBuf>,
    /// Save the fitted model as JSON (weights in the units of the CSV).
    #[arg(long, value_name = "model.json")]
    pub save: Option<PathBuf>,
}

/// Arguments of `downhill predict`.
#[derive(clap::Args, Debug)]
pub struct PredictArgs {
    /// A model saved by `downhill fit --save`.
    #[arg(long, value_name = "model.json")]
    pub model: PathBuf,
    /// CSV file with a header row holding the model's feature columns.
    #[arg(long, value_name = "FILE.csv")]
    pub data: PathBuf,
    /// Write the predictions here as CSV [default: standard output].
    #[arg(long, value_name = "predictions.csv")]
    pub output: Option<PathBuf>,
}

/// Arguments of `downhill sweep`.
#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub train: TrainArgs,
    /// Comma-separated learning rates, one run each.
    #[arg(long, value_delimiter = ',', default_value = "0.001,0.01,0.1,1")]
    pub lrs: Vec<f32>,
    /// Write every run's loss curve, overlaid, to this file (SVG or PNG).
    #[arg(long, value_name = "sweep.svg")]
    pub plot: Option<PathBuf>,
}

fn parse_variant(text: &str) -> Result<Variant, String> {
    match text {
        "full" => Ok(Variant::Full),
        "sgd" | "stochastic" => Ok(Variant::Stochastic),
        _ => {
            let size = text
                .strip_prefix("minibatch:")
                .ok_or_else(|| format!("{text:?} is not full, sgd or minibatch:N"))?;
            match size.parse::<usize>() {
                Ok(size) if size > 0 => Ok(Variant::MiniBatch(size)),
                _ => Err(format!(
                    "the batch size in {text:?} must be a positive whole number"
                )),
            }
        }
    }
}

fn parse_schedule(text: &str) -> Result<ScheduleArg, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let number = |i: usize| -> Result<f64, String> {
        parts
            .get(i)
            .ok_or_else(|| format!("{text:?} lacks a value"))?
            .parse::<f64>()
            .map_err(|_| format!("{:?} in {text:?} is not a number", parts[i]))
    };
    let whole = |i: usize| -> Result<usize, String> {
        parts
            .get(i)
            .ok_or_else(|| format!("{text:?} lacks a value"))?
            .parse::<usize>()
            .map_err(|_| format!("{:?} in {text:?} is not a whole number", parts[i]))
    };
    let expect = |n: usize| {
        if parts.len() == n {
            Ok(())
        } else {
            Err(format!("{text:?} has {} parts, expected {n}", parts.len()))
        }
    };
    let schedule = match parts[0] {
        "constant" => expect(1).map(|_| Schedule::constant()),
        "step" => expect(3).and_then(|_| Ok(Schedule::step_decay(whole(1)?, number(2)?))),
        "exp" => expect(2).and_then(|_| Ok(Schedule::exponential(number(1)?))),
        "invscaling" => expect(2).and_then(|_| Ok(Schedule::inverse_scaling(number(1)?))),
        "cosine" => return expect(1).map(|_| ScheduleArg::CosineOverEpochs),
        "plateau" => expect(3).and_then(|_| Ok(Schedule::reduce_on_plateau(number(1)?, whole(2)?))),
        other => Err(format!(
            "unknown schedule {other:?}: constant, step:EVERY:FACTOR, exp:GAMMA, invscaling:POWER, cosine, plateau:FACTOR:PATIENCE"
        )),
    }?;
    Ok(ScheduleArg::Ready(schedule))
}

impl TrainArgs {
    pub fn model(&self) -> Model {
        if self.model == "logistic" {
            Model::Logistic
        } else {
            Model::Linear
        }
    }

    pub fn device(&self) -> Device {
        match self.device.as_str() {
            "cpu" => Device::Cpu,
            "gpu" => Device::Gpu,
            _ => Device::Auto,
        }
    }

    pub fn optimizer(&self, lr: f32) -> Optimizer {
        match self.optimizer.as_str() {
            "momentum" => Optimizer::momentum(lr, self.beta).into(),
            "nesterov" => Optimizer::nesterov(lr, self.beta).into(),
            "adagrad" => Optimizer::adagrad(lr).into(),
            "rmsprop" => Optimizer::rmsprop(lr).into(),
            "adam" => Optimizer::adam(lr).into(),
            _ => Optimizer::sgd(lr).into(),
        }
    }

    pub fn schedule(&self) -> Schedule {
        match self.schedule {
            ScheduleArg::Ready(schedule) => schedule,
            ScheduleArg::CosineOverEpochs => Schedule::cosine(0.0, self.epochs.max(1)),
        }
    }

    pub fn descent(&self, lr: f32) -> GradientDescent {
        let mut descent = GradientDescent::new(self.model())
            .variant(self.variant)
            .optimizer(self.optimizer(lr))
            .schedule(self.schedule())
            .l2(self.l2)
            .standardize(self.standardize)
            .max_epochs(self.epochs)
            .patience(self.patience)
            .seed(self.seed)
            .device(self.device());
        if let Some(tol) = self.tol {
            descent = descent.tolerance(tol);
        }
        descent
    }

    pub fn variant_name(&self) -> String {
        match self.variant {
            Variant::Full => "full".into(),
            Variant::Stochastic => "sgd".into(),
            Variant::MiniBatch(size) => format!("minibatch:{size}"),
        }
    }
}

/// Reads the CSV named by `args`.
pub fn load(args: &DataArgs) -> Result<(CsvData, ndarray::Array1<f32>), String> {
    let mut data =
        read_csv(&args.data, Some(&args.target), args.features.as_deref()).map_err(|e| e.to_string())?;
    let y = data.y.take().expect("a target was asked for");
    Ok((data, y))
}

/// Says where in the CSV a row or column error of the library lies.
pub fn explain(error: Error, data: &CsvData, path: &Path, target: &str) -> String {
    let file = path.display();
    match error {
        Error::InvalidLabel { row, value } => format!(
            "line {} of {file}: target {target:?} is {value}; logistic regression needs 0 or 1",
            row + 2
        ),
        Error::NonFiniteTarget { row, value } => {
            format!(
                "line {} of {file}: target {target:?} is {value}, not a finite number",
                row + 2
            )
        }
        Error::NonFiniteFeature { row, column, value } => format!(
            "line {} of {file}: column {:?} is {value}, not a finite number",
            row + 2,
            data.feature_names[column]
        ),
        other => other.to_string(),
    }
}

/// Fits with a spinner on a terminal (hidden otherwise).
pub fn fit_with_progress(
    descent: &GradientDescent,
    data: &CsvData,
    y: &ndarray::Array1<f32>,
    message: String,
) -> Result<(Fitted, Duration), Error> {
    let spinner = ProgressBar::new_spinner();
    spinner.set_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("a valid template"));
    spinner.set_message(message);
    spinner.enable_steady_tick(Duration::from_millis(100));
    let started = Instant::now();
    let fitted = descent.fit(data.x.view(), y.view());
    spinner.finish_and_clear();
    fitted.map(|f| (f, started.elapsed()))
}

pub fn describe_stop(stop: StopReason) -> String {
    match stop {
        StopReason::Converged { epoch } => format!("converged at epoch {epoch}"),
        StopReason::MaxEpochs => "reached the epoch limit".into(),
        StopReason::Diverged { epoch } => {
            format!("diverged at epoch {epoch} (parameters are the last finite ones)")
        }
    }
}

/// `downhill fit`.
pub fn fit(args: &FitArgs) -> Result<(), String> {
    let (data, y) = load(&args.data)?;
    let train = &args.train;
    let descent = train.descent(args.lr).track_parameters(args.plot_path.is_some());
    let explain = |e| explain(e, &data, &args.data.data, &args.data.target);
    let (fitted, elapsed) = fit_with_progress(
        &descent,
        &data,
        &y,
        format!("fitting {} rows × {} features", data.x.nrows(), data.x.ncols()),
    )
    .map_err(explain)?;
    let score = fitted.score(data.x.view(), y.view()).map_err(explain)?;

    println!(
        "{} regression of {:?} on {} rows × {} features of {}",
        train.model,
        args.data.target,
        data.x.nrows(),
        data.x.ncols(),
        args.data.data.display()
    );
    println!("stopped:      {}", describe_stop(fitted.stop_reason()));
    println!(
        "epochs:       {} ({} gradient evaluations)",
        fitted.history().len(),
        fitted.gradient_evaluations()
    );
    println!(
        "final loss:   {:.6}{}",
        fitted.history().final_loss().unwrap_or(f64::NAN),
        if train.standardize {
            " (on standardized features)"
        } else {
            ""
        }
    );
    match fitted.model() {
        Model::Linear => println!("R²:           {score:.6}"),
        Model::Logistic => println!("accuracy:     {score:.6}"),
    }
    println!(
        "time:         {:.3} s on {}",
        elapsed.as_secs_f64(),
        fitted.device().name()
    );
    println!("coefficients (units of the CSV):");
    let width = data
        .feature_names
        .iter()
        .map(|n| n.len())
        .max()
        .unwrap_or(4)
        .max(6);
    println!("  {:<width$}  {:>14.6}", "(bias)", fitted.bias());
    for (name, w) in data.feature_names.iter().zip(fitted.weights()) {
        println!("  {name:<width$}  {w:>14.6}");
    }

    if let Some(path) = &args.plot {
        let curve = Curve {
            label: format!("{} {} lr {}", train.variant_name(), train.optimizer, args.lr),
            losses: fitted.history().losses(),
        };
        plot::loss_curves(path, "loss per epoch", &[curve], train.log_scale).map_err(|e| e.to_string())?;
        println!("loss curve:   {}", path.display());
    }
    if let Some(path) = &args.plot_path {
        plot_path(args, &data, &y, &fitted, path)?;
        println!("loss surface: {}", path.display());
    }
    if let Some(path) = &args.save {
        SavedModel::new(args, &data, &fitted).save(path)?;
        println!("saved:        {}", path.display());
    }
    Ok(())
}

/// The loss surface with this run's path and, beside it, those of the
/// full-batch and stochastic variants with the same settings.
fn plot_path(
    args: &FitArgs,
    data: &CsvData,
    y: &ndarray::Array1<f32>,
    fitted: &Fitted,
    path: &Path,
) -> Result<(), String> {
    if fitted.model() != Model::Linear || data.x.ncols() != 1 {
        return Err(format!(
            "--plot-path draws the loss over (w, b) of a linear model with one feature; this fit has {} features",
            data.x.ncols()
        ));
    }
    let points = |f: &Fitted| -> Vec<(f64, f64)> {
        let start = std::iter::once((0.0, 0.0));
        start
            .chain(
                f.history()
                    .parameters()
                    .iter()
                    .map(|(w, b)| (f64::from(w[0]), f64::from(*b))),
            )
            .collect()
    };
    let mut paths = vec![ParameterPath {
        label: format!("this run ({})", args.train.variant_name()),
        points: points(fitted),
    }];
    for (name, variant) in [("full batch", Variant::Full), ("stochastic", Variant::Stochastic)] {
        if variant == args.train.variant {
            continue;
        }
        let other = args
            .train
            .descent(args.lr)
            .variant(variant)
            .track_parameters(true)
            .fit(data.x.view(), y.view())
            .map_err(|e| e.to_string())?;
        paths.push(ParameterPath {
            label: name.into(),
            points: points(&other),
        });
    }
    let (w, b) = reference::least_squares(data.x.view(), y.view(), 0.0).map_err(|e| e.to_string())?;
    plot::loss_surface(path, data.x.column(0), y.view(), &paths, (w[0], b)).map_err(|e| e.to_string())
}

/// `downhill sweep`.
pub fn sweep(args: &SweepArgs) -> Result<(), String> {
    let (data, y) = load(&args.data)?;
    if args.lrs.is_empty() {
        return Err("--lrs needs at least one learning rate".into());
    }
    let explain = |e| explain(e, &data, &args.data.data, &args.data.target);
    let mut curves = Vec::new();
    let mut stable: Option<f32> = None;
    println!(
        "{} regression of {:?}, {} {}, {} epochs at most",
        args.train.model,
        args.data.target,
        args.train.variant_name(),
        args.train.optimizer,
        args.train.epochs
    );
    println!("{:>12}  {:>14}  {:>8}  stop reason", "lr", "final loss", "epochs");
    for &lr in &args.lrs {
        let descent = args.train.descent(lr);
        let (fitted, _) = fit_with_progress(&descent, &data, &y, format!("lr {lr}")).map_err(explain)?;
        let diverged = matches!(fitted.stop_reason(), StopReason::Diverged { .. });
        // A loss that ends above where it started has not diverged by the
        // stop rule's factor yet, but it is not stable either.
        let losses = fitted.history().losses();
        let growing = !diverged && losses.last() > losses.first();
        println!(
            "{lr:>12}  {:>14.6}  {:>8}  {}{}",
            fitted.history().final_loss().unwrap_or(f64::NAN),
            fitted.history().len(),
            describe_stop(fitted.stop_reason()),
            if diverged {
                "  ← DIVERGED"
            } else if growing {
                "  ← UNSTABLE: the loss grew"
            } else {
                ""
            }
        );
        if !diverged && !growing && stable.is_none_or(|s| lr > s) {
            stable = Some(lr);
        }
        curves.push(Curve {
            label: format!(
                "lr {lr}{}",
                if diverged {
                    " (diverged)"
                } else if growing {
                    " (unstable)"
                } else {
                    ""
                }
            ),
            losses: fitted.history().losses(),
        });
    }
    match stable {
        Some(lr) => {
            println!("largest stable learning rate: {lr} (neither diverged nor ended above its first loss)")
        }
        None => println!("every learning rate diverged; try smaller ones"),
    }
    if let Some(path) = &args.plot {
        plot::loss_curves(
            path,
            "loss per epoch by learning rate",
            &curves,
            args.train.log_scale,
        )
        .map_err(|e| e.to_string())?;
        println!("loss curves: {}", path.display());
    }
    Ok(())
}
