//! Logistic regression on the Wisconsin breast-cancer data set shipped with
//! smartcore (569 tumours, 30 features, malignant or benign): standardized
//! features, L2 penalty, full-batch descent with Adam, then accuracy and
//! log-loss on a held-out fifth of the rows.
//!
//! cargo run --release --example breast_cancer

use downhill::{metrics, Device, GradientDescent, Optimizer};
use ndarray::{Array1, Array2};

fn main() -> Result<(), downhill::Error> {
    let data = smartcore::dataset::breast_cancer::load_dataset();
    let x = Array2::from_shape_vec((data.num_samples, data.num_features), data.data.clone())
        .expect("row-major data");
    let y: Array1<f32> = data.target.iter().map(|&t| t as f32).collect();
    // Every fifth row is held out.
    let held_out: Vec<usize> = (0..data.num_samples).filter(|i| i % 5 == 0).collect();
    let training: Vec<usize> = (0..data.num_samples).filter(|i| i % 5 != 0).collect();
    let pick = |rows: &[usize]| (x.select(ndarray::Axis(0), rows), y.select(ndarray::Axis(0), rows));
    let (x_train, y_train) = pick(&training);
    let (x_test, y_test) = pick(&held_out);

    let fitted = GradientDescent::logistic()
        .optimizer(Optimizer::adam(0.05))
        .l2(0.01)
        .standardize(true)
        .max_epochs(500)
        .tolerance(1e-7)
        .patience(10)
        .device(Device::Auto)
        .fit(x_train.view(), y_train.view())?;
    println!(
        "{} training rows, {} features: stopped by {:?} after {} epochs on {}",
        training.len(),
        data.num_features,
        fitted.stop_reason(),
        fitted.history().len(),
        fitted.device().name()
    );
    for (split, x, y) in [("training", &x_train, &y_train), ("held out", &x_test, &y_test)] {
        let probabilities = fitted.predict_proba(x.view())?;
        println!(
            "{split:>9}: accuracy {:.4}, log-loss {:.4}",
            fitted.score(x.view(), y.view())?,
            metrics::log_loss(y.view(), probabilities.view())?
        );
    }
    let names = &data.feature_names;
    let mut ranked: Vec<(usize, f32)> = fitted.weights().iter().copied().enumerate().collect();
    ranked.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    println!("largest weights (per unit of each feature):");
    for &(j, w) in ranked.iter().take(5) {
        let name = names.get(j).map_or("?", |n| n.as_str());
        println!("  {name:<24} {w:>10.4}");
    }
    Ok(())
}
