//! Many models fitted together ([`GradientDescent::fit_many`],
//! [`GradientDescent::path`]): each model equals the same settings fitted
//! alone, bit for bit on the CPU engine (the lockstep's pass sums each
//! model by the same code, over the same chunks, in the same order) and
//! within float32 rounding on the GPU; and each kind of bad input is its
//! own error.

mod common;

use downhill::data::sparse::CsrData;
use downhill::{
    Device, Error, EstimatorError, Fitted, GradientDescent, Loss, Optimizer, Penalty, Solver, StopReason,
    Variant,
};
use ndarray::{Array1, Array2};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Rows whose features have scales from 0.1 to 10, and a target of a
/// linear rule plus noise (labels by its sign for the logistic model).
/// The tests take at least 2^17 values, the fewest the estimator fits in
/// lockstep (fewer are fitted one after another), and so many chunks of
/// the CPU pass.
fn data(rows: usize, features: usize, logistic: bool, seed: u64) -> (Array2<f32>, Array1<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let scales: Vec<f32> = (0..features)
        .map(|j| 0.1 * 100f32.powf(j as f32 / features as f32))
        .collect();
    let x = Array2::from_shape_fn((rows, features), |(_, j)| {
        scales[j] * (rng.random::<f32>() * 2.0 - 1.0)
    });
    let rule: Vec<f32> = (0..features).map(|j| (j as f32 - 2.0) / scales[j]).collect();
    let y = Array1::from_shape_fn(rows, |i| {
        let z: f32 = (0..features).map(|j| x[[i, j]] * rule[j]).sum::<f32>() + 0.5 * rng.random::<f32>();
        match logistic {
            true => f32::from(z > 0.3),
            false => z,
        }
    });
    (x, y)
}

/// `settings` with an L2 penalty of each of `strengths`.
fn at_strengths(settings: &GradientDescent, strengths: &[f32]) -> Vec<GradientDescent> {
    strengths
        .iter()
        .map(|&s| settings.clone().penalty(Penalty::L2(s)))
        .collect()
}

/// Two fits are one: the same parameters, history (losses bit for bit)
/// and end.
fn assert_identical(what: &str, together: &Fitted, alone: &Fitted) {
    assert_eq!(together.weights(), alone.weights(), "{what}: weights");
    assert_eq!(together.bias().to_bits(), alone.bias().to_bits(), "{what}: bias");
    let losses = |f: &Fitted| {
        f.history()
            .records()
            .iter()
            .map(|r| r.loss.to_bits())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        losses(together),
        losses(alone),
        "{what}: the losses of every epoch"
    );
    assert_eq!(together.stop_reason(), alone.stop_reason(), "{what}: the end");
}

/// Fits `models` together and alone, on the CPU, and compares them.
fn check_together_equals_alone(what: &str, models: &[GradientDescent], x: &Array2<f32>, y: &Array1<f32>) {
    let models: Vec<_> = models.iter().map(|m| m.clone().device(Device::Cpu)).collect();
    let together = GradientDescent::fit_many(&models, x.view(), y.view()).unwrap();
    assert_eq!(together.len(), models.len());
    for (k, (model, fit)) in models.iter().zip(&together).enumerate() {
        let alone = model.fit(x.view(), y.view()).unwrap();
        assert_identical(&format!("{what}, model {k}"), fit, &alone);
    }
}

/// A regularization path by full-batch gradient descent: L2, L1 and the
/// elastic net, linear and logistic, raw and standardized, each strength
/// the fit alone. The strengths stop at different epochs (tolerance), so
/// models leave the lockstep while others go on.
#[test]
fn a_full_batch_path_equals_each_fit_alone() {
    let strengths = [1.0, 0.3, 0.1, 0.01, 0.001, 0.0];
    for logistic in [false, true] {
        let (x, y) = data(19_000, 7, logistic, 1);
        let base = match logistic {
            true => GradientDescent::logistic(),
            false => GradientDescent::linear(),
        };
        for penalty in [
            Penalty::L2(0.0),
            Penalty::L1(0.0),
            Penalty::ElasticNet {
                alpha: 0.0,
                l1_ratio: 0.5,
            },
        ] {
            for standardize in [false, true] {
                let settings = base
                    .clone()
                    .variant(Variant::Full)
                    .optimizer(Optimizer::momentum(0.05, 0.9))
                    .penalty(penalty)
                    .standardize(standardize)
                    .tolerance(1e-6)
                    .max_epochs(300);
                let settings = match standardize {
                    true => settings,
                    // Raw features up to 10: a rate the largest curvature allows.
                    false => settings.optimizer(Optimizer::momentum(0.002, 0.9)),
                };
                let models: Vec<_> = strengths
                    .iter()
                    .map(|&s| {
                        settings.clone().penalty(match penalty {
                            Penalty::L2(_) => Penalty::L2(s),
                            Penalty::L1(_) => Penalty::L1(s),
                            _ => Penalty::ElasticNet {
                                alpha: s,
                                l1_ratio: 0.5,
                            },
                        })
                    })
                    .collect();
                let what = format!("logistic {logistic}, {penalty:?}, standardized {standardize}");
                check_together_equals_alone(&what, &models, &x, &y);
                // path() is the same thing.
                let path = settings.path(x.view(), y.view(), &strengths).unwrap();
                let fits = GradientDescent::fit_many(&models, x.view(), y.view()).unwrap();
                for (p, f) in path.iter().zip(&fits) {
                    assert_identical(&what, p, f);
                }
            }
        }
    }
}

/// L-BFGS models, each with its own line search (a different number of
/// evaluations per iteration): every evaluation of every model still
/// fitting comes from one pass, and each model is its fit alone.
#[test]
fn an_lbfgs_path_equals_each_fit_alone() {
    let (x, y) = data(15_000, 9, true, 2);
    let settings = GradientDescent::logistic()
        .solver(Solver::lbfgs())
        .standardize(true)
        .max_epochs(200);
    let models = at_strengths(&settings, &[1.0, 0.1, 0.01, 1e-3, 1e-4]);
    check_together_equals_alone("L-BFGS logistic", &models, &x, &y);
    let (x, y) = data(15_000, 9, false, 3);
    let settings = GradientDescent::linear().solver(Solver::lbfgs()).max_epochs(200);
    let models = at_strengths(&settings, &[10.0, 1.0, 0.1]);
    check_together_equals_alone("L-BFGS linear", &models, &x, &y);
}

/// Settings that differ in more than the strength: update rules, rates
/// and momentum from the data, schedules, solvers and batch sizes in one
/// set; weighted rows; the multinomial model; a loss of its own.
#[test]
fn models_of_many_settings_equal_their_fits_alone() {
    let (x, y) = data(22_000, 6, false, 4);
    let base = GradientDescent::linear().standardize(true).max_epochs(40);
    let models = vec![
        base.clone().optimizer(Optimizer::sgd(0.1)),
        base.clone().optimizer(Optimizer::adam(0.01)),
        base.clone().optimizer(Optimizer::nesterov(0.1, 0.9)),
        base.clone().auto_learning_rate(true),
        base.clone().solver(Solver::lbfgs()),
        base.clone()
            .variant(Variant::MiniBatch(128))
            .optimizer(Optimizer::sgd(0.01)),
        base.clone()
            .variant(Variant::MiniBatch(500))
            .optimizer(Optimizer::rmsprop(0.001))
            .seed(9),
        base.clone()
            .penalty(Penalty::L1(0.01))
            .optimizer(Optimizer::sgd(0.2)),
    ];
    check_together_equals_alone("many settings", &models, &x, &y);
    // Rows too few to share a pass: the models one after another, alike.
    let (small_x, small_y) = data(500, 6, false, 4);
    check_together_equals_alone("many settings on 500 rows", &models, &small_x, &small_y);

    let weights = Array1::from_shape_fn(x.nrows(), |i| 0.5 + (i % 4) as f32);
    let together = GradientDescent::fit_many_weighted(&models, x.view(), y.view(), weights.view()).unwrap();
    for (k, (model, fit)) in models.iter().zip(&together).enumerate() {
        let alone = model.fit_weighted(x.view(), y.view(), weights.view()).unwrap();
        assert_identical(&format!("weighted, model {k}"), fit, &alone);
    }

    let (x, labels) = data(27_000, 5, false, 5);
    let classes = labels.mapv(|z| (z.clamp(-1.49, 1.49) + 1.5).floor());
    let multinomial = GradientDescent::multinomial(3).standardize(true).max_epochs(30);
    let models: Vec<_> = [0.1, 0.01, 0.0]
        .iter()
        .map(|&s| {
            multinomial
                .clone()
                .penalty(Penalty::L2(s))
                .optimizer(Optimizer::sgd(0.5))
        })
        .collect();
    let models: Vec<_> = models.into_iter().map(|m| m.device(Device::Cpu)).collect();
    let together = GradientDescent::fit_many(&models, x.view(), classes.view()).unwrap();
    for (k, (model, fit)) in models.iter().zip(&together).enumerate() {
        let alone = model.fit(x.view(), classes.view()).unwrap();
        assert_eq!(fit.coefficients(), alone.coefficients(), "multinomial model {k}");
        assert_eq!(fit.intercepts(), alone.intercepts(), "multinomial model {k}");
    }

    let (x, y) = data(27_000, 5, false, 6);
    let huber: Vec<_> = [0.1f32, 0.01]
        .iter()
        .map(|&s| {
            GradientDescent::linear()
                .loss(Loss::Huber { epsilon: 1.0 })
                .penalty(Penalty::L2(s))
                .max_epochs(25)
        })
        .collect();
    check_together_equals_alone("Huber", &huber, &x, &y);
}

/// A model that diverges leaves the lockstep with its divergence; the
/// others are their fits alone.
#[test]
fn a_diverging_model_leaves_the_others_to_finish() {
    let (x, y) = data(33_000, 4, false, 7);
    let models: Vec<_> = [0.001, 0.01, 50.0]
        .iter()
        .map(|&rate| {
            GradientDescent::linear()
                .standardize(true)
                .optimizer(Optimizer::sgd(rate))
                .max_epochs(60)
        })
        .collect();
    let fits = GradientDescent::fit_many(&models, x.view(), y.view()).unwrap();
    assert!(
        matches!(fits[2].stop_reason(), StopReason::Diverged { .. }),
        "{:?}",
        fits[2].stop_reason()
    );
    check_together_equals_alone("one diverges", &models, &x, &y);
}

/// On the GPU the models' steps are taken on the host from the device's
/// sums: each model within float32 rounding of its CPU fit.
#[test]
fn gpu_models_together_match_the_cpu_engine() {
    let Some(context) = common::gpu("models fitted together on the GPU") else {
        return;
    };
    let (x, y) = data(22_000, 6, true, 8);
    let settings = GradientDescent::logistic()
        .standardize(true)
        .optimizer(Optimizer::sgd(0.5))
        .max_epochs(30);
    // Thirty steps from sums in float32 on either engine: rounding of
    // 3000-row sums (~1e-5 relative) carried through the steps.
    assert_gpu_path_matches_cpu(context, settings, &x, &y, &[0.1, 0.01, 0.001]);
}

/// An L-BFGS path of more models than one GPU pass sums (32): the device
/// sums each round's models in passes of up to 32 (gradient_classes.wgsl's
/// many models), each model's line search its own; each optimum within
/// float32 rounding of its CPU fit's.
#[test]
fn a_gpu_lbfgs_path_of_many_models_matches_the_cpu_engine() {
    let Some(context) = common::gpu("an L-BFGS path on the GPU") else {
        return;
    };
    let (x, y) = data(22_000, 6, true, 12);
    let settings = GradientDescent::logistic()
        .standardize(true)
        .solver(Solver::lbfgs())
        .max_epochs(200);
    let strengths: Vec<f32> = (0..40).map(|k| 0.1 * 0.9f32.powi(k)).collect();
    // The optimum moves by the inverse curvature (at most 1/λ ≤ 100 on
    // standardized rows) times the float32 rounding of the gradient's sums
    // (~1e-6 of their terms).
    assert_gpu_path_matches_cpu(context, settings, &x, &y, &strengths);
}

/// A multinomial path on the GPU: 12 models of 3 classes, summed in
/// passes of 10 (30 of the kernel's 32 margins) and then 2; each within
/// float32 rounding of its CPU fit, as the one-margin models are.
#[test]
fn a_gpu_multinomial_path_matches_the_cpu_engine() {
    let Some(context) = common::gpu("a multinomial path on the GPU") else {
        return;
    };
    let (x, values) = data(22_000, 6, false, 13);
    let classes = values.mapv(|z| (z.clamp(-1.49, 1.49) + 1.5).floor());
    let settings = GradientDescent::multinomial(3)
        .standardize(true)
        .optimizer(Optimizer::sgd(0.5))
        .max_epochs(30);
    let strengths: Vec<f32> = (0..12).map(|k| 0.1 * 0.7f32.powi(k)).collect();
    // As gpu_models_together_match_the_cpu_engine: thirty steps from
    // float32 sums on either engine.
    assert_gpu_path_matches_cpu(context, settings, &x, &classes, &strengths);
}

/// `settings`' path at `strengths` on the GPU of `context` and on the CPU:
/// each GPU model's weights and biases within 1e-3 (relative) and 1e-4
/// (absolute) of its CPU fit's.
fn assert_gpu_path_matches_cpu(
    context: std::sync::Arc<downhill::GpuContext>,
    settings: GradientDescent,
    x: &Array2<f32>,
    y: &Array1<f32>,
    strengths: &[f32],
) {
    let gpu = settings.clone().device(Device::Gpu).gpu_context(context);
    let on_gpu = gpu.path(x.view(), y.view(), strengths).unwrap();
    let on_cpu = settings
        .device(Device::Cpu)
        .path(x.view(), y.view(), strengths)
        .unwrap();
    for (k, (g, c)) in on_gpu.iter().zip(&on_cpu).enumerate() {
        assert_eq!(g.device(), Device::Gpu);
        common::assert_close(
            &format!("GPU model {k}"),
            &common::coefficients_and_intercepts(g),
            &common::coefficients_and_intercepts(c),
            1e-3,
            1e-4,
        );
    }
}

/// Each kind of bad input is its own error, naming the value.
#[test]
fn bad_sets_of_models_are_refused_by_name() {
    let (x, y) = data(200, 3, false, 9);
    let none = GradientDescent::fit_many(&[], x.view(), y.view()).unwrap_err();
    assert_eq!(none, Error::Estimator(EstimatorError::NoModels));
    let apart = [
        GradientDescent::linear(),
        GradientDescent::linear().standardize(true),
    ];
    let error = GradientDescent::fit_many(&apart, x.view(), y.view()).unwrap_err();
    assert_eq!(
        error,
        Error::Estimator(EstimatorError::ModelsPrepareRowsApart {
            model: 1,
            setting: "standardization"
        })
    );
    let other_model = [GradientDescent::linear(), GradientDescent::logistic()];
    assert!(matches!(
        GradientDescent::fit_many(&other_model, x.view(), y.view()).unwrap_err(),
        Error::Estimator(EstimatorError::ModelsPrepareRowsApart { setting: "model", .. })
    ));
    let path = GradientDescent::linear();
    assert_eq!(
        path.path(x.view(), y.view(), &[]).unwrap_err(),
        Error::Estimator(EstimatorError::NoStrengths)
    );
    assert_eq!(
        path.path(x.view(), y.view(), &[0.1, -1.0]).unwrap_err(),
        Error::Estimator(EstimatorError::InvalidStrength { value: -1.0 })
    );
    assert!(matches!(
        path.path(x.view(), y.view(), &[f32::NAN]).unwrap_err(),
        Error::Estimator(EstimatorError::InvalidStrength { .. })
    ));
    // More models than the memory budget holds besides the rows: named.
    let (x, y) = data(20_000, 7, false, 10);
    let many: Vec<_> = (0..500)
        .map(|k| {
            GradientDescent::linear()
                .memory_budget(8 << 20)
                .penalty(Penalty::L2(k as f32 * 1e-3))
        })
        .collect();
    match GradientDescent::fit_many(&many, x.view(), y.view()).unwrap_err() {
        Error::Estimator(EstimatorError::TooManyModels {
            models,
            bytes,
            budget,
        }) => {
            assert_eq!((models, budget), (500, 8 << 20));
            assert!(bytes > budget);
        }
        other => panic!("{other}"),
    }
    let (x, y) = data(200, 3, false, 9);
    // A model's own bad setting is its own error, as alone.
    let bad_rate = [
        GradientDescent::linear(),
        GradientDescent::linear().optimizer(Optimizer::sgd(-1.0)),
    ];
    let alone = bad_rate[1].fit(x.view(), y.view()).unwrap_err();
    assert_eq!(
        GradientDescent::fit_many(&bad_rate, x.view(), y.view()).unwrap_err(),
        alone
    );
}

/// Models fitted together from every worker of rayon's global pool at
/// once (here, folds fitted in parallel by a caller): each lockstep's
/// serving thread is then a pool worker, and the models' own parallel
/// work (L-BFGS's column sums) is queued on that pool. The servers run it
/// while they wait instead of sleeping, so every fit ends, each its fit
/// alone.
#[test]
fn models_fitted_together_from_every_worker_of_the_pool_finish() {
    let (x, y) = data(20_000, 7, false, 11);
    let settings = GradientDescent::linear()
        .solver(Solver::lbfgs())
        .max_epochs(30)
        .device(Device::Cpu);
    let models = at_strengths(&settings, &[1.0, 0.1, 0.01]);
    let alone: Vec<Fitted> = models
        .iter()
        .map(|m| m.fit(x.view(), y.view()).unwrap())
        .collect();
    let runs: Vec<Vec<Fitted>> = (0..2 * rayon::current_num_threads())
        .into_par_iter()
        .map(|_| GradientDescent::fit_many(&models, x.view(), y.view()).unwrap())
        .collect();
    for fits in &runs {
        for (k, (together, alone)) in fits.iter().zip(&alone).enumerate() {
            assert_identical(&format!("from the pool, model {k}"), together, alone);
        }
    }
}

/// The L2 part set after an L1 penalty makes an elastic net, and a path
/// keeps it (the penalty as given follows the two strengths).
#[test]
fn a_path_keeps_an_l2_part_set_after_the_l1_penalty() {
    let (x, y) = data(500, 3, false, 12);
    let path = GradientDescent::linear()
        .penalty(Penalty::L1(0.1))
        .l2(0.05)
        .max_epochs(5)
        .path(x.view(), y.view(), &[0.3])
        .unwrap();
    let penalty = path[0].settings().penalty_settings();
    assert!((penalty.l1_strength() - 0.2).abs() < 1e-6, "{penalty:?}");
    assert!((penalty.l2_strength() - 0.1).abs() < 1e-6, "{penalty:?}");
}

/// Adam on sparse rows in mini-batches is refused where its lazy form does
/// not exist (an L1 penalty), for every model fitted together, not only
/// the first: each as alone.
#[test]
fn every_model_s_sparse_adam_is_checked() {
    let rows = CsrData::new(
        3,
        vec![0, 1, 1, 3],
        vec![1, 0, 2],
        vec![2.0, 1.0, 3.0],
        vec![1.0, 0.0, 1.0],
    )
    .unwrap();
    let models: Vec<_> = [0.0, 0.1]
        .iter()
        .map(|&s| {
            GradientDescent::linear()
                .penalty(Penalty::L1(s))
                .variant(Variant::MiniBatch(2))
                .optimizer(Optimizer::adam(0.01))
                .device(Device::Cpu)
        })
        .collect();
    let alone = models[1].fit_source(&rows).unwrap_err();
    assert_eq!(
        GradientDescent::fit_many_source(&models, &rows).unwrap_err(),
        alone
    );
}
