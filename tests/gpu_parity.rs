//! The GPU engine against the CPU engine on the same seed: every model ×
//! variant × optimizer, epoch by epoch (loss) and at the end (weights),
//! on the shared context and on one that splits X across many buffers.
#![cfg(feature = "gpu")]

mod common;

use std::sync::Arc;

use downhill::{
    Device, Fitted, GpuContext, GradientDescent, Loss, Model, Optimizer, Penalty, Schedule, Shuffle,
    StopReason, Synthetic, Variant,
};
use ndarray::{Array1, Array2};

const RELATIVE: f64 = 1e-4;
const ABSOLUTE: f64 = 1e-5;

fn data(model: Model, rows: usize, features: usize) -> (Array2<f32>, Array1<f32>) {
    let s = Synthetic::generate(model, rows, features, 0.5, 7).expect("valid sizes");
    (s.x, s.y)
}

/// Every rule, with learning rates scaled by `scale` (wide data needs
/// smaller steps to stay stable).
fn optimizers(scale: f32) -> Vec<Optimizer> {
    vec![
        Optimizer::sgd(0.05 * scale).into(),
        Optimizer::momentum(0.02 * scale, 0.9).into(),
        Optimizer::nesterov(0.02 * scale, 0.9).into(),
        Optimizer::adagrad(0.1 * scale).into(),
        Optimizer::rmsprop(0.01 * scale).into(),
        Optimizer::adam(0.02 * scale).into(),
    ]
}

fn descent(model: Model, variant: Variant, optimizer: Optimizer) -> GradientDescent {
    GradientDescent::new(model)
        .variant(variant)
        .optimizer(optimizer)
        .schedule(Schedule::step_decay(3, 0.7))
        .l2(0.01)
        .standardize(true)
        .max_epochs(8)
        .seed(11)
}

fn as_f64(values: impl IntoIterator<Item = f32>) -> Vec<f64> {
    values.into_iter().map(f64::from).collect()
}

/// One parity case: the same descent on the CPU and on `context`.
fn check(context: &Arc<GpuContext>, model: Model, variant: Variant, rows: usize, features: usize) {
    check_scaled(context, model, variant, rows, features, 1.0);
}

fn check_scaled(
    context: &Arc<GpuContext>,
    model: Model,
    variant: Variant,
    rows: usize,
    features: usize,
    lr_scale: f32,
) {
    check_shuffled(context, model, variant, rows, features, lr_scale, Shuffle::Rows);
}

fn check_shuffled(
    context: &Arc<GpuContext>,
    model: Model,
    variant: Variant,
    rows: usize,
    features: usize,
    lr_scale: f32,
    shuffle: Shuffle,
) {
    let (x, y) = data(model, rows, features);
    for optimizer in optimizers(lr_scale) {
        let what = format!("{model:?} {variant:?} {shuffle} {}", optimizer.name());
        let settings = descent(model, variant, optimizer).shuffle(shuffle);
        compare(context, settings, &x, &y, &what);
    }
}

/// The same `settings` on the CPU and on `context`: epoch losses, rates
/// and parameters.
fn compare(
    context: &Arc<GpuContext>,
    settings: GradientDescent,
    x: &Array2<f32>,
    y: &Array1<f32>,
    what: &str,
) {
    compare_within(context, settings, (x, y, None), what, RELATIVE);
}

/// [`compare`] within `relative`, the rows weighing `weights` where given.
fn compare_within(
    context: &Arc<GpuContext>,
    settings: GradientDescent,
    (x, y, weights): (&Array2<f32>, &Array1<f32>, Option<&Array1<f32>>),
    what: &str,
    relative: f64,
) {
    {
        let fit = |settings: GradientDescent| match weights {
            Some(weights) => settings.fit_weighted(x.view(), y.view(), weights.view()),
            None => settings.fit(x.view(), y.view()),
        };
        let cpu: Fitted = fit(settings.clone().device(Device::Cpu)).expect("cpu fit");
        let gpu: Fitted =
            fit(settings.device(Device::Gpu).gpu_context(Arc::clone(context))).expect("gpu fit");
        assert_eq!(gpu.device(), Device::Gpu, "{what}");
        assert_eq!(cpu.stop_reason(), StopReason::MaxEpochs, "{what}");
        assert_eq!(gpu.stop_reason(), cpu.stop_reason(), "{what}");
        assert_eq!(gpu.gradient_evaluations(), cpu.gradient_evaluations(), "{what}");
        common::assert_close(
            &format!("{what}: epoch losses"),
            &gpu.history().losses(),
            &cpu.history().losses(),
            relative,
            ABSOLUTE,
        );
        let lr = |f: &Fitted| {
            f.history()
                .records()
                .iter()
                .map(|r| r.learning_rate)
                .collect::<Vec<_>>()
        };
        assert_eq!(lr(&gpu), lr(&cpu), "{what}: learning rates");
        // Every margin's weights and bias (one margin but for the
        // multinomial).
        let parameters = |f: &Fitted| {
            let mut p = as_f64(f.coefficients().iter().copied());
            p.extend(as_f64(f.intercepts().iter().copied()));
            p
        };
        common::assert_close(
            &format!("{what}: parameters"),
            &parameters(&gpu),
            &parameters(&cpu),
            relative,
            ABSOLUTE,
        );
    }
}

fn variants() -> [Variant; 4] {
    [
        Variant::Full,
        Variant::Stochastic,
        Variant::MiniBatch(7),
        Variant::MiniBatch(64),
    ]
}

/// The L1 part's soft-thresholding follows every rule's update on both
/// engines alike: full batch, the fused small-batch kernel, and gathered
/// batches larger than a workgroup.
#[test]
fn l1_and_elastic_net_runs_match_the_cpu_engine() {
    let Some(context) = common::gpu("penalty parity") else {
        return;
    };
    for penalty in [
        Penalty::L1(0.05),
        Penalty::ElasticNet {
            alpha: 0.1,
            l1_ratio: 0.5,
        },
    ] {
        for model in [Model::Linear, Model::Logistic] {
            let (x, y) = data(model, 403, 6);
            for variant in [Variant::Full, Variant::MiniBatch(7), Variant::MiniBatch(300)] {
                for optimizer in optimizers(1.0) {
                    let what = format!("{penalty:?} {model:?} {variant:?} {}", optimizer.name());
                    let settings = descent(model, variant, optimizer).penalty(penalty);
                    compare(&context, settings, &x, &y, &what);
                }
            }
        }
    }
}

/// Every loss, defined once in Rust and once in WGSL, gives the same epochs
/// on both engines: full batch, the fused small-batch kernel and gathered
/// batches.
#[test]
fn every_loss_matches_the_cpu_engine() {
    let Some(context) = common::gpu("loss parity") else {
        return;
    };
    let losses = [
        Loss::Huber { epsilon: 0.5 },
        Loss::EpsilonInsensitive { epsilon: 0.2 },
        Loss::SquaredEpsilonInsensitive { epsilon: 0.2 },
        Loss::Poisson,
        Loss::Hinge,
        Loss::SquaredHinge,
        Loss::ModifiedHuber,
    ];
    for loss in losses {
        let model = loss.model();
        let (x, y) = data(model, 403, 6);
        // Poisson reads counts or rates of at least 0.
        let y = match loss {
            Loss::Poisson => y.mapv(|v| (0.3 * v).exp().round()),
            _ => y,
        };
        for variant in [Variant::Full, Variant::MiniBatch(7), Variant::MiniBatch(300)] {
            for optimizer in optimizers(0.5) {
                let what = format!("{loss} {variant:?} {}", optimizer.name());
                let settings = descent(model, variant, optimizer).loss(loss);
                // At the kinks of the ε-insensitive and hinge losses the
                // derivative jumps: a rounding apart, a row near one takes
                // the other side on the other engine, and small batches
                // (most of all under Adam's normalized steps) part by more
                // than rounding over the epochs.
                let relative = match loss {
                    Loss::EpsilonInsensitive { .. } | Loss::Hinge => 1e-2,
                    _ => RELATIVE,
                };
                compare_within(&context, settings, (&x, &y, None), &what, relative);
            }
        }
    }
}

/// Every loss under every penalty (the L1 step after the loss's
/// gradient), full batch and fused small batches, Nesterov and Adam.
#[test]
fn every_loss_under_every_penalty_matches_the_cpu_engine() {
    let Some(context) = common::gpu("loss × penalty parity") else {
        return;
    };
    let losses = [
        Loss::Squared,
        Loss::Huber { epsilon: 0.5 },
        Loss::SquaredEpsilonInsensitive { epsilon: 0.2 },
        Loss::Poisson,
        Loss::Log,
        Loss::SquaredHinge,
        Loss::ModifiedHuber,
    ];
    let penalties = [
        Penalty::L2(0.02),
        Penalty::L1(0.02),
        Penalty::ElasticNet {
            alpha: 0.04,
            l1_ratio: 0.5,
        },
    ];
    for loss in losses {
        let model = loss.model();
        let (x, y) = data(model, 203, 5);
        let y = match loss {
            Loss::Poisson => y.mapv(|v| (0.3 * v).exp().round()),
            _ => y,
        };
        for penalty in penalties {
            for variant in [Variant::Full, Variant::MiniBatch(7)] {
                for optimizer in [
                    Optimizer::nesterov(0.01, 0.9).into(),
                    Optimizer::adam(0.01).into(),
                ] {
                    let optimizer: Optimizer = optimizer;
                    let what = format!("{loss} {penalty:?} {variant:?} {}", optimizer.name());
                    let settings = descent(model, variant, optimizer).loss(loss).penalty(penalty);
                    compare(&context, settings, &x, &y, &what);
                }
            }
        }
    }
}

/// Every smooth loss under every penalty with sample weights (0 among
/// them), full batch and fused small batches, Adam: the weights reach the
/// GPU's sums as they reach the CPU's.
#[test]
fn every_loss_under_every_penalty_with_weights_matches_the_cpu_engine() {
    let Some(context) = common::gpu("loss × penalty × weights parity") else {
        return;
    };
    let losses = [
        Loss::Squared,
        Loss::Huber { epsilon: 0.5 },
        Loss::Poisson,
        Loss::Log,
        Loss::SquaredHinge,
        Loss::ModifiedHuber,
    ];
    let penalties = [
        Penalty::L2(0.02),
        Penalty::ElasticNet {
            alpha: 0.04,
            l1_ratio: 0.5,
        },
    ];
    for loss in losses {
        let model = loss.model();
        let (x, y) = data(model, 203, 5);
        let y = match loss {
            Loss::Poisson => y.mapv(|v| (0.3 * v).exp().round()),
            _ => y,
        };
        let weights = Array1::from_shape_fn(203, |i| [0.0f32, 0.5, 1.0, 3.0][i % 4]);
        for penalty in penalties {
            for variant in [Variant::Full, Variant::MiniBatch(7)] {
                let what = format!("weighted {loss} {penalty:?} {variant:?}");
                let settings = descent(model, variant, Optimizer::adam(0.01).into())
                    .loss(loss)
                    .penalty(penalty);
                compare_within(&context, settings, (&x, &y, Some(&weights)), &what, RELATIVE);
            }
        }
    }
}

/// `rows` rows of `features` standard normal features and labels of
/// `classes` classes: the class of the largest of x·Wₖ plus noise, for a
/// fixed W.
fn classes_data(rows: usize, features: usize, classes: usize) -> (Array2<f32>, Array1<f32>) {
    let (x, _) = data(Model::Linear, rows, features);
    let w = Array2::from_shape_fn((features, classes), |(j, k)| {
        (((j * 7 + k * 3) % 11) as f32 - 5.0) / 4.0
    });
    let noise = Array2::from_shape_fn((rows, classes), |(i, k)| {
        (((i * 13 + k * 5) % 17) as f32 - 8.0) / 8.0
    });
    let z = x.dot(&w) + noise;
    let y = z
        .rows()
        .into_iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .fold(0, |b, (k, &v)| if v > r[b] { k } else { b }) as f32
        })
        .collect();
    (x, y)
}

/// The multinomial loss on the GPU's kernel for many margins
/// (gradient_classes.wgsl) against the CPU engine, epoch by epoch: 3 and
/// 10 classes, every variant (the full batch, gathered batches, and the
/// batches the fused kernel would take for one margin), every rule, L2 and
/// the elastic net, with and without sample weights, on the shared context
/// and on one that splits X across buffers.
#[test]
fn multinomial_runs_match_the_cpu_engine() {
    let Some(context) = common::gpu("multinomial parity") else {
        return;
    };
    let split = common::gpu_split("multinomial parity across buffers").expect("the same adapter");
    for classes in [3u32, 10] {
        let (x, y) = classes_data(203, 6, classes as usize);
        let weights = Array1::from_shape_fn(203, |i| [0.0f32, 0.5, 1.0, 3.0][i % 4]);
        for variant in variants() {
            for optimizer in optimizers(1.0) {
                let what = format!("{classes} classes {variant:?} {optimizer}");
                let settings =
                    descent(Model::Logistic, variant, optimizer).loss(Loss::Multinomial { classes });
                compare_within(&context, settings, (&x, &y, None), &what, RELATIVE);
            }
            for penalty in [
                Penalty::L2(0.02),
                Penalty::ElasticNet {
                    alpha: 0.04,
                    l1_ratio: 0.5,
                },
            ] {
                let what = format!("weighted {classes} classes {variant:?} {penalty:?}");
                let settings = descent(Model::Logistic, variant, Optimizer::adam(0.02).into())
                    .loss(Loss::Multinomial { classes })
                    .penalty(penalty);
                compare_within(
                    &context,
                    settings.clone(),
                    (&x, &y, Some(&weights)),
                    &what,
                    RELATIVE,
                );
                compare_within(
                    &split,
                    settings,
                    (&x, &y, Some(&weights)),
                    &format!("split {what}"),
                    RELATIVE,
                );
            }
        }
    }
}

/// The multinomial kernel where its loops turn over more than once: rows
/// enough for several tiles per workgroup (70,000), more columns than a
/// workgroup's threads ((30 + 1) × 10 and (8 + 1) × 32 > 256), the most
/// classes the kernels hold (32), and rows streamed through a device budget
/// of 16 KB, full batch and mini-batches.
#[test]
fn long_wide_and_streamed_multinomial_runs_match_the_cpu_engine() {
    let Some(context) = common::gpu("long and wide multinomial parity") else {
        return;
    };
    let cases = [
        (70_000, 30, 10u32, Variant::Full, None),
        (70_000, 30, 10, Variant::MiniBatch(4096), None),
        (2_000, 8, 32, Variant::Full, None),
        (2_000, 8, 32, Variant::MiniBatch(64), None),
        (3_000, 6, 4, Variant::Full, Some(16u64 << 10)),
        (3_000, 6, 4, Variant::MiniBatch(50), Some(16 << 10)),
    ];
    for (rows, features, classes, variant, budget) in cases {
        let (x, y) = classes_data(rows, features, classes as usize);
        let mut settings = descent(Model::Logistic, variant, Optimizer::adam(0.02).into())
            .loss(Loss::Multinomial { classes })
            .max_epochs(3);
        if let Some(bytes) = budget {
            settings = settings
                .gpu_memory_budget(bytes)
                .shuffle(Shuffle::Blocks { rows: 100 });
        }
        let what = format!("{rows} × {features}, {classes} classes, {variant:?}, budget {budget:?}");
        compare_within(&context, settings, (&x, &y, None), &what, RELATIVE);
    }
}

#[test]
fn linear_runs_match_the_cpu_engine() {
    let Some(context) = common::gpu("linear parity") else {
        return;
    };
    for variant in variants() {
        check(&context, Model::Linear, variant, 203, 5);
    }
}

#[test]
fn block_and_storage_orders_match_the_cpu_engine_epoch_by_epoch() {
    let Some(context) = common::gpu("shuffle parity") else {
        return;
    };
    for shuffle in [Shuffle::Blocks { rows: 16 }, Shuffle::None] {
        for model in [Model::Linear, Model::Logistic] {
            for variant in [Variant::Stochastic, Variant::MiniBatch(7)] {
                check_shuffled(&context, model, variant, 203, 5, 1.0, shuffle);
            }
        }
    }
}

#[test]
fn logistic_runs_match_the_cpu_engine() {
    let Some(context) = common::gpu("logistic parity") else {
        return;
    };
    for variant in variants() {
        check(&context, Model::Logistic, variant, 203, 5);
    }
}

#[test]
fn runs_on_x_split_across_buffers_match_the_cpu_engine() {
    let Some(context) = common::gpu_split("split parity") else {
        return;
    };
    for model in [Model::Linear, Model::Logistic] {
        for variant in variants() {
            check(&context, model, variant, 203, 5);
        }
    }
}

/// The legacy kernel generation, kept selectable until a GPU has measured
/// both: its gradient pass (full batch and gathered batches, one buffer of
/// X and many, with weights) still matches the CPU engine.
#[test]
fn the_legacy_kernels_match_the_cpu_engine() {
    let (Some(context), Some(split)) = (
        common::gpu_legacy("legacy kernel parity"),
        common::gpu_split_legacy("legacy kernel parity across buffers"),
    ) else {
        return;
    };
    for context in [&context, &split] {
        for model in [Model::Linear, Model::Logistic] {
            for variant in [Variant::Full, Variant::MiniBatch(300)] {
                check(context, model, variant, 403, 12);
            }
        }
        let (x, y) = data(Model::Logistic, 203, 5);
        let weights = Array1::from_shape_fn(203, |i| [0.0f32, 0.5, 1.0, 3.0][i % 4]);
        let settings = descent(Model::Logistic, Variant::Full, Optimizer::adam(0.01).into());
        compare_within(
            context,
            settings,
            (&x, &y, Some(&weights)),
            "legacy weighted",
            RELATIVE,
        );
    }
}

#[test]
fn batches_larger_than_one_workgroup_match_the_cpu_engine() {
    let Some(context) = common::gpu("large-batch parity") else {
        return;
    };
    for model in [Model::Linear, Model::Logistic] {
        check(&context, model, Variant::MiniBatch(300), 2000, 12);
    }
}

#[test]
fn many_features_match_the_cpu_engine() {
    let Some(context) = common::gpu("wide parity") else {
        return;
    };
    // More features than one workgroup has threads: the fused small-batch
    // kernel cannot hold them, the gathered path takes over.
    for variant in [Variant::Full, Variant::MiniBatch(16)] {
        check_scaled(&context, Model::Linear, variant, 1500, 260, 0.1);
    }
}

#[test]
fn epochs_of_many_dispatches_match_the_cpu_engine() {
    let Some(context) = common::gpu("many dispatches per epoch") else {
        return;
    };
    // Tens of thousands of small steps per epoch: the fused kernel splits
    // them over many dispatches, each within its loop budget.
    for (rows, variant) in [(20_000, Variant::Stochastic), (30_000, Variant::MiniBatch(64))] {
        let (x, y) = data(Model::Linear, rows, 5);
        let optimizers: [Optimizer; 2] = [Optimizer::sgd(0.001).into(), Optimizer::adam(0.001).into()];
        for optimizer in optimizers {
            let settings: GradientDescent = GradientDescent::linear()
                .variant(variant)
                .optimizer(optimizer)
                .max_epochs(2)
                .seed(5);
            let cpu = settings
                .clone()
                .device(Device::Cpu)
                .fit(x.view(), y.view())
                .expect("cpu fit");
            let gpu = settings
                .device(Device::Gpu)
                .gpu_context(Arc::clone(&context))
                .fit(x.view(), y.view())
                .expect("gpu fit");
            let what = format!("{rows} rows, {variant:?}, {}", optimizer.name());
            common::assert_close(
                &what,
                &gpu.history().losses(),
                &cpu.history().losses(),
                RELATIVE,
                ABSOLUTE,
            );
            let mut expected = as_f64(cpu.weights().iter().copied());
            expected.push(f64::from(cpu.bias()));
            let mut actual = as_f64(gpu.weights().iter().copied());
            actual.push(f64::from(gpu.bias()));
            common::assert_close(&what, &actual, &expected, RELATIVE, ABSOLUTE);
        }
    }
}

#[test]
fn tracked_parameters_match_the_cpu_engine_epoch_by_epoch() {
    let Some(context) = common::gpu("parameter tracking") else {
        return;
    };
    let (x, y) = data(Model::Logistic, 311, 4);
    for variant in [Variant::Full, Variant::MiniBatch(32)] {
        let settings = descent(Model::Logistic, variant, Optimizer::adam(0.05).into()).track_parameters(true);
        let cpu = settings
            .clone()
            .device(Device::Cpu)
            .fit(x.view(), y.view())
            .expect("cpu fit");
        let gpu = settings
            .device(Device::Gpu)
            .gpu_context(Arc::clone(&context))
            .fit(x.view(), y.view())
            .expect("gpu fit");
        assert_eq!(cpu.history().parameters().len(), cpu.history().len());
        assert_eq!(gpu.history().parameters().len(), cpu.history().len());
        for (epoch, ((gw, gb), (cw, cb))) in gpu
            .history()
            .parameters()
            .iter()
            .zip(cpu.history().parameters())
            .enumerate()
        {
            let mut actual = as_f64(gw.iter().copied());
            actual.push(f64::from(*gb));
            let mut expected = as_f64(cw.iter().copied());
            expected.push(f64::from(*cb));
            common::assert_close(
                &format!("{variant:?} epoch {}", epoch + 1),
                &actual,
                &expected,
                RELATIVE,
                ABSOLUTE,
            );
        }
        // The last tracked parameters are the fitted ones (original units).
        let (last_w, last_b) = cpu.history().parameters().last().expect("epochs ran");
        assert_eq!(last_w, &cpu.weights().to_owned());
        assert_eq!(*last_b, cpu.bias());
    }
}
