//! `downhill sweep`: one fit per learning rate, all in lockstep
//! ([`downhill::GradientDescent::fit_many`]), the table and the curves.

use downhill::plot::{self, Curve};
use downhill::{Optimizer, Solver, StopReason, Variant};

use crate::args::{describe_stop, explain, fit_with_progress, for_table, load, LearningRateArg, SweepArgs};
use crate::report::number;

/// `downhill sweep`.
pub fn sweep(args: &SweepArgs) -> Result<(), String> {
    if args.data.weight_column.is_some() {
        return Err("--weight-column is not read by sweep; compare rates with unweighted fits".into());
    }
    if let Some(path) = &args.plot {
        downhill::atomic_file::check_output(path, &[(&args.data.data, "--data")])
            .map_err(|e| e.to_string())?;
        plot::check_path(path).map_err(|e| e.to_string())?;
    }
    let data = load(&args.data, args.train.model())?;
    if args.lrs.is_empty() {
        return Err("--lrs needs at least one learning rate".into());
    }
    if let Solver::Lbfgs { .. } = args.train.solver {
        return Err("sweep compares learning rates, which L-BFGS does not take (its line search sets each step); fit --solver lbfgs runs it once".into());
    }
    let explain = |e| {
        explain(
            e,
            &data.feature_names,
            &data.lines,
            &args.data.data,
            Some(&args.data.target),
        )
    };
    let with_classes = |descent| for_table(&args.train, descent, &data);
    // The loss where every run starts: one full-batch epoch of plain
    // descent at a rate too small to move the parameters.
    let start = {
        let descent = args
            .train
            .descent(LearningRateArg::Fixed(1.0))
            .solver(Solver::GradientDescent)
            .optimizer(Optimizer::sgd(f32::MIN_POSITIVE))
            .auto_learning_rate(false)
            .auto_momentum(false)
            .variant(Variant::Full)
            .max_epochs(1);
        let fitted = with_classes(descent)?
            .fit(data.x.view(), data.y.view())
            .map_err(explain)?;
        fitted.history().losses().first().copied().unwrap_or(f64::NAN)
    };
    let mut runs = Vec::new();
    let mut best: Option<(f32, f64)> = None;
    say!(
        "{} regression of {:?}, {} {}, {} epochs at most",
        match &data.encoding.labels {
            Some(labels) if labels.count() > 2 =>
                format!("multinomial logistic ({} classes)", labels.count()),
            _ => args.train.model().to_string(),
        },
        args.data.target,
        args.train.variant,
        args.train.optimizer,
        args.train.max_epochs()
    );
    say!("{:>12}  {:>14}  {:>8}  stop reason", "lr", "final loss", "epochs");
    // Every rate in lockstep: each full-batch epoch of all the rates
    // still running is one pass over the rows (mini-batch rates run their
    // epochs each on its own, on rows read once).
    let descent = with_classes(args.train.descent(LearningRateArg::Fixed(args.lrs[0])))?;
    let (fits, _) = fit_with_progress(
        &descent,
        format!("{} learning rates", args.lrs.len()),
        |observed| {
            let models: Vec<_> = args
                .lrs
                .iter()
                .map(|&lr| {
                    let rate = observed.optimizer_settings().with_learning_rate(lr);
                    observed.clone().optimizer(rate)
                })
                .collect();
            downhill::GradientDescent::fit_many(&models, data.x.view(), data.y.view())
        },
    )
    .map_err(explain)?;
    let (device, first_margins) = fits
        .first()
        .map_or((downhill::Device::Cpu, 1), |f| (f.device(), f.intercepts().len()));
    for (&lr, fitted) in args.lrs.iter().zip(fits) {
        let diverged = matches!(fitted.stop_reason(), StopReason::Diverged { .. });
        // A loss that ends above where it started has not diverged by the
        // stop rule's factor yet, but it is not stable either.
        let losses = fitted.history().losses();
        let growing = !diverged && losses.last().is_some_and(|&last| last > start);
        say!(
            "{lr:>12}  {:>14}  {:>8}  {}{}",
            number(fitted.history().final_loss().unwrap_or(f64::NAN)),
            fitted.history().len(),
            describe_stop(&fitted),
            if diverged {
                "  ← DIVERGED"
            } else if growing {
                "  ← UNSTABLE: the loss grew"
            } else {
                ""
            }
        );
        let last = fitted.history().final_loss().unwrap_or(f64::NAN);
        if !diverged && last.is_finite() && best.is_none_or(|(_, loss)| last < loss) {
            best = Some((lr, last));
        }
        runs.push((lr, fitted.history().losses(), diverged, growing));
    }
    // The models one pass over the rows sums: on the GPU as many as its
    // kernels' margins a row hold, the rest in groups.
    let margins = first_margins;
    if let Some(per_pass) = device.models_per_pass(margins).filter(|&w| args.lrs.len() > w) {
        say!(
            "on the GPU each pass sums the models at most {per_pass} at a time (the kernels' 32 margins a row, {margins} a model): {} passes a round for {} rates",
            args.lrs.len().div_ceil(per_pass),
            args.lrs.len()
        );
    }
    match best {
        Some((lr, loss)) => say!(
            "best learning rate: {lr} (the lowest final loss, {}, of the runs that did not diverge)",
            number(loss)
        ),
        None => say!("no learning rate ended without diverging"),
    }
    // Stable: below every rate that diverged or ended above the start.
    let unstable = runs
        .iter()
        .filter(|(_, _, diverged, growing)| *diverged || *growing)
        .map(|(lr, ..)| *lr)
        .fold(f32::INFINITY, f32::min);
    let stable = runs
        .iter()
        .map(|(lr, ..)| *lr)
        .filter(|&lr| lr < unstable)
        .reduce(f32::max);
    match stable {
        Some(lr) => {
            say!(
                "largest stable learning rate: {lr} (it and every smaller rate neither diverged nor ended above the loss at the start, {})",
                number(start)
            )
        }
        None => {
            say!("the smallest learning rate diverged or ended above the loss at the start; try smaller ones")
        }
    }
    if let Some(path) = &args.plot {
        // Curves that run away leave the plot at 10 × the largest first
        // loss, so that they do not flatten the others; the label says where.
        let top = 10.0
            * runs
                .iter()
                .filter_map(|(_, losses, _, _)| losses.first().copied())
                .filter(|l| l.is_finite())
                .fold(f64::MIN_POSITIVE, f64::max);
        let curves: Vec<Curve> = runs
            .iter()
            .map(|(lr, losses, diverged, growing)| {
                let left = losses.iter().position(|l| !l.is_finite() || *l > top);
                let mut kept: Vec<f64> = losses[..left.map_or(losses.len(), |i| i + 1)].to_vec();
                if let (Some(_), Some(last)) = (left, kept.last_mut()) {
                    *last = top;
                }
                let note = match (left, diverged, growing) {
                    (Some(i), _, _) => format!(
                        " (left the plot at epoch {}{})",
                        i + 1,
                        if *diverged { ", diverged" } else { "" }
                    ),
                    (None, true, _) => " (diverged)".into(),
                    (None, false, true) => " (unstable)".into(),
                    _ => String::new(),
                };
                Curve {
                    label: format!("lr {lr}{note}"),
                    losses: kept,
                }
            })
            .collect();
        plot::loss_curves(path, "loss per epoch by learning rate (log scale)", &curves, true)
            .map_err(|e| e.to_string())?;
        say!("loss curves: {}", path.display());
    }
    Ok(())
}
