//! The learning rate from the data: on problems of condition numbers 1 to
//! 1e3, the rate chosen converges and lies within 2× of the largest stable
//! rate, found here by bisection.

use downhill::{Device, GradientDescent, Model, Optimizer, StopReason, Synthetic};
use ndarray::{Array1, Array2};

/// Standard-normal features scaled so that the curvature's eigenvalues
/// spread over `condition`: column j by condition^(j / (2(d − 1))).
fn problem(model: Model, condition: f64, seed: u64) -> (Array2<f32>, Array1<f32>) {
    let d = 4;
    let data = Synthetic::generate(model, 2000, d, 0.5, seed).unwrap();
    let mut x = data.x.clone();
    for (j, mut column) in x.columns_mut().into_iter().enumerate() {
        let factor = condition.powf(j as f64 / (2.0 * (d - 1) as f64)) as f32;
        column.mapv_inplace(|v| v * factor);
    }
    // Targets of the linear model follow the scaled features, with the
    // generator's noise (so that the least loss is not 0, where rounding
    // alone would move it).
    let y = match model {
        Model::Linear => {
            let noise = &data.y - &data.x.dot(&data.weights) - data.bias;
            x.dot(&Array1::from(vec![0.5f32, -0.3, 0.2, 0.1])) + 1.0 + noise
        }
        Model::Logistic => data.y,
    };
    (x, y)
}

fn fit(model: Model, x: &Array2<f32>, y: &Array1<f32>, rate: Option<f32>, epochs: usize) -> downhill::Fitted {
    let descent = GradientDescent::new(model)
        .max_epochs(epochs)
        .divergence_factor(1e3)
        .device(Device::Cpu);
    match rate {
        Some(rate) => descent.optimizer(Optimizer::sgd(rate)),
        None => descent.auto_learning_rate(true),
    }
    .fit(x.view(), y.view())
    .unwrap()
}

/// Stable: 1,000 epochs of full-batch descent, the loss never rising (by
/// more than rounding). Slightly above the true limit (2/L for the squared
/// error) the unstable direction grows by only a little each epoch and may
/// not yet show in the loss, so the limit found this way errs a little
/// upwards.
fn stable(model: Model, x: &Array2<f32>, y: &Array1<f32>, rate: f32) -> bool {
    let fitted = fit(model, x, y, Some(rate), 1000);
    let losses = fitted.history().losses();
    !matches!(fitted.stop_reason(), StopReason::Diverged { .. })
        && losses.windows(2).all(|pair| pair[1] <= pair[0] * (1.0 + 1e-6))
}

#[test]
fn the_automatic_rate_converges_within_twice_the_largest_stable_rate() {
    for (model, condition, seed) in [
        (Model::Linear, 1.0, 1),
        (Model::Linear, 30.0, 2),
        (Model::Linear, 1e3, 3),
        (Model::Logistic, 1.0, 4),
        (Model::Logistic, 1e2, 5),
    ] {
        let (x, y) = problem(model, condition, seed);
        let auto = fit(model, &x, &y, None, 300);
        let chosen = auto.settings().optimizer_settings().learning_rate();
        let losses = auto.history().losses();
        assert_eq!(auto.stop_reason(), StopReason::MaxEpochs, "{model} κ {condition}");
        // Full-batch descent below 2/L lowers the loss every epoch.
        for pair in losses.windows(2) {
            assert!(
                pair[1] <= pair[0] * (1.0 + 1e-6),
                "{model} κ {condition}: {pair:?}"
            );
        }
        assert!(
            losses.last().unwrap() < &(0.9 * losses[0]),
            "{model} κ {condition}: {losses:?}"
        );
        // The largest stable rate, by bisection between a stable and an
        // unstable one.
        let (mut low, mut high) = (chosen / 16.0, chosen * 16.0);
        assert!(
            stable(model, &x, &y, low) && !stable(model, &x, &y, high),
            "{model} κ {condition}"
        );
        for _ in 0..14 {
            let middle = (low * high).sqrt();
            if stable(model, &x, &y, middle) {
                low = middle;
            } else {
                high = middle;
            }
        }
        // 1/L against 2/L: a ratio of 2 for the squared error, allowing 1 %
        // for the finite horizon of the bisection's runs.
        let ratio = f64::from(low / chosen);
        assert!(
            (1.0..=2.02).contains(&ratio),
            "{model} κ {condition}: chosen {chosen}, largest stable {low} (ratio {ratio})"
        );
        eprintln!("{model} κ {condition}: chosen {chosen}, largest stable {low}, ratio {ratio:.3}");
    }
}

#[path = "common/mod.rs"]
mod common;

#[test]
fn the_gpu_measures_the_same_curvatures() {
    let Some(context) = common::gpu("the automatic rate on the GPU") else {
        return;
    };
    let (x, y) = problem(Model::Linear, 30.0, 2);
    let on = |device: Device| {
        GradientDescent::linear()
            .auto_learning_rate(true)
            .max_epochs(2)
            .device(device)
            .gpu_context(context.clone())
            .fit(x.view(), y.view())
            .unwrap()
    };
    let (cpu, gpu) = (on(Device::Cpu), on(Device::Gpu));
    let (a, b) = (cpu.curvature().unwrap(), gpu.curvature().unwrap());
    assert!(
        (a.largest - b.largest).abs() <= 1e-4 * a.largest,
        "{a:?} vs {b:?}"
    );
    assert!(
        (a.smallest - b.smallest).abs() <= 1e-3 * a.smallest,
        "{a:?} vs {b:?}"
    );
}

/// Nesterov's momentum from the measured curvatures: on the problem of
/// condition number 1e3, where plain descent at 1/L keeps about e^(−k/κ) of
/// its error after k epochs (a third after 1,000), the error shrinks by
/// about 1 − 1/√κ an epoch and the parameters settle on the least-squares
/// solution (float64, nalgebra's QR) within 1e-4.
#[test]
fn the_momentum_from_the_data_reaches_the_closed_form_where_plain_descent_does_not() {
    let (x, y) = problem(Model::Linear, 1e3, 3);
    let (w, b) = downhill::reference::least_squares(x.view(), y.view(), 0.0).unwrap();
    let worst_error = |fitted: &downhill::Fitted| {
        fitted
            .weights()
            .iter()
            .map(|&v| f64::from(v))
            .chain([f64::from(fitted.bias())])
            .zip(w.iter().chain([&b]))
            .map(|(found, expected)| (found - expected).abs() / expected.abs())
            .fold(0.0, f64::max)
    };
    let descent = GradientDescent::linear()
        .auto_learning_rate(true)
        .parameter_tolerance(1e-7)
        .max_epochs(1000)
        .device(Device::Cpu);
    let nesterov = descent
        .clone()
        .optimizer(Optimizer::nesterov(1.0, 0.0))
        .auto_momentum(true)
        .fit(x.view(), y.view())
        .unwrap();
    let curvature = nesterov.curvature().unwrap();
    assert!(
        (900.0..1100.0).contains(&curvature.condition_number()),
        "{curvature:?}"
    );
    let Optimizer::Momentum(chosen) = nesterov.settings().optimizer_settings() else {
        panic!("not a momentum rule");
    };
    let root = curvature.condition_number().sqrt();
    assert_eq!(chosen.beta, ((root - 1.0) / (root + 1.0)) as f32);
    assert!(
        matches!(nesterov.stop_reason(), StopReason::Converged { .. }),
        "{}",
        nesterov.stop_reason()
    );
    assert!(worst_error(&nesterov) <= 1e-4, "{}", worst_error(&nesterov));
    let plain = descent.fit(x.view(), y.view()).unwrap();
    assert_eq!(plain.stop_reason(), StopReason::MaxEpochs);
    assert!(worst_error(&plain) > 1e-2, "{}", worst_error(&plain));
}

#[test]
fn the_gpu_takes_the_same_momentum_and_lands_on_the_cpu_s_parameters() {
    let Some(context) = common::gpu("the momentum from the data on the GPU") else {
        return;
    };
    let (x, y) = problem(Model::Linear, 1e3, 3);
    let on = |device: Device| {
        GradientDescent::linear()
            .optimizer(Optimizer::nesterov(1.0, 0.0))
            .auto_learning_rate(true)
            .auto_momentum(true)
            .parameter_tolerance(1e-6)
            .max_epochs(1000)
            .device(device)
            .gpu_context(context.clone())
            .fit(x.view(), y.view())
            .unwrap()
    };
    let (cpu, gpu) = (on(Device::Cpu), on(Device::Gpu));
    let beta = |fitted: &downhill::Fitted| match fitted.settings().optimizer_settings() {
        Optimizer::Momentum(m) => m.beta,
        other => panic!("{other}"),
    };
    assert!(
        (beta(&cpu) - beta(&gpu)).abs() <= 1e-4,
        "{} vs {}",
        beta(&cpu),
        beta(&gpu)
    );
    for (a, b) in cpu.weights().iter().zip(gpu.weights()) {
        assert!((a - b).abs() <= 1e-3 * a.abs().max(1.0), "{a} vs {b}");
    }
}

/// A strong L2 penalty on weak curvature (features of scale 0.05, l2 a
/// thousand times the loss's largest curvature): the automatic rate steps
/// over the penalty's curvature too, so plain descent and Nesterov's
/// momentum both reach the float64 ridge solution. (The rate of the
/// loss's curvature alone multiplied the weights by about −1000 a step.)
#[test]
fn the_automatic_rate_takes_the_l2_penalty_s_curvature() {
    let (x, y) = problem(Model::Linear, 10.0, 4);
    let x = x.mapv(|v| 0.05 * v);
    let l2 = 5.0f32;
    let (w, b) = downhill::reference::least_squares(x.view(), y.view(), f64::from(l2)).unwrap();
    let descent = GradientDescent::linear()
        .penalty(downhill::Penalty::L2(l2))
        .auto_learning_rate(true)
        .parameter_tolerance(1e-9)
        .max_epochs(20_000)
        .device(Device::Cpu);
    for fitted in [
        descent.clone().fit(x.view(), y.view()).unwrap(),
        descent
            .optimizer(Optimizer::nesterov(1.0, 0.0))
            .auto_momentum(true)
            .fit(x.view(), y.view())
            .unwrap(),
    ] {
        assert!(
            matches!(fitted.stop_reason(), StopReason::Converged { .. }),
            "{}",
            fitted.stop_reason()
        );
        let scale = w.iter().fold(b.abs(), |m, v| m.max(v.abs()));
        for (found, expected) in fitted
            .weights()
            .iter()
            .chain([&fitted.bias()])
            .zip(w.iter().chain([&b]))
        {
            assert!(
                (f64::from(*found) - expected).abs() <= 1e-4 * scale,
                "{found} against {expected}"
            );
        }
    }
}
