//! Four learning rates on the same standardized data: one crawls, one
//! converges, one oscillates around the minimum yet converges, one diverges.
//!
//! With one standardized feature the mean-squared-error Hessian is 2·I, so
//! each full-batch SGD step multiplies the distance to the least-squares
//! solution by 1 − 2η: 0.98 for η = 0.01, 0.8 for 0.1, −0.2 for 0.6 (the
//! error flips sign every epoch and shrinks) and −1.1 for 1.05 (it flips and
//! grows). The verdicts below are not taken from that theory: they are read
//! off each run, from its stop reason, its loss history and the sign of its
//! weight's error epoch by epoch.
//!
//! cargo run --release --example learning_rates

use downhill::{gradient, reference, Device, GradientDescent, Model, Optimizer, StopReason, Synthetic};
use ndarray::array;

const EPOCHS: usize = 100;
/// Epochs whose loss is printed (when the run got that far).
const SHOWN: [usize; 9] = [1, 2, 3, 5, 10, 20, 40, 70, 100];
/// Epochs over which the weight's error is traced.
const TRACED: usize = 6;

fn main() -> Result<(), downhill::Error> {
    let data = Synthetic::generate(Model::Linear, 200, 1, 0.5, 3)?;
    let (x, y) = (data.x.view(), data.y.view());
    let (exact_weights, exact_bias) = reference::least_squares(x, y, 0.0)?;
    let exact_w = exact_weights[0];
    let optimum = gradient(
        &Device::Cpu,
        Model::Linear,
        x,
        y,
        array![exact_w as f32].view(),
        exact_bias as f32,
    )?
    .loss;
    println!(
        "200 rows, 1 feature, y = {:.3}·x + {:.3} + noise; least squares: w* = {exact_w:.4}, \
         b* = {exact_bias:.4}, loss {optimum:.4}",
        data.weights[0], data.bias
    );
    println!("full batch, plain SGD, standardize(true), at most {EPOCHS} epochs\n");

    for learning_rate in [0.01f32, 0.1, 0.6, 1.05] {
        let descent = GradientDescent::linear()
            .optimizer(Optimizer::sgd(learning_rate))
            .standardize(true)
            .device(Device::Cpu);
        let fitted = descent.clone().max_epochs(EPOCHS).fit(x, y)?;
        let losses = fitted.history().losses();

        // The same run one epoch at a time, to see w after each epoch
        // (plain SGD keeps no state, so warm starts continue it exactly).
        let mut errors = Vec::new();
        let (mut w, mut b) = (0.0f32, 0.0f32);
        for _ in 0..TRACED {
            let step = descent.clone().max_epochs(1).warm_start(array![w], b).fit(x, y)?;
            (w, b) = (step.weights()[0], step.bias());
            errors.push(f64::from(w) - exact_w);
        }

        println!("η = {learning_rate}: stopped by {:?}", fitted.stop_reason());
        let shown: Vec<String> = SHOWN
            .iter()
            .filter_map(|&e| losses.get(e - 1).map(|l| format!("{e}: {}", loss_text(*l))))
            .chain(
                (!SHOWN.contains(&losses.len()))
                    .then(|| format!("{}: {}", losses.len(), loss_text(losses[losses.len() - 1]))),
            )
            .collect();
        println!("  loss at the start of epoch  {}", shown.join(", "));
        let traced: Vec<String> = errors.iter().map(|e| format!("{e:+.2e}")).collect();
        println!("  w − w* after epochs 1..{TRACED}    {}", traced.join(" "));
        println!(
            "  verdict: {}\n",
            verdict(fitted.stop_reason(), &losses, optimum, &errors)
        );
    }
    Ok(())
}

/// Reads the behaviour off a run: its stop reason, its loss history (which
/// starts at the loss of the zero parameters) and the weight's error after
/// each of its first epochs.
fn verdict(stop: StopReason, losses: &[f64], optimum: f64, errors: &[f64]) -> String {
    let flips_sign = errors.windows(2).all(|pair| pair[0] * pair[1] < 0.0);
    let shrinks = errors.windows(2).all(|pair| pair[1].abs() < pair[0].abs());
    let first_excess = losses[0] - optimum;
    let last_excess = losses[losses.len() - 1] - optimum;
    let diverged = matches!(stop, StopReason::Diverged { .. }) || last_excess > first_excess;
    if diverged && flips_sign && !shrinks {
        "diverges: w overshoots w* by more every epoch and the loss explodes".into()
    } else if diverged {
        "diverges: the loss explodes".into()
    } else if flips_sign && shrinks {
        "oscillates: w jumps across w* every epoch, by less each time, so it still converges".into()
    } else if last_excess > 1e-3 * first_excess {
        format!(
            "crawls: after {} epochs the loss is still {:.1}% of its initial excess above the optimum",
            losses.len(),
            100.0 * last_excess / first_excess
        )
    } else {
        "converges: w approaches w* from one side and the loss settles on the optimum".into()
    }
}

/// Four decimals for moderate losses, scientific notation for huge ones.
fn loss_text(loss: f64) -> String {
    if loss.abs() < 1e4 {
        format!("{loss:.4}")
    } else {
        format!("{loss:.3e}")
    }
}
