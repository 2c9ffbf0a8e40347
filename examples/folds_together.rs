//! Times a 5-fold cross-validation of a 20-strength warm-started L-BFGS
//! path (a `LogisticRegressionCV`'s work, seeded synthetic rows) with the
//! folds side by side in one lockstep over the rows
//! (`PathFitting::FoldsTogether`), against the folds one after another
//! (`PathFitting::WarmStarted`); both give the same scores, bit for bit,
//! which it checks. Prints JSON with the seconds of each, alternated over
//! `REPEATS` runs.
//!
//! cargo run --release --example folds_together -- [ROWS] [FEATURES] [REPEATS]

use std::time::Instant;

use downhill::{CvOptions, Device, Folds, GradientDescent, Model, PathFitting, Solver, Synthetic};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: usize| args.get(i).map_or(Ok(default), |a| a.parse::<usize>());
    let (rows, features, repeats) = (number(0, 300_000)?, number(1, 64)?, number(2, 3)?);
    let data = Synthetic::generate(Model::Logistic, rows, features, 0.5, 7)?;
    let training = rows as f32 * 0.8;
    let strengths: Vec<f32> = (0..20)
        .map(|k| 1.0 / (10f32.powf(-4.0 + k as f32 * 8.0 / 19.0) * training))
        .collect();
    let settings = GradientDescent::logistic()
        .solver(Solver::lbfgs())
        .tolerance(1e-4)
        .max_epochs(100)
        .device(Device::Cpu);
    let options = |fitting| CvOptions {
        fitting,
        ..CvOptions::default()
    };
    let folds = Folds::stratified(data.y.view(), 5, 1)?;
    let (mut together_seconds, mut apart_seconds) = (Vec::new(), Vec::new());
    for _ in 0..repeats {
        let start = Instant::now();
        let together = settings.cross_validate(
            data.x.view(),
            data.y.view(),
            &strengths,
            &folds,
            options(PathFitting::FoldsTogether),
        )?;
        together_seconds.push(start.elapsed().as_secs_f64());
        let start = Instant::now();
        let one_by_one = settings.cross_validate(
            data.x.view(),
            data.y.view(),
            &strengths,
            &folds,
            options(PathFitting::WarmStarted),
        )?;
        apart_seconds.push(start.elapsed().as_secs_f64());
        assert_eq!(together.scores, one_by_one.scores, "the lockstep changed a score");
    }
    println!(
        "{{\"rows\": {rows}, \"features\": {features}, \"folds_in_lockstep_seconds\": {together_seconds:?}, \"folds_one_after_another_seconds\": {apart_seconds:?}}}"
    );
    Ok(())
}
