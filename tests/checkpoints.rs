//! Checkpoints (issue 13, without MPI): a fit writes itself every K epochs,
//! atomically; a checkpoint resumed for the epochs left equals the
//! uninterrupted fit bit for bit (on the CPU and the GPU), also after the
//! fit was interrupted, under gradient descent and L-BFGS (issue 24); and
//! the settings it refuses.
// Checkpoints are saved models: the serde feature.
#![cfg(feature = "serde")]

mod common;

use downhill::EstimatorError;
use std::path::PathBuf;

use downhill::{
    Device, Error, Fitted, GradientDescent, Loss, Model, Optimizer, Schedule, Solver, StopReason, Synthetic,
    Variant,
};

fn folder(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("downhill-checkpoints-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Mini-batch Adam with a step-decay schedule and standardization: every
/// part of the state a checkpoint must carry (moments, step count,
/// schedule, shuffling position, stop rules).
fn settings(model: Model, device: Device) -> GradientDescent {
    GradientDescent::new(model)
        .variant(Variant::MiniBatch(16))
        .optimizer(Optimizer::adam(0.02))
        .schedule(Schedule::step_decay(4, 0.7))
        .standardize(true)
        .l2(0.01)
        .seed(5)
        .device(device)
}

fn everything(f: &Fitted) -> (Vec<f32>, Vec<f32>, Vec<f64>) {
    (
        f.coefficients().iter().copied().collect(),
        f.intercepts().to_vec(),
        f.history().losses(),
    )
}

#[test]
fn a_checkpoint_resumed_for_the_epochs_left_equals_the_uninterrupted_fit() {
    let dir = folder("resume");
    let linear = Synthetic::generate(Model::Linear, 300, 4, 0.3, 2).unwrap();
    let mut three = Synthetic::generate(Model::Linear, 300, 4, 0.3, 3).unwrap();
    three.y.mapv_inplace(|v| {
        if v < -0.5 {
            0.0
        } else if v < 0.7 {
            1.0
        } else {
            2.0
        }
    });
    let mut cases = vec![
        ("linear", settings(Model::Linear, Device::Cpu), &linear),
        (
            "multinomial",
            settings(Model::Logistic, Device::Cpu).loss(Loss::Multinomial { classes: 3 }),
            &three,
        ),
    ];
    if let Some(context) = common::gpu("checkpoints on the GPU") {
        let gpu = settings(Model::Linear, Device::Gpu).gpu_context(context);
        cases.push(("linear on the GPU", gpu, &linear));
    }
    for (what, settings, data) in cases {
        let path = dir.join(format!("{}.json", what.replace(' ', "-")));
        let whole = settings
            .clone()
            .max_epochs(20)
            .checkpoint(&path, 5)
            .fit(data.x.view(), data.y.view())
            .unwrap();
        // The last checkpoint is the one after epoch 15: after epoch 20 the
        // fit stopped and returned itself.
        let checkpoint = Fitted::load(&path).unwrap();
        assert_eq!(
            checkpoint.stop_reason(),
            StopReason::Checkpoint { epoch: 15 },
            "{what}"
        );
        assert_eq!(checkpoint.history().len(), 15, "{what}");
        assert!(!dir
            .join(format!("{}.json.partial", what.replace(' ', "-")))
            .exists());
        let resumed = settings
            .max_epochs(5)
            .resume(&checkpoint)
            .fit(data.x.view(), data.y.view())
            .unwrap();
        // Bit for bit, on the GPU (lavapipe) as on the CPU: the state goes
        // down and back up as float32, unchanged.
        assert_eq!(everything(&resumed), everything(&whole), "{what}");
    }
}

/// A fit that dies mid-way (here: its epoch observer panics after epoch
/// 12) leaves its checkpoint of epoch 10 whole; resumed for 10 epochs it
/// equals the fit that ran 20.
#[test]
fn an_interrupted_fit_leaves_a_whole_checkpoint_that_resumes_exactly() {
    let dir = folder("interrupted");
    let path = dir.join("fit.json");
    let data = Synthetic::generate(Model::Logistic, 400, 5, 0.3, 8).unwrap();
    let base = settings(Model::Logistic, Device::Cpu);
    let whole = base
        .clone()
        .max_epochs(20)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    let dying = base
        .clone()
        .max_epochs(20)
        .checkpoint(&path, 5)
        .on_epoch(|record, _| {
            if record.epoch == 12 {
                panic!("killed after epoch 12");
            }
        });
    let died = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        dying.fit(data.x.view(), data.y.view())
    }));
    assert!(died.is_err(), "the fit was to die");
    let checkpoint = Fitted::load(&path).unwrap();
    assert_eq!(checkpoint.stop_reason(), StopReason::Checkpoint { epoch: 10 });
    let resumed = base
        .max_epochs(10)
        .resume(&checkpoint)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    assert_eq!(everything(&resumed), everything(&whole));
}

/// L-BFGS with mixed column scales (its change of variables matters) and
/// a penalty: a binary, a three-class and a least-squares fit.
fn lbfgs_cases() -> Vec<(&'static str, GradientDescent, Synthetic)> {
    let mut binary = Synthetic::generate(Model::Logistic, 400, 5, 0.3, 8).unwrap();
    binary.x.column_mut(2).mapv_inplace(|v| 1000.0 * v + 50.0);
    let mut three = Synthetic::generate(Model::Linear, 300, 4, 0.3, 3).unwrap();
    three.y.mapv_inplace(|v| {
        if v < -0.5 {
            0.0
        } else if v < 0.7 {
            1.0
        } else {
            2.0
        }
    });
    let mut linear = Synthetic::generate(Model::Linear, 300, 6, 0.3, 4).unwrap();
    linear.x.column_mut(0).mapv_inplace(|v| 0.001 * v);
    let lbfgs = |model: Model| {
        GradientDescent::new(model)
            .solver(Solver::lbfgs())
            .l2(1e-3)
            .device(Device::Cpu)
    };
    vec![
        ("binary", lbfgs(Model::Logistic), binary),
        (
            "multinomial",
            lbfgs(Model::Logistic).loss(Loss::Multinomial { classes: 3 }),
            three,
        ),
        ("least squares", lbfgs(Model::Linear), linear),
    ]
}

/// An L-BFGS checkpoint carries the curvature pairs, the change of
/// variables and the test of progress: resumed, the fit goes on exactly as
/// the uninterrupted one, to the same iterate, loss history and stop
/// (cut by the iteration limit, or stopping by itself later).
#[test]
fn an_lbfgs_checkpoint_resumed_equals_the_uninterrupted_fit() {
    let dir = folder("lbfgs");
    for (what, settings, data) in lbfgs_cases() {
        let path = dir.join(format!("{}.json", what.replace(' ', "-")));
        // Cut at iteration 12: the checkpoint of iteration 10 resumed for 2.
        let cut = settings
            .clone()
            .max_epochs(12)
            .checkpoint(&path, 5)
            .fit(data.x.view(), data.y.view())
            .unwrap();
        assert_eq!(cut.stop_reason(), StopReason::MaxEpochs, "{what}");
        let checkpoint = Fitted::load(&path).unwrap();
        assert_eq!(
            checkpoint.stop_reason(),
            StopReason::Checkpoint { epoch: 10 },
            "{what}"
        );
        let resumed = settings
            .clone()
            .max_epochs(2)
            .resume(&checkpoint)
            .fit(data.x.view(), data.y.view())
            .unwrap();
        assert_eq!(everything(&resumed), everything(&cut), "{what}");
        assert_eq!(resumed.stop_reason(), cut.stop_reason(), "{what}");
        // To its own stop: the last checkpoint before it, resumed.
        let whole = settings
            .clone()
            .checkpoint(&path, 3)
            .fit(data.x.view(), data.y.view())
            .unwrap();
        let iterations = whole.history().len();
        assert!(
            matches!(
                whole.stop_reason(),
                StopReason::Converged { .. } | StopReason::RoundingLimit { .. }
            ) && iterations > 6,
            "{what}: {:?} after {iterations}",
            whole.stop_reason()
        );
        // The last checkpoint: of the last iteration that was a multiple
        // of 3 and that the run went on from.
        let checkpoint = Fitted::load(&path).unwrap();
        let StopReason::Checkpoint { epoch: at } = checkpoint.stop_reason() else {
            panic!("{what}: {:?}", checkpoint.stop_reason());
        };
        assert!(
            at % 3 == 0 && at + 3 >= iterations && at <= iterations,
            "{what}: {at} of {iterations}"
        );
        let resumed = settings
            .resume(&checkpoint)
            .fit(data.x.view(), data.y.view())
            .unwrap();
        assert_eq!(everything(&resumed), everything(&whole), "{what}");
        assert_eq!(resumed.stop_reason(), whole.stop_reason(), "{what}");
        // The checkpoint carries the curvature pairs; the fit that stopped
        // by itself does not (its saved model stays the parameters' size).
        let saved = dir.join(format!("{}-whole.json", what.replace(' ', "-")));
        whole.save(&saved).unwrap();
        let state = |path: &PathBuf| -> serde_json::Value {
            serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(path).unwrap()).unwrap()
                ["training_state"]["lbfgs"]
                .clone()
        };
        assert!(state(&path)["curvature"]["pairs"].is_array(), "{what}");
        assert!(state(&saved).is_null(), "{what}");
    }
}

/// L-BFGS runs under the one loop: the observer is told of each iteration
/// as it happens, after the checkpoint of the iteration before was
/// written and before the next; a fit that dies there leaves that
/// checkpoint whole, and it resumes to the uninterrupted fit.
#[test]
fn an_lbfgs_fit_is_observed_as_it_runs_and_resumes_after_dying() {
    let dir = folder("lbfgs-observed");
    let (what, settings, data) = lbfgs_cases().swap_remove(0);
    let path = dir.join("fit.json");
    let whole = settings
        .clone()
        .max_epochs(9)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    // What the file held when each iteration was told.
    let told = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (observed, told_of) = (path.clone(), std::sync::Arc::clone(&told));
    let dying = settings
        .clone()
        .max_epochs(9)
        .checkpoint(&path, 1)
        .on_epoch(move |record, _| {
            let written = Fitted::load(&observed).ok().map(|f| f.stop_reason());
            told_of.lock().unwrap().push((record.epoch, written));
            if record.epoch == 6 {
                panic!("killed at iteration 6");
            }
        });
    let died = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        dying.fit(data.x.view(), data.y.view())
    }));
    assert!(died.is_err(), "{what}: the fit was to die");
    // Iteration k is told while the file holds iteration k − 1.
    let expected: Vec<_> = (1..=6)
        .map(|k| (k, (k > 1).then_some(StopReason::Checkpoint { epoch: k - 1 })))
        .collect();
    assert_eq!(*told.lock().unwrap(), expected);
    let checkpoint = Fitted::load(&path).unwrap();
    assert_eq!(checkpoint.stop_reason(), StopReason::Checkpoint { epoch: 5 });
    let resumed = settings
        .max_epochs(4)
        .resume(&checkpoint)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    assert_eq!(everything(&resumed), everything(&whole), "{what}");
}

#[test]
fn what_checkpoints_refuse() {
    let dir = folder("refused");
    let data = Synthetic::generate(Model::Linear, 50, 2, 0.1, 1).unwrap();
    let fit = |settings: GradientDescent| settings.fit(data.x.view(), data.y.view()).unwrap_err();
    assert!(matches!(
        fit(GradientDescent::linear().checkpoint(dir.join("a.json"), 0)),
        Error::Estimator(EstimatorError::ZeroCheckpointInterval)
    ));
    // A folder that is not there: the first checkpoint's write fails, and
    // so does the fit, naming the path.
    let nowhere = dir.join("missing-folder").join("a.json");
    let error = fit(GradientDescent::linear().max_epochs(5).checkpoint(&nowhere, 2));
    assert!(
        matches!(&error, Error::Write { path, .. } if path.contains("missing-folder")),
        "{error}"
    );
}
