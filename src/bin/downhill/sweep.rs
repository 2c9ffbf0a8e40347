//! `downhill sweep`: one fit per learning rate, the table and the curves.

use downhill::plot::{self, Curve};
use downhill::StopReason;

use crate::args::{describe_stop, explain, fit_with_progress, load, LearningRateArg, SweepArgs};

/// `downhill sweep`.
pub fn sweep(args: &SweepArgs) -> Result<(), String> {
    let data = load(&args.data, args.train.model)?;
    if args.lrs.is_empty() {
        return Err("--lrs needs at least one learning rate".into());
    }
    let explain = |e| explain(e, &data, &args.data.data, Some(&args.data.target));
    let mut curves = Vec::new();
    let mut stable: Option<f32> = None;
    println!(
        "{} regression of {:?}, {} {}, {} epochs at most",
        args.train.model,
        args.data.target,
        args.train.variant,
        args.train.optimizer,
        args.train.max_epochs()
    );
    println!("{:>12}  {:>14}  {:>8}  stop reason", "lr", "final loss", "epochs");
    for &lr in &args.lrs {
        let descent = args.train.descent(LearningRateArg::Fixed(lr));
        let (fitted, _) = fit_with_progress(&descent, &data, format!("lr {lr}")).map_err(explain)?;
        let diverged = matches!(fitted.stop_reason(), StopReason::Diverged { .. });
        // A loss that ends above where it started has not diverged by the
        // stop rule's factor yet, but it is not stable either.
        let losses = fitted.history().losses();
        let growing = !diverged && losses.last() > losses.first();
        println!(
            "{lr:>12}  {:>14.6}  {:>8}  {}{}",
            fitted.history().final_loss().unwrap_or(f64::NAN),
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
