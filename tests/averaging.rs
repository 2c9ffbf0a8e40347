//! Averaged SGD (Polyak–Ruppert): the returned parameters are the mean of
//! the parameters after each step from the chosen one on, computed here
//! from the tracked path; the average sits nearer the least-squares
//! optimum than the last noisy iterate; the GPU averages as the CPU does;
//! a resumed fit continues the average.

mod common;

use downhill::reference::least_squares;
use downhill::EstimatorError;
use downhill::Synthetic;
use downhill::{Device, Error, Fitted, GradientDescent, Model, Optimizer, Solver, Variant};

/// The bias, then the weights.
fn parameters(fitted: &Fitted) -> Vec<f64> {
    std::iter::once(fitted.bias())
        .chain(fitted.weights().iter().copied())
        .map(f64::from)
        .collect()
}

#[test]
fn the_full_batch_average_is_the_mean_of_the_path() {
    let data = Synthetic::generate(Model::Linear, 300, 3, 0.5, 2).unwrap();
    let from = 4;
    let fitted = GradientDescent::linear()
        .optimizer(Optimizer::sgd(0.05))
        .average(from)
        .max_epochs(12)
        .track_parameters(true)
        .device(Device::Cpu)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    // One step per epoch: the path holds the parameters after each step.
    let path = fitted.history().parameters();
    assert_eq!(path.len(), 12);
    let kept = &path[from as usize - 1..];
    let mean_bias = kept.iter().map(|(_, b)| f64::from(*b)).sum::<f64>() / kept.len() as f64;
    assert!((f64::from(fitted.bias()) - mean_bias).abs() <= 1e-6 * mean_bias.abs().max(1.0));
    for j in 0..3 {
        let mean = kept.iter().map(|(w, _)| f64::from(w[j])).sum::<f64>() / kept.len() as f64;
        let found = f64::from(fitted.weights()[j]);
        assert!(
            (found - mean).abs() <= 1e-6 * mean.abs().max(1.0),
            "weight {j}: {found} vs {mean}"
        );
    }
    // And it is not the last iterate.
    let (last_w, _) = path.last().unwrap();
    assert_ne!(fitted.weights()[0], last_w[0]);
}

#[test]
fn the_average_sits_nearer_the_optimum_than_the_last_noisy_step() {
    let data = Synthetic::generate(Model::Linear, 2000, 4, 1.0, 8).unwrap();
    let (weights, bias) = least_squares(data.x.view(), data.y.view(), 0.0).unwrap();
    let optimum: Vec<f64> = std::iter::once(bias).chain(weights.iter().copied()).collect();
    let distance = |fitted: &Fitted| {
        parameters(fitted)
            .iter()
            .zip(&optimum)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt()
    };
    // Single-row steps at a constant rate wander around the optimum.
    let settings = GradientDescent::linear()
        .variant(Variant::Stochastic)
        .optimizer(Optimizer::sgd(0.02))
        .max_epochs(5)
        .seed(3)
        .device(Device::Cpu);
    let last = settings.clone().fit(data.x.view(), data.y.view()).unwrap();
    let averaged = settings.average(2000).fit(data.x.view(), data.y.view()).unwrap();
    let (noisy, smooth) = (distance(&last), distance(&averaged));
    eprintln!("distance to the optimum: last step {noisy:.2e}, average {smooth:.2e}");
    assert!(smooth < 0.25 * noisy, "average {smooth} against last {noisy}");
    // The same steps ran: the losses agree.
    assert_eq!(last.history().losses(), averaged.history().losses());
}

#[test]
fn a_resumed_fit_continues_the_average() {
    let data = Synthetic::generate(Model::Logistic, 400, 3, 0.0, 6).unwrap();
    let settings = GradientDescent::logistic()
        .variant(Variant::MiniBatch(32))
        .optimizer(Optimizer::adam(0.01))
        .average(20)
        .seed(4)
        .device(Device::Cpu);
    let whole = settings
        .clone()
        .max_epochs(8)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    let half = settings
        .clone()
        .max_epochs(4)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    let resumed = settings
        .max_epochs(4)
        .resume(&half)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    assert_eq!(parameters(&resumed), parameters(&whole));
    // A fit that did not average cannot be continued as if it had.
    let plain = GradientDescent::logistic()
        .variant(Variant::MiniBatch(32))
        .optimizer(Optimizer::adam(0.01))
        .max_epochs(4)
        .device(Device::Cpu)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    let result = GradientDescent::logistic()
        .variant(Variant::MiniBatch(32))
        .optimizer(Optimizer::adam(0.01))
        .average(1)
        .max_epochs(4)
        .device(Device::Cpu)
        .resume(&plain)
        .fit(data.x.view(), data.y.view());
    assert!(matches!(result, Err(Error::ResumeMismatch { .. })), "{result:?}");
}

#[test]
fn the_gpu_averages_as_the_cpu_does() {
    let Some(context) = common::gpu("averaged SGD on the GPU") else {
        return;
    };
    let data = Synthetic::generate(Model::Logistic, 600, 4, 0.0, 9).unwrap();
    // The full batch, fused small batches, gathered large ones.
    for variant in [Variant::Full, Variant::MiniBatch(32), Variant::MiniBatch(300)] {
        let settings = GradientDescent::logistic()
            .variant(variant)
            .optimizer(Optimizer::nesterov(0.05, 0.9))
            .average(7)
            .max_epochs(12)
            .seed(2);
        let cpu = settings
            .clone()
            .device(Device::Cpu)
            .fit(data.x.view(), data.y.view())
            .unwrap();
        let gpu = settings
            .gpu_context(context.clone())
            .device(Device::Gpu)
            .fit(data.x.view(), data.y.view())
            .unwrap();
        for (a, b) in parameters(&gpu).iter().zip(parameters(&cpu)) {
            assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "{variant}: {a} vs {b}");
        }
        assert_eq!(
            gpu.training_state().optimizer_state().average.len(),
            5,
            "the state keeps the average"
        );
    }
}

#[test]
fn averaging_settings_are_checked() {
    let data = Synthetic::generate(Model::Linear, 50, 2, 0.1, 1).unwrap();
    let fit = |settings: GradientDescent| settings.fit(data.x.view(), data.y.view());
    assert_eq!(
        fit(GradientDescent::linear().average(0)).unwrap_err(),
        Error::Estimator(EstimatorError::ZeroAverageStart)
    );
    assert_eq!(
        fit(GradientDescent::linear().average(1).solver(Solver::lbfgs())).unwrap_err(),
        Error::Estimator(EstimatorError::AverageOfSolver { solver: "lbfgs" })
    );
}
