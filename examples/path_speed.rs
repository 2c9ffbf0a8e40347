//! Times a regularization path fitted in lockstep
//! ([`GradientDescent::path`]) against one fit of the same settings alone,
//! on seeded synthetic data, and prints JSON: the bar is 20
//! strengths by full batch on 1,000,000 × 64 in at most 3× one fit's time
//! on the CPU. Every model runs the same number of full-batch epochs (no
//! early stop), so the ratio is the cost of a pass serving many models
//! against one; the same models fitted one after another (and checked
//! equal, bit for bit) and the machine's read bandwidth are measured
//! beside it.
//!
//! cargo run --release --example path_speed -- [ROWS] [FEATURES] [STRENGTHS] [EPOCHS] [linear|logistic]

use std::time::Instant;

use downhill::{GradientDescent, Model, Optimizer, Penalty, Solver, Synthetic, Variant};

fn seconds<T>(run: impl FnOnce() -> T) -> (f64, T) {
    let start = Instant::now();
    let value = run();
    (start.elapsed().as_secs_f64(), value)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: usize| args.get(i).map_or(Ok(default), |a| a.parse::<usize>());
    let (rows, features, count, epochs) = (
        number(0, 1_000_000)?,
        number(1, 64)?,
        number(2, 20)?,
        number(3, 30)?,
    );
    let model = match args.get(4).map(String::as_str) {
        Some("logistic") => Model::Logistic,
        _ => Model::Linear,
    };
    let data = Synthetic::generate(model, rows, features, 0.1, 7)?;
    let (x, y) = (data.x.view(), data.y.view());

    // The read bandwidth: the largest value of X, in parallel.
    let read_seconds = {
        use rayon::prelude::*;
        let values = data.x.as_slice().expect("generated contiguous");
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let (t, top) = seconds(|| {
                values
                    .par_chunks(1 << 16)
                    .map(|c| c.iter().fold(0.0f32, |a, &b| a.max(b)))
                    .reduce(|| 0.0, f32::max)
            });
            std::hint::black_box(top);
            best = best.min(t);
        }
        best
    };

    // Strengths from 1 down by factors of 10^(4/(count−1)), as a path of
    // scikit-learn's default depth (1e-4 of the largest).
    let strengths: Vec<f32> = (0..count)
        .map(|k| 10f32.powf(-4.0 * k as f32 / (count.max(2) - 1) as f32))
        .collect();
    let descent = match model {
        Model::Linear => GradientDescent::linear(),
        Model::Logistic => GradientDescent::logistic(),
    }
    .variant(Variant::Full)
    .optimizer(Optimizer::sgd(0.1))
    .penalty(Penalty::L2(strengths[0]))
    .tolerance(0.0)
    .max_epochs(epochs);

    let mut results = vec![(
        "read_bandwidth_gbs",
        (rows * features * 4) as f64 / read_seconds / 1e9,
    )];
    for (name, settings) in [
        ("descent", descent.clone()),
        ("lbfgs", descent.clone().solver(Solver::lbfgs()).tolerance(1e-30)),
    ] {
        // The first fit of the process also starts the thread pool: the
        // second is timed.
        settings.fit(x, y)?;
        let (one, fit) = seconds(|| settings.fit(x, y));
        let fit = fit?;
        let (path_time, path) = seconds(|| settings.path(x, y, &strengths));
        let path = path?;
        // The same models one after another, for what the lockstep saves.
        let models: Vec<GradientDescent> = strengths
            .iter()
            .map(|&s| settings.clone().penalty(Penalty::L2(s)))
            .collect();
        let (sequential, fits) =
            seconds(|| models.iter().map(|m| m.fit(x, y)).collect::<Result<Vec<_>, _>>());
        for (alone, together) in fits?.iter().zip(&path) {
            assert_eq!(
                alone.weights(),
                together.weights(),
                "the lockstep changed a model"
            );
        }
        // One after another, each from the one before's solution (the
        // strongest first): scikit-learn's warm-started path.
        let (warm, warm_passes) = seconds(|| -> Result<f64, downhill::Error> {
            let mut previous: Option<downhill::Fitted> = None;
            let mut passes = 0.0;
            for model in &models {
                let model = match &previous {
                    Some(fit) => model.clone().warm_start(fit.weights().to_owned(), fit.bias()),
                    None => model.clone(),
                };
                let fit = model.fit(x, y)?;
                passes += fit.gradient_evaluations() as f64;
                previous = Some(fit);
            }
            Ok(passes)
        });
        results.push((leak(format!("{name}_warm_started_one_after_another_s")), warm));
        results.push((leak(format!("{name}_warm_started_passes")), warm_passes?));
        let passes_alone = fit.gradient_evaluations() as f64;
        let passes_path: f64 = path.iter().map(|f| f.gradient_evaluations() as f64).sum();
        results.push((leak(format!("{name}_one_fit_s")), one));
        results.push((leak(format!("{name}_path_s")), path_time));
        results.push((leak(format!("{name}_path_over_one_fit")), path_time / one));
        results.push((leak(format!("{name}_one_after_another_s")), sequential));
        results.push((
            leak(format!("{name}_one_after_another_over_path")),
            sequential / path_time,
        ));
        results.push((leak(format!("{name}_one_fit_passes")), passes_alone));
        results.push((leak(format!("{name}_path_model_passes")), passes_path));
        results.push((
            leak(format!("{name}_one_fit_gbs")),
            passes_alone * (rows * features * 4) as f64 / one / 1e9,
        ));
    }
    println!("{{");
    println!("  \"rows\": {rows}, \"features\": {features}, \"strengths\": {count}, \"epochs\": {epochs}, \"model\": \"{model}\",");
    let lines: Vec<String> = results
        .iter()
        .map(|(k, v)| format!("  \"{k}\": {v:.4}"))
        .collect();
    println!("{}\n}}", lines.join(",\n"));
    Ok(())
}

fn leak(name: String) -> &'static str {
    Box::leak(name.into_boxed_str())
}
