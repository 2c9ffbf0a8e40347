//! The scores against values computed by hand.

use downhill::metrics::{accuracy, log_loss, mse, r2};
use downhill::Error;
use ndarray::array;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

#[test]
fn mse_by_hand() {
    // Errors 0, 1, 2: (0 + 1 + 4) / 3.
    let got = mse(array![1.0f32, 2.0, 3.0].view(), array![1.0f32, 3.0, 5.0].view()).expect("same length");
    assert!(close(got, 5.0 / 3.0), "{got}");
    let perfect = mse(array![0.5f32, -2.0].view(), array![0.5f32, -2.0].view()).expect("same length");
    assert_eq!(perfect, 0.0);
}

#[test]
fn r2_by_hand() {
    // Mean 2, SS_tot = 2, SS_res = 0 + 1 + 4 = 5: 1 − 5/2.
    let got = r2(array![1.0f32, 2.0, 3.0].view(), array![1.0f32, 3.0, 5.0].view()).expect("same length");
    assert!(close(got, -1.5), "{got}");
    // Predicting the mean scores 0; a perfect fit 1.
    let mean = r2(array![1.0f32, 2.0, 3.0].view(), array![2.0f32, 2.0, 2.0].view()).expect("same length");
    assert!(close(mean, 0.0), "{mean}");
    let good = r2(
        array![1.0f32, 2.0, 3.0, 6.0].view(),
        array![1.0f32, 2.5, 3.0, 5.5].view(),
    )
    .expect("same length");
    // Mean 3, SS_tot = 4 + 1 + 0 + 9 = 14, SS_res = 0.25 + 0.25 = 0.5.
    assert!(close(good, 1.0 - 0.5 / 14.0), "{good}");
}

#[test]
fn r2_of_constant_targets_follows_scikit_learn() {
    let y = array![2.0f32, 2.0, 2.0];
    assert_eq!(r2(y.view(), y.view()), Ok(1.0));
    assert_eq!(r2(y.view(), array![2.0f32, 2.0, 3.0].view()), Ok(0.0));
}

#[test]
fn accuracy_by_hand() {
    let got = accuracy(
        array![1.0f32, 0.0, 1.0, 1.0].view(),
        array![1.0f32, 1.0, 1.0, 0.0].view(),
    )
    .expect("same length");
    assert!(close(got, 0.5), "{got}");
    let got = accuracy(
        array![1.0f32, 0.0, 1.0, 0.0].view(),
        array![1.0f32, 0.0, 1.0, 1.0].view(),
    )
    .expect("same length");
    assert!(close(got, 0.75), "{got}");
}

#[test]
fn log_loss_by_hand() {
    // −(ln 0.8 + ln(1 − 0.3)) / 2, with the float32 probabilities.
    let (p1, p2) = (f64::from(0.8f32), f64::from(0.3f32));
    let expected = -(p1.ln() + (1.0 - p2).ln()) / 2.0;
    let got = log_loss(array![1.0f32, 0.0].view(), array![0.8f32, 0.3].view()).expect("valid labels");
    assert!(close(got, expected), "{got} vs {expected}");
    // ln 2 for a coin flip.
    let coin = log_loss(array![1.0f32, 0.0].view(), array![0.5f32, 0.5].view()).expect("valid labels");
    assert!(close(coin, std::f64::consts::LN_2), "{coin}");
}

#[test]
fn log_loss_clips_certain_mistakes_at_1e_15() {
    // p = 0 for a true 1 (and p = 1 for a true 0) cost −ln(1e−15) ≈ 34.54
    // each (1 − (1 − 1e−15) is 9.99e−16 in float64, hence the tolerance).
    let got = log_loss(array![1.0f32, 0.0].view(), array![0.0f32, 1.0].view()).expect("valid labels");
    assert!((got - -(1e-15f64).ln()).abs() < 1e-3, "{got}");
    let one = log_loss(array![1.0f32].view(), array![0.0f32].view()).expect("valid labels");
    assert!((one - -(1e-15f64).ln()).abs() < 1e-9, "{one}");
    assert!(got.is_finite());
    let sure = log_loss(array![1.0f32, 0.0].view(), array![1.0f32, 0.0].view()).expect("valid labels");
    assert!((0.0..1e-14).contains(&sure), "{sure}");
}

#[test]
fn metrics_reject_mismatched_and_empty_input() {
    let three = array![1.0f32, 0.0, 1.0];
    let two = array![1.0f32, 0.0];
    let empty = ndarray::Array1::<f32>::zeros(0);
    for metric in [mse, r2, accuracy, log_loss] {
        assert_eq!(
            metric(three.view(), two.view()),
            Err(Error::LengthMismatch { y_true: 3, y_pred: 2 })
        );
        assert_eq!(
            metric(empty.view(), empty.view()),
            Err(Error::EmptyData { rows: 0, features: 1 })
        );
    }
}

#[test]
fn log_loss_rejects_labels_outside_zero_and_one() {
    assert_eq!(
        log_loss(array![1.0f32, 2.0].view(), array![0.5f32, 0.5].view()),
        Err(Error::InvalidLabel { row: 1, value: 2.0 })
    );
}

#[test]
fn mae_and_rmse_by_hand() {
    use downhill::metrics::{mae, rmse};
    // Errors 0, 1, 2.
    let (t, p) = (array![1.0f32, 2.0, 3.0], array![1.0f32, 3.0, 5.0]);
    assert!(close(mae(t.view(), p.view()).unwrap(), 1.0));
    assert!(close(rmse(t.view(), p.view()).unwrap(), (5.0f64 / 3.0).sqrt()));
}

#[test]
fn the_confusion_matrix_and_its_ratios_by_hand() {
    use downhill::metrics::{confusion_matrix, f1, precision, recall, ConfusionMatrix};
    let t = array![1.0f32, 1.0, 0.0, 0.0, 1.0, 0.0];
    let p = array![1.0f32, 0.0, 0.0, 1.0, 1.0, 0.0];
    // Rows 0 and 4 are hits on class 1, row 1 a miss, row 3 a false alarm.
    let counts = confusion_matrix(t.view(), p.view()).unwrap();
    assert_eq!(
        counts,
        ConfusionMatrix {
            true_positives: 2,
            false_positives: 1,
            true_negatives: 2,
            false_negatives: 1
        }
    );
    assert!(close(precision(t.view(), p.view()).unwrap(), 2.0 / 3.0));
    assert!(close(recall(t.view(), p.view()).unwrap(), 2.0 / 3.0));
    assert!(close(f1(t.view(), p.view()).unwrap(), 2.0 / 3.0));
    assert!(close(counts.accuracy(), 4.0 / 6.0));
    // Precision 1/1 and recall 1/3: F1 = 2 · 1 · (1/3) / (1 + 1/3) = 1/2.
    let few = array![1.0f32, 0.0, 0.0, 0.0, 0.0, 0.0];
    assert!(close(precision(t.view(), few.view()).unwrap(), 1.0));
    assert!(close(recall(t.view(), few.view()).unwrap(), 1.0 / 3.0));
    assert!(close(f1(t.view(), few.view()).unwrap(), 0.5));
    // Nothing predicted positive: precision 0 by convention, not NaN.
    let none = ndarray::Array1::<f32>::zeros(6);
    assert_eq!(precision(t.view(), none.view()).unwrap(), 0.0);
    assert_eq!(f1(t.view(), none.view()).unwrap(), 0.0);
    assert!(matches!(
        precision(t.view(), array![1.0f32, 0.0, 2.0, 0.0, 1.0, 0.0].view()),
        Err(Error::InvalidPrediction { row: 2, .. })
    ));
}

#[test]
fn roc_auc_by_hand() {
    use downhill::metrics::roc_auc;
    // Positives score 0.35 and 0.8, negatives 0.1 and 0.4: of the four
    // (positive, negative) pairs, three are ordered right.
    let t = array![0.0f32, 0.0, 1.0, 1.0];
    assert!(close(
        roc_auc(t.view(), array![0.1f32, 0.4, 0.35, 0.8].view()).unwrap(),
        0.75
    ));
    assert!(close(
        roc_auc(t.view(), array![0.1f32, 0.2, 0.3, 0.4].view()).unwrap(),
        1.0
    ));
    assert!(close(
        roc_auc(t.view(), array![0.4f32, 0.3, 0.2, 0.1].view()).unwrap(),
        0.0
    ));
    // A tie between a positive and a negative counts one half: pairs
    // (0.5 vs 0.5) ½, (0.5 vs 0.1) 1, (0.9 vs both) 2: 3.5 / 4.
    assert!(close(
        roc_auc(t.view(), array![0.5f32, 0.1, 0.5, 0.9].view()).unwrap(),
        0.875
    ));
    assert!(matches!(
        roc_auc(array![1.0f32, 1.0].view(), array![0.2f32, 0.3].view()),
        Err(Error::SingleClass { .. })
    ));
    assert!(matches!(
        roc_auc(t.view(), array![0.1f32, f32::NAN, 0.3, 0.4].view()),
        Err(Error::InvalidPrediction { row: 1, .. })
    ));
}

#[test]
fn per_class_scores_and_cross_entropy_by_hand() {
    use downhill::metrics::{cross_entropy, macro_f1, per_class};
    // Truth 0 0 1 1 2 2, predicted 0 1 1 1 2 0:
    // class 0: 1 hit of 2 predicted, 2 true → P 1/2, R 1/2, F1 1/2;
    // class 1: 2 hits of 3 predicted, 2 true → P 2/3, R 1, F1 4/5;
    // class 2: 1 hit of 1 predicted, 2 true → P 1, R 1/2, F1 2/3.
    let t = array![0.0f32, 0.0, 1.0, 1.0, 2.0, 2.0];
    let p = array![0.0f32, 1.0, 1.0, 1.0, 2.0, 0.0];
    let scores = per_class(t.view(), p.view(), 3).unwrap();
    let expected = [(0.5, 0.5, 0.5), (2.0 / 3.0, 1.0, 0.8), (1.0, 0.5, 2.0 / 3.0)];
    for (s, (precision, recall, f1)) in scores.iter().zip(expected) {
        assert!(
            close(s.precision, precision) && close(s.recall, recall) && close(s.f1, f1),
            "{s:?}"
        );
        assert_eq!(s.support, 2);
    }
    assert!(close(macro_f1(&scores), (0.5 + 0.8 + 2.0 / 3.0) / 3.0));
    // A class never predicted nor present scores 0, as zero_division=0.
    let four = per_class(t.view(), p.view(), 4).unwrap();
    assert_eq!(
        (four[3].precision, four[3].recall, four[3].support),
        (0.0, 0.0, 0)
    );
    // … and does not count in the macro F1, as scikit-learn's labels are
    // those of the rows and the predictions.
    assert!(close(macro_f1(&four), macro_f1(&scores)));
    assert!(matches!(
        per_class(array![3.0f32].view(), array![0.0f32].view(), 3),
        Err(Error::InvalidClass { row: 0, .. })
    ));
    // −(ln 0.7 + ln 0.5) / 2.
    let probabilities = array![[0.7f32, 0.2, 0.1], [0.25, 0.25, 0.5]];
    let got = cross_entropy(array![0.0f32, 2.0].view(), probabilities.view()).unwrap();
    let by_hand = -((0.7f32 as f64).ln() + 0.5f64.ln()) / 2.0;
    assert!(close(got, by_hand), "{got} vs {by_hand}");
}
