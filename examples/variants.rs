//! Batch against mini-batch against stochastic descent on 500 samples of
//! y = 3x + 2 + noise: their loss curves overlaid, and the paths they take
//! over the loss surface in (w, b), the full batch smooth, the stochastic
//! one noisy, all near the least-squares optimum.
//!
//! cargo run --release --example variants
//! (writes variants-loss.svg and variants-path.svg in the current folder)

use downhill::plot::{loss_curves, loss_surface, Curve, ParameterPath};
use downhill::{reference, Device, GradientDescent, Optimizer, Variant};
use ndarray::{Array1, Array2};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal, Uniform};

fn main() -> Result<(), downhill::Error> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let uniform = Uniform::new(0.0f32, 2.0).expect("ordered bounds");
    let noise = Normal::new(0.0f32, 0.5).expect("positive spread");
    let x: Array1<f32> = (0..500).map(|_| uniform.sample(&mut rng)).collect();
    let y: Array1<f32> = x.mapv(|v| 3.0 * v + 2.0 + noise.sample(&mut rng));
    let x = Array2::from_shape_vec((500, 1), x.to_vec()).expect("one column");

    let (w_star, b_star) = reference::least_squares(x.view(), y.view(), 0.0)?;
    println!("least squares: w = {:.4}, b = {:.4}", w_star[0], b_star);

    let runs = [
        ("batch (full)", Variant::Full, 0.1),
        ("mini-batch 32", Variant::MiniBatch(32), 0.05),
        ("stochastic", Variant::Stochastic, 0.01),
    ];
    let mut curves = Vec::new();
    let mut paths = Vec::new();
    for (name, variant, lr) in runs {
        let fitted = GradientDescent::linear()
            .variant(variant)
            .optimizer(Optimizer::sgd(lr))
            .max_epochs(40)
            .seed(1)
            .track_parameters(true)
            .device(Device::Cpu)
            .fit(x.view(), y.view())?;
        println!(
            "{name:<14} lr {lr:<5}: w = {:.4}, b = {:.4}, final loss {:.4}, {} steps",
            fitted.weights()[0],
            fitted.bias(),
            fitted.history().final_loss().unwrap_or(f64::NAN),
            fitted.gradient_evaluations()
        );
        curves.push(Curve {
            label: format!("{name}, lr {lr}"),
            losses: fitted.history().losses(),
        });
        let points = std::iter::once((0.0, 0.0))
            .chain(
                fitted
                    .history()
                    .parameters()
                    .iter()
                    .map(|(w, b)| (f64::from(w[0]), f64::from(*b))),
            )
            .collect();
        paths.push(ParameterPath {
            label: name.into(),
            points,
        });
    }
    loss_curves(
        "variants-loss.svg".as_ref(),
        "loss per epoch, y = 3x + 2 + noise",
        &curves,
        true,
    )?;
    loss_surface(
        "variants-path.svg".as_ref(),
        x.column(0),
        y.view(),
        &paths,
        (w_star[0], b_star),
    )?;
    println!("wrote variants-loss.svg and variants-path.svg");
    Ok(())
}
