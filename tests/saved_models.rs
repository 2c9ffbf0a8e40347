//! Saved models and exact resumes: fit → save → load → predict gives the
//! same predictions; an unknown schema version and a cut-short file each
//! have their own error; a fit resumed from a saved one continues exactly.
#![cfg(feature = "serde")]

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
        Err(Error::UnknownSchemaVersion { found, supported, .. }) if found == "99" && supported == downhill::SCHEMA_VERSION
    ));
    let path = temp("truncated.json");
    std::fs::write(&path, &text[..text.len() / 2]).unwrap();
    assert!(matches!(Fitted::load(&path), Err(Error::MalformedModel { .. })));
    assert!(matches!(
        Fitted::load(temp("missing.json")),
        Err(Error::Io { .. })
    ));
    assert!(matches!(
        Fitted::from_json("{\"format\": \"something else\"}", "other.json"),
        Err(Error::MalformedModel { .. })
    ));
}

/// 10 epochs, saved and loaded, then 10 more, against 20 in one go.
fn resumed_and_whole(model: Model, device: Device) -> (Fitted, Fitted) {
    let data = Synthetic::generate(model, 700, 5, 0.3, 9).unwrap();
    let settings = descent(model).device(device);
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
    let path = temp(&format!("resume-{model}-{device}.json"));
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
        let (resumed, whole) = resumed_and_whole(model, Device::Cpu);
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
        let data = Synthetic::generate(model, 700, 5, 0.3, 9).unwrap();
        let settings = descent(model).device(Device::Gpu).gpu_context(context.clone());
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
        let loaded = Fitted::from_json(&first.to_json().unwrap(), "memory").unwrap();
        let resumed = settings
            .max_epochs(10)
            .resume(&loaded)
            .fit(data.x.view(), data.y.view())
            .unwrap();
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
