//! Saved models and exact resumes: fit → save → load → predict gives the
//! same predictions; an unknown schema version and a cut-short file each
//! have their own error; a fit resumed from a saved one continues exactly.
#![cfg(feature = "serde")]

use downhill::EstimatorError;
use downhill::{
    Device, Error, Fitted, GradientDescent, Model, Optimizer, Schedule, StopReason, Synthetic, Variant,
};

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("downhill-saved-{}-{name}", std::process::id()))
}

fn descent(model: Model) -> GradientDescent {
    GradientDescent::new(model)
        .variant(Variant::MiniBatch(32))
        .optimizer(Optimizer::adam(0.02))
        .schedule(Schedule::reduce_on_plateau(0.5, 2))
        .l2(0.001)
        .standardize(true)
        .seed(11)
        .device(Device::Cpu)
}

#[test]
fn save_load_predict_gives_identical_predictions() {
    for model in [Model::Linear, Model::Logistic] {
        let data = Synthetic::generate(model, 500, 4, 0.3, 5).unwrap();
        let fitted = descent(model)
            .max_epochs(12)
            .fit(data.x.view(), data.y.view())
            .unwrap()
            .with_feature_names(["a", "b", "c", "d"])
            .unwrap();
        let path = temp(&format!("{model}.json"));
        fitted.save(&path).unwrap();
        let loaded = Fitted::load(&path).unwrap();
        assert_eq!(
            loaded.predict(data.x.view()).unwrap(),
            fitted.predict(data.x.view()).unwrap()
        );
        assert_eq!(loaded.weights(), fitted.weights());
        assert_eq!(loaded.bias(), fitted.bias());
        assert_eq!(loaded.history().records(), fitted.history().records());
        assert_eq!(loaded.stop_reason(), fitted.stop_reason());
        assert_eq!(loaded.feature_names(), fitted.feature_names());
        assert_eq!(loaded.settings(), fitted.settings());
        assert_eq!(loaded.training_state(), fitted.training_state());
        if model == Model::Logistic {
            assert_eq!(
                loaded.predict_proba(data.x.view()).unwrap(),
                fitted.predict_proba(data.x.view()).unwrap()
            );
        }
    }
}

#[test]
fn the_file_holds_the_settings_as_given_and_the_stop_reason_as_data() {
    let data = Synthetic::generate(Model::Linear, 200, 2, 0.1, 1).unwrap();
    let fitted = GradientDescent::linear()
        .optimizer(Optimizer::sgd(0.2))
        .tolerance(1e-3)
        .max_epochs(2000)
        .device(Device::Cpu)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    let StopReason::Converged { epoch } = fitted.stop_reason() else {
        panic!("expected convergence, got {}", fitted.stop_reason());
    };
    let json: serde_json::Value = serde_json::from_str(&fitted.to_json().unwrap()).unwrap();
    assert_eq!(json["format"], "downhill-model");
    assert_eq!(json["version"], downhill::SCHEMA_VERSION);
    assert_eq!(
        json["stop_reason"],
        serde_json::json!({"kind": "converged", "epoch": epoch})
    );
    // The learning rate as the user wrote it, not its float32 widened.
    let text = fitted.to_json().unwrap();
    assert!(text.contains("\"learning_rate\": 0.2,"), "{text}");
    assert!(!text.contains("0.20000000298"), "{text}");
}

#[test]
fn a_diverged_history_survives_the_round_trip() {
    let data = Synthetic::generate(Model::Linear, 100, 2, 0.1, 1).unwrap();
    let fitted = GradientDescent::linear()
        .optimizer(Optimizer::sgd(1e6))
        .max_epochs(50)
        .device(Device::Cpu)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    assert!(matches!(fitted.stop_reason(), StopReason::Diverged { .. }));
    let loaded = Fitted::from_json(&fitted.to_json().unwrap(), "memory").unwrap();
    assert_eq!(loaded.history().len(), fitted.history().len());
    assert_eq!(loaded.stop_reason(), fitted.stop_reason());
}

#[test]
fn an_unknown_version_and_a_truncated_file_have_their_own_errors() {
    let data = Synthetic::generate(Model::Linear, 50, 2, 0.1, 1).unwrap();
    let fitted = GradientDescent::linear()
        .max_epochs(3)
        .device(Device::Cpu)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    let text = fitted.to_json().unwrap();
    let future = text.replacen(
        &format!("\"version\": {}", downhill::SCHEMA_VERSION),
        "\"version\": 99",
        1,
    );
    assert!(matches!(
        Fitted::from_json(&future, "future.json"),
        Err(Error::Estimator(EstimatorError::UnknownSchemaVersion { found, supported, .. })) if found == "99" && supported == downhill::SCHEMA_VERSION
    ));
    let path = temp("truncated.json");
    std::fs::write(&path, &text[..text.len() / 2]).unwrap();
    assert!(matches!(
        Fitted::load(&path),
        Err(Error::Estimator(EstimatorError::MalformedModel { .. }))
    ));
    assert!(matches!(
        Fitted::load(temp("missing.json")),
        Err(Error::Io { .. })
    ));
    assert!(matches!(
        Fitted::from_json("{\"format\": \"something else\"}", "other.json"),
        Err(Error::Estimator(EstimatorError::MalformedModel { .. }))
    ));
}

/// 10 epochs, saved and loaded, then 10 more, against 20 in one go.
fn resumed_and_whole(settings: GradientDescent) -> (Fitted, Fitted) {
    let model = settings.model();
    let data = Synthetic::generate(model, 700, 5, 0.3, 9).unwrap();
    let whole = settings
        .clone()
        .max_epochs(20)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    let first = settings
        .clone()
        .max_epochs(10)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    let path = temp(&format!("resume-{model}-{}.json", first.device()));
    first.save(&path).unwrap();
    let loaded = Fitted::load(&path).unwrap();
    let resumed = settings
        .max_epochs(10)
        .resume(&loaded)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    (resumed, whole)
}

#[test]
fn ten_epochs_then_ten_resumed_equal_twenty_bit_for_bit_on_the_cpu() {
    for model in [Model::Linear, Model::Logistic] {
        let (resumed, whole) = resumed_and_whole(descent(model));
        assert_eq!(resumed.weights(), whole.weights(), "{model}");
        assert_eq!(resumed.bias().to_bits(), whole.bias().to_bits(), "{model}");
        assert_eq!(resumed.history().len(), 20);
        for (a, b) in resumed.history().records().iter().zip(whole.history().records()) {
            assert_eq!(a.epoch, b.epoch);
            assert_eq!(a.loss.to_bits(), b.loss.to_bits(), "{model} epoch {}", a.epoch);
            assert_eq!(a.learning_rate.to_bits(), b.learning_rate.to_bits());
        }
        assert_eq!(resumed.training_state(), whole.training_state(), "{model}");
        assert_eq!(resumed.gradient_evaluations(), whole.gradient_evaluations());
    }
}

#[test]
fn a_resume_with_other_settings_is_refused() {
    let data = Synthetic::generate(Model::Linear, 100, 3, 0.1, 2).unwrap();
    let first = descent(Model::Linear)
        .max_epochs(2)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    let refused = |d: GradientDescent| {
        matches!(
            d.resume(&first).fit(data.x.view(), data.y.view()),
            Err(Error::ResumeMismatch { .. })
        )
    };
    assert!(refused(descent(Model::Linear).standardize(false)));
    assert!(refused(descent(Model::Linear).optimizer(Optimizer::sgd(0.1))));
    let wider = Synthetic::generate(Model::Linear, 100, 4, 0.1, 2).unwrap();
    assert!(matches!(
        descent(Model::Linear)
            .resume(&first)
            .fit(wider.x.view(), wider.y.view()),
        Err(Error::FeatureCountMismatch { .. })
    ));
}

#[path = "common/mod.rs"]
mod common;

#[test]
fn a_fit_resumed_on_the_gpu_continues_as_the_whole_gpu_fit() {
    let Some(context) = common::gpu("resume on the GPU") else {
        return;
    };
    for model in [Model::Linear, Model::Logistic] {
        let (resumed, whole) =
            resumed_and_whole(descent(model).device(Device::Gpu).gpu_context(context.clone()));
        let parameters = |f: &Fitted| -> Vec<f64> {
            f.weights()
                .iter()
                .chain([&f.bias()])
                .map(|&v| f64::from(v))
                .collect()
        };
        common::assert_close(
            &format!("{model} parameters"),
            &parameters(&resumed),
            &parameters(&whole),
            1e-5,
            1e-6,
        );
        common::assert_close(
            &format!("{model} losses"),
            &resumed.history().losses(),
            &whole.history().losses(),
            1e-5,
            1e-7,
        );
        assert_eq!(
            resumed.training_state().optimizer_state().steps,
            whole.training_state().optimizer_state().steps
        );
    }
}

#[test]
fn a_resume_with_another_rule_of_the_same_state_shape_is_refused() {
    let data = Synthetic::generate(Model::Linear, 100, 3, 0.1, 2).unwrap();
    let first = descent(Model::Linear)
        .optimizer(Optimizer::adagrad(0.1))
        .max_epochs(2)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    assert!(matches!(
        descent(Model::Linear)
            .optimizer(Optimizer::rmsprop(0.1))
            .resume(&first)
            .fit(data.x.view(), data.y.view()),
        Err(Error::ResumeMismatch { .. })
    ));
}

#[test]
fn a_run_that_overflowed_saves_and_loads() {
    // No divergence factor: the loss and the parameters run to infinity and
    // NaN, and the optimizer's moments with them.
    let data = Synthetic::generate(Model::Linear, 100, 2, 0.1, 1).unwrap();
    let fitted = GradientDescent::linear()
        .optimizer(Optimizer::momentum(1e30, 0.9))
        .divergence_factor(f64::INFINITY)
        .max_epochs(50)
        .device(Device::Cpu)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    assert!(matches!(fitted.stop_reason(), StopReason::Diverged { .. }));
    let state = fitted.training_state();
    assert!(state.parameters().iter().any(|v| !v.is_finite()), "{state:?}");
    let loaded = Fitted::from_json(&fitted.to_json().unwrap(), "memory").unwrap();
    assert_eq!(loaded.weights(), fitted.weights());
    assert_eq!(loaded.history().len(), fitted.history().len());
    let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(loaded.training_state().parameters()),
        bits(state.parameters())
    );
    assert_eq!(
        bits(&loaded.training_state().optimizer_state().first_moment),
        bits(&state.optimizer_state().first_moment)
    );
}

#[test]
fn rates_computed_in_float64_read_back_bit_for_bit() {
    // Step decay by 0.1 from 1.0 gives rates of exactly 0.1 and 0.01 in
    // float64, which are also the shortest decimals of float32 values.
    let data = Synthetic::generate(Model::Linear, 100, 2, 0.1, 1).unwrap();
    let fitted = GradientDescent::linear()
        .optimizer(Optimizer::sgd(1.0))
        .schedule(Schedule::step_decay(1, 0.1))
        .max_epochs(4)
        .device(Device::Cpu)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    assert_eq!(fitted.history().records()[1].learning_rate, 0.1);
    let loaded = Fitted::from_json(&fitted.to_json().unwrap(), "memory").unwrap();
    assert_eq!(loaded.history().records(), fitted.history().records());
    assert_eq!(loaded.training_state(), fitted.training_state());
}

#[test]
fn inconsistent_lengths_in_a_file_are_refused_not_a_panic() {
    let data = Synthetic::generate(Model::Linear, 100, 3, 0.1, 1).unwrap();
    let fitted = GradientDescent::linear()
        .optimizer(Optimizer::adam(0.01))
        .tolerance(1e-3)
        .max_epochs(5)
        .device(Device::Cpu)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    let edited = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut json: serde_json::Value = serde_json::from_str(&fitted.to_json().unwrap()).unwrap();
        edit(&mut json);
        Fitted::from_json(&json.to_string(), "edited.json")
    };
    assert!(matches!(
        edited(&|j| j["training_state"]["stop_rules"]["best_parameters"] = serde_json::json!([1.0, 2.0])),
        Err(Error::Estimator(EstimatorError::MalformedModel { .. }))
    ));
    assert!(matches!(
        edited(&|j| j["training_state"]["optimizer"]["first_moment"] = serde_json::json!([0.0])),
        Err(Error::Estimator(EstimatorError::MalformedModel { .. }))
    ));
    assert!(matches!(
        edited(&|j| j["options"]["model"] = serde_json::json!("logistic")),
        Err(Error::Estimator(EstimatorError::MalformedModel { .. }))
    ));
    assert!(edited(&|_| {}).is_ok());
}

#[test]
fn adam_resumed_after_more_steps_than_a_u32_holds_runs_alike_on_cpu_and_gpu() {
    let Some(context) = common::gpu("a resume past u32::MAX steps") else {
        return;
    };
    let data = Synthetic::generate(Model::Linear, 300, 4, 0.3, 3).unwrap();
    let settings = descent(Model::Linear).max_epochs(3);
    let first = settings
        .clone()
        .device(Device::Cpu)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    // The optimizer's step count as a run of four billion steps leaves it:
    // Adam's bias corrections are 1 in float32 from there on, and the GPU's
    // 32-bit step counter must neither wrap nor overflow.
    let mut json: serde_json::Value = serde_json::from_str(&first.to_json().unwrap()).unwrap();
    json["training_state"]["optimizer"]["steps"] = serde_json::json!(u64::from(u32::MAX));
    let long_run = Fitted::from_json(&json.to_string(), "edited.json").unwrap();
    let resume = |device: Device| {
        settings
            .clone()
            .device(device)
            .gpu_context(context.clone())
            .resume(&long_run)
            .fit(data.x.view(), data.y.view())
            .unwrap()
    };
    let (cpu, gpu) = (resume(Device::Cpu), resume(Device::Gpu));
    assert!(
        gpu.history().losses().iter().all(|l| l.is_finite()),
        "{:?}",
        gpu.history().losses()
    );
    let parameters = |f: &Fitted| -> Vec<f64> {
        f.weights()
            .iter()
            .chain([&f.bias()])
            .map(|&v| f64::from(v))
            .collect()
    };
    common::assert_close("parameters", &parameters(&gpu), &parameters(&cpu), 1e-4, 1e-5);
    assert_eq!(
        gpu.training_state().optimizer_state().steps,
        cpu.training_state().optimizer_state().steps
    );
}

/// A model with a loss and an elastic net reads back equal, settings
/// included; a file of schema version 1 (before losses and L1 were saved)
/// still loads, with the model's default loss and no L1 part.
#[test]
fn losses_and_penalties_are_saved_and_version_1_files_still_load() {
    use downhill::{Loss, Penalty};
    let data = Synthetic::generate(Model::Linear, 80, 3, 0.1, 5).unwrap();
    let fitted = GradientDescent::linear()
        .loss(Loss::Huber { epsilon: 0.8 })
        .penalty(Penalty::ElasticNet {
            alpha: 0.05,
            l1_ratio: 0.3,
        })
        .max_epochs(4)
        .device(Device::Cpu)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    let loaded = Fitted::from_json(&fitted.to_json().unwrap(), "model.json").unwrap();
    assert_eq!(loaded, fitted);
    assert_eq!(loaded.settings().loss_settings(), Loss::Huber { epsilon: 0.8 });

    let plain = GradientDescent::linear()
        .max_epochs(2)
        .device(Device::Cpu)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&plain.to_json().unwrap()).unwrap();
    json["version"] = 1.into();
    let options = json["options"].as_object_mut().unwrap();
    assert!(options.remove("loss").is_some() && options.remove("l1").is_some());
    let old = Fitted::from_json(&json.to_string(), "old.json").unwrap();
    assert_eq!(old, plain);
    assert_eq!(old.settings().penalty_settings(), Penalty::L2(0.0));
}
