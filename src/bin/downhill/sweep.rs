//! `downhill sweep`: one fit per learning rate, the table and the curves.

use downhill::plot::{self, Curve};
use downhill::StopReason;

use crate::args::{
    describe_stop, explain, fit_with_progress, for_class_codes, for_classes, load, LearningRateArg, SweepArgs,
};
use crate::report::number;

/// `downhill sweep`.
pub fn sweep(args: &SweepArgs) -> Result<(), String> {
    if args.data.weight_column.is_some() {
        return Err("--weight-column is not read by sweep; compare rates with unweighted fits".into());
    }
    let data = load(&args.data, args.train.model())?;
    if args.lrs.is_empty() {
        return Err("--lrs needs at least one learning rate".into());
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
    let mut runs = Vec::new();
    let mut stable: Option<f32> = None;
    let mut best: Option<(f32, f64)> = None;
    println!(
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
    println!("{:>12}  {:>14}  {:>8}  stop reason", "lr", "final loss", "epochs");
    for &lr in &args.lrs {
        let descent = args.train.descent(LearningRateArg::Fixed(lr));
        let descent = match &data.encoding.labels {
            Some(_) => for_classes(&args.train, descent, &data.encoding, data.y.len(), false)?,
            None => for_class_codes(&args.train, descent, || Ok(data.y.to_vec()), false)?,
        };
        let (fitted, _) = fit_with_progress(&descent, format!("lr {lr}"), |d| {
            d.fit(data.x.view(), data.y.view())
        })
        .map_err(explain)?;
        let diverged = matches!(fitted.stop_reason(), StopReason::Diverged { .. });
        // A loss that ends above where it started has not diverged by the
        // stop rule's factor yet, but it is not stable either.
        let losses = fitted.history().losses();
        let growing = !diverged && losses.last() > losses.first();
        println!(
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
        if !diverged && !growing && stable.is_none_or(|s| lr > s) {
            stable = Some(lr);
        }
        let last = fitted.history().final_loss().unwrap_or(f64::NAN);
        if !diverged && last.is_finite() && best.is_none_or(|(_, loss)| last < loss) {
            best = Some((lr, last));
        }
        runs.push((lr, fitted.history().losses(), diverged, growing));
    }
    match best {
        Some((lr, loss)) => println!(
            "best learning rate: {lr} (the lowest final loss, {}, of the runs that did not diverge)",
            number(loss)
        ),
        None => println!("no learning rate ended without diverging"),
    }
    match stable {
        Some(lr) => {
            println!("largest stable learning rate: {lr} (neither diverged nor ended above its first loss)")
        }
        None => println!("every learning rate diverged; try smaller ones"),
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
        println!("loss curves: {}", path.display());
    }
    Ok(())
}
