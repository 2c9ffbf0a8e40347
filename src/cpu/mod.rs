//! The CPU engine: the fused row pass of [`kernel`], parallel over fixed
//! chunks of rows with rayon, and the one training loop.

mod kernel;

use ndarray::Array1;

use crate::fit::{
    last_finite, BatchOrder, EpochMonitor, Gradient, Outcome, Problem, StopReason, TrainingPlan,
};
use kernel::{Rows, Workspace};

/// Runs epochs until a stop rule fires, starting from `parameters`
/// (weights, then bias).
pub(crate) fn train(problem: &Problem, plan: &TrainingPlan, parameters: Vec<f32>) -> Outcome {
    // On a worker thread of the pool, the parallel chunks of each step are
    // shared by work stealing instead of a round trip from outside the pool.
    rayon::scope(|_| train_on_pool(problem, plan, parameters))
}

fn train_on_pool(problem: &Problem, plan: &TrainingPlan, mut parameters: Vec<f32>) -> Outcome {
    let n = problem.rows;
    let batch_size = plan.batch_size.map_or(n, |b| b.min(n));
    let mut workspace = Workspace::new(problem.features, batch_size);
    let mut state = plan.optimizer.initial_state(parameters.len());
    let mut order = plan.batch_size.map(|_| BatchOrder::new(n, plan.seed));
    let mut monitor = EpochMonitor::new(plan);
    let mut gradient_evaluations = 0u64;
    let mut previous_start = parameters.clone();
    let mut parameter_path = Vec::new();

    let stop_reason = loop {
        let learning_rate = monitor.learning_rate();
        let epoch_start = parameters.clone();
        let mut step = |rows: Rows| {
            let loss = workspace.evaluate(problem, &parameters, rows);
            plan.optimizer
                .step(&mut state, &mut parameters, &workspace.gradient, learning_rate);
            loss
        };
        let (loss_sum, steps) = match &mut order {
            None => (step(Rows::Contiguous { start: 0, len: n }), 1),
            Some(order) => {
                let order = order.next_epoch();
                (0..n).step_by(batch_size).fold((0.0, 0), |(sum, steps), start| {
                    let len = batch_size.min(n - start);
                    (sum + step(Rows::Permuted { order, start, len }), steps + 1)
                })
            }
        };
        gradient_evaluations += steps;
        if plan.track_parameters {
            parameter_path.push(parameters.clone());
        }
        if let Some(reason) = monitor.end_epoch(loss_sum / steps as f64) {
            if matches!(reason, StopReason::Diverged { .. }) {
                parameters = last_finite(epoch_start, previous_start);
            }
            break reason;
        }
        previous_start = epoch_start;
    };
    Outcome {
        parameters,
        history: monitor.into_history(),
        stop_reason,
        gradient_evaluations,
        parameter_path,
    }
}

/// One gradient of the unpenalized loss over every row.
pub(crate) fn gradient(problem: &Problem, parameters: &[f32]) -> Gradient {
    let mut workspace = Workspace::new(problem.features, problem.rows);
    let loss = workspace.evaluate(
        problem,
        parameters,
        Rows::Contiguous {
            start: 0,
            len: problem.rows,
        },
    );
    let d = problem.features;
    Gradient {
        weights: Array1::from(workspace.gradient[..d].to_vec()),
        bias: workspace.gradient[d],
        loss,
    }
}
