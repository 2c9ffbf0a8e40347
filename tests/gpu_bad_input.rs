//! Bad input on the GPU engine gets exactly the errors the CPU engine
//! gives, and diverging runs stop the same way on both.
#![cfg(feature = "gpu")]

mod common;

use downhill::{DataError, EstimatorError};
use std::sync::Arc;

use downhill::{gradient, Device, Error, GpuContext, GradientDescent, Model, Optimizer, StopReason, Variant};
use ndarray::{array, Array1, Array2};

fn on_both(
    context: &Arc<GpuContext>,
    descent: &GradientDescent,
    x: &Array2<f32>,
    y: &Array1<f32>,
) -> (
    downhill::Result<downhill::Fitted>,
    downhill::Result<downhill::Fitted>,
) {
    let cpu = descent.clone().device(Device::Cpu).fit(x.view(), y.view());
    let gpu = descent
        .clone()
        .device(Device::Gpu)
        .gpu_context(Arc::clone(context))
        .fit(x.view(), y.view());
    (cpu, gpu)
}

fn assert_same_error(
    context: &Arc<GpuContext>,
    descent: GradientDescent,
    x: Array2<f32>,
    y: Array1<f32>,
) -> Error {
    let (cpu, gpu) = on_both(context, &descent, &x, &y);
    let cpu = cpu.expect_err("bad input");
    // Debug strings, because a NaN in an error is not equal to itself.
    assert_eq!(format!("{:?}", gpu.expect_err("bad input")), format!("{cpu:?}"));
    cpu
}

fn regression(rows: usize) -> (Array2<f32>, Array1<f32>) {
    let x = Array2::from_shape_fn((rows, 3), |(i, j)| ((i * 7 + j * 3) % 11) as f32 - 5.0);
    let y = Array1::from_shape_fn(rows, |i| i as f32 * 0.1);
    (x, y)
}

#[test]
fn bad_data_gets_the_cpu_engine_errors() {
    let Some(context) = common::gpu("bad data") else {
        return;
    };
    let (x, y) = regression(40);
    let linear = GradientDescent::linear;

    let short_y = y.slice(ndarray::s![..39]).to_owned();
    assert_eq!(
        assert_same_error(&context, linear(), x.clone(), short_y),
        Error::ShapeMismatch {
            x_rows: 40,
            y_len: 39
        }
    );
    assert_eq!(
        assert_same_error(&context, linear(), Array2::zeros((0, 3)), Array1::zeros(0)),
        Error::EmptyData { rows: 0, features: 3 }
    );
    let mut y_inf = y.clone();
    y_inf[17] = f32::INFINITY;
    assert_same_error(&context, linear(), x.clone(), y_inf);
    let mut labels = y.mapv(|v| if v > 2.0 { 1.0 } else { 0.0 });
    labels[5] = 2.0;
    assert_eq!(
        assert_same_error(&context, GradientDescent::logistic(), x.clone(), labels),
        Error::InvalidLabel { row: 5, value: 2.0 }
    );
    assert_eq!(
        assert_same_error(
            &context,
            linear().variant(Variant::MiniBatch(0)),
            x.clone(),
            y.clone()
        ),
        Error::Estimator(EstimatorError::ZeroBatchSize)
    );
    assert_same_error(
        &context,
        linear().optimizer(Optimizer::adam(-1.0)),
        x.clone(),
        y.clone(),
    );
    assert_same_error(
        &context,
        linear().warm_start(array![1.0f32, 2.0], 0.0),
        x.clone(),
        y.clone(),
    );
}

#[test]
fn non_finite_x_is_found_on_every_gpu_path() {
    let Some(context) = common::gpu("non-finite X") else {
        return;
    };
    let Some(split) = common::gpu_split("non-finite X, split") else {
        return;
    };
    let (mut x, y) = regression(300);
    x[[211, 1]] = f32::NAN;
    let expected = Error::Data(DataError::NonFiniteFeature {
        row: 211,
        column: 1,
        value: f32::NAN,
    });
    for context in [&context, &split] {
        for variant in [
            Variant::Full,
            Variant::Stochastic,
            Variant::MiniBatch(8),
            Variant::MiniBatch(290),
        ] {
            for standardize in [false, true] {
                let descent = GradientDescent::linear()
                    .variant(variant)
                    .standardize(standardize);
                let error = assert_same_error(context, descent, x.clone(), y.clone());
                // NaN ≠ NaN: compare the rendering.
                assert_eq!(format!("{error:?}"), format!("{expected:?}"));
            }
        }
    }
    let w = Array1::zeros(3);
    let cpu = gradient(&Device::Cpu, Model::Linear, x.view(), y.view(), w.view(), 0.0);
    let gpu = context.gradient(Model::Linear, x.view(), y.view(), w.view(), 0.0);
    assert_eq!(format!("{gpu:?}"), format!("{cpu:?}"));
}

fn explosive() -> (Array2<f32>, Array1<f32>) {
    let x = Array2::from_shape_fn((4, 1), |(i, _)| (i + 1) as f32);
    let y = x.column(0).mapv(|v| 2.0 * v + 1.0);
    (x, y)
}

#[test]
fn diverging_runs_stop_alike_and_keep_finite_parameters() {
    let Some(context) = common::gpu("divergence") else {
        return;
    };
    let (x, y) = explosive();
    for lr in [0.5, 1e38] {
        let descent = GradientDescent::linear()
            .optimizer(Optimizer::sgd(lr))
            .max_epochs(10_000);
        let (cpu, gpu) = on_both(&context, &descent, &x, &y);
        let (cpu, gpu) = (cpu.expect("not an error"), gpu.expect("not an error"));
        assert!(
            matches!(cpu.stop_reason(), StopReason::Diverged { .. }),
            "{:?}",
            cpu.stop_reason()
        );
        assert_eq!(gpu.stop_reason(), cpu.stop_reason(), "lr {lr}");
        assert!(gpu.weights().iter().all(|w| w.is_finite()) && gpu.bias().is_finite());
        let close = |a: f32, b: f32| (a - b).abs() <= 1e-4 * b.abs() + 1e-6;
        assert!(
            close(gpu.weights()[0], cpu.weights()[0]),
            "{} vs {}",
            gpu.weights(),
            cpu.weights()
        );
        assert!(close(gpu.bias(), cpu.bias()), "{} vs {}", gpu.bias(), cpu.bias());
    }
    // Without the factor, the run goes on until the loss overflows. The
    // GPU sums the batch loss in f32, the CPU in f64, so the GPU may see
    // the overflow one epoch sooner; either way the parameters kept are
    // finite.
    let descent = GradientDescent::linear()
        .optimizer(Optimizer::sgd(0.5))
        .divergence_factor(f64::INFINITY)
        .max_epochs(10_000);
    let (cpu, gpu) = on_both(&context, &descent, &x, &y);
    let (cpu, gpu) = (cpu.expect("not an error"), gpu.expect("not an error"));
    let (StopReason::Diverged { epoch: on_cpu }, StopReason::Diverged { epoch: on_gpu }) =
        (cpu.stop_reason(), gpu.stop_reason())
    else {
        panic!("{:?} and {:?}", cpu.stop_reason(), gpu.stop_reason());
    };
    assert!(
        on_gpu == on_cpu || on_gpu + 1 == on_cpu,
        "GPU epoch {on_gpu}, CPU epoch {on_cpu}"
    );
    assert!(gpu.weights().iter().all(|w| w.is_finite()) && gpu.bias().is_finite());
}
