//! Counts the passes over the rows that a warm-started L-BFGS path takes
//! ([`GradientDescent::path_warm_started`]): one fold's worth of a
//! 20-C `LogisticRegressionCV` (seeded synthetic rows, strengths
//! 1/(C·n) for C from 1e-4 to 1e4, the gradient tolerance 1e-4), each
//! model's passes and iterations, against the path in lockstep from zero
//! ([`GradientDescent::path`]). Prints JSON.
//!
//! cargo run --release --example warm_path_passes -- [ROWS] [FEATURES]

use std::time::Instant;

use downhill::{Device, Fitted, GradientDescent, Model, Solver, Synthetic};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: usize| args.get(i).map_or(Ok(default), |a| a.parse::<usize>());
    let (rows, features) = (number(0, 240_000)?, number(1, 64)?);
    let data = Synthetic::generate(Model::Logistic, rows, features, 0.5, 7)?;
    let strengths: Vec<f32> = (0..20)
        .map(|k| 1.0 / (10f32.powf(-4.0 + k as f32 * 8.0 / 19.0) * rows as f32))
        .collect();
    let settings = GradientDescent::logistic()
        .solver(Solver::lbfgs())
        .tolerance(1e-4)
        .max_epochs(100)
        .device(Device::Cpu);
    let passes = |fits: &[Fitted]| fits.iter().map(Fitted::gradient_evaluations).collect::<Vec<_>>();
    let start = Instant::now();
    let warm = settings.path_warm_started(data.x.view(), data.y.view(), &strengths)?;
    let warm_seconds = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let cold = settings.path(data.x.view(), data.y.view(), &strengths)?;
    let cold_seconds = start.elapsed().as_secs_f64();
    let (warm_passes, cold_passes) = (passes(&warm), passes(&cold));
    println!(
        "{{\"rows\": {rows}, \"features\": {features}, \"warm_started_passes\": {warm_passes:?}, \"warm_started_total\": {}, \"warm_started_seconds\": {warm_seconds:.3}, \"lockstep_passes\": {cold_passes:?}, \"lockstep_total\": {}, \"lockstep_seconds\": {cold_seconds:.3}}}",
        warm_passes.iter().sum::<u64>(),
        cold_passes.iter().sum::<u64>(),
    );
    Ok(())
}
