//! L-BFGS on the engines' full-batch gradient. Every evaluation of the
//! objective is one pass of [`crate::engine::SumsRun`] over rows that stay
//! where the engine keeps them (uploaded once to the GPU);
//! [`Objective::gradient`] turns the sums into the gradient and the loss,
//! as for gradient descent. The iterations join the same history
//! ([`EpochRecord`]) and stop reasons.
//!
//! The solver is written here rather than taken from a library, because
//! three things about the objective are particular:
//!
//! - The engine evaluates at parameters narrowed to float32, from float32
//!   margins: near the optimum, two nearby points' summed values differ by
//!   their rounding, not by their objective. Each trial point of the line
//!   search is taken as a value relative to the iterate; where the summed
//!   difference is below [`VALUE_NOISE`] of the objective, it is replaced
//!   by the difference integrated from the two points' slopes by the
//!   trapezoid rule, ½ α (φ′(0) + φ′(α)), whose differences are as precise
//!   as the gradients (Hager and Zhang's approximate Wolfe condition rests
//!   on the same rule). One run keeps its curvature pairs from the first
//!   iteration to the last.
//! - The columns of a table that is not standardized have scales many
//!   orders apart. The solver works on the standardized parameters
//!   ([`Scaling`]): a change of variables whose inverse gives back the
//!   same model, so the optimum is the same point, the penalty and the
//!   bias included; only the path to it is shorter.
//! - The points are snapped to what the engine evaluates (the float32
//!   parameters), so that each curvature pair is that of two points
//!   actually evaluated, and a step too small to change any float32
//!   parameter ends the run ([`StopReason::RoundingLimit`]) instead of
//!   spending passes on the same point.

use std::time::Instant;

use rayon::prelude::*;

use crate::data::source::DataSource;
use crate::engine::{Engine, SumsRun, WorkCounts};
use crate::error::Result;
use crate::math::objective::{Objective, RawSums};
use crate::train::driver::Outcome;
use crate::train::history::{EpochRecord, StopReason};
use crate::train::plan::TrainingPlan;
use crate::train::state::{starting_point, Start, TrainingState};

/// The most passes one line search may take; MINPACK's Moré–Thuente
/// stops at 20 evaluations as well.
const LINE_SEARCH_PASSES: u64 = 20;

/// The line search's test of sufficient decrease, φ(α) ≤ φ(0) + c₁ α φ′(0)
/// (MINPACK's and SciPy's c₁).
const SUFFICIENT_DECREASE: f64 = 1e-4;

/// The line search's test of curvature, φ′(α) ≥ c₂ φ′(0) (Wolfe's
/// condition, c₂ of quasi-Newton methods).
const CURVATURE: f64 = 0.9;

/// Where the summed values no longer rank nearby points: a difference
/// below this fraction of the objective is taken from the slopes instead
/// (Hager and Zhang's ε). Float32 margins and losses round each row's
/// loss by some 1e-7 of it; summed over rows, the differences of nearby
/// points are that rounding well before this.
const VALUE_NOISE: f64 = 1e-6;

/// The run ends at the rounding limit after this many iterations in a row
/// that neither lowered the smallest gradient so far nor the summed value
/// below its lowest by more than the rounding seen ([`Stall`]).
const STALL_ITERATIONS: usize = 10;

/// Rows per task of the pass that measures the columns.
const MOMENT_ROWS: usize = 1 << 14;

/// The change of variables the solver works in: each feature centred and
/// scaled, u = w·s for the weights and c = b + Σⱼ μⱼ wⱼ for each bias, so
/// that the margin is Σⱼ (xⱼ − μⱼ)/sⱼ · uⱼ + c. It is linear and
/// invertible, so a minimum in (u, c) is the same model as a minimum in
/// (w, b): the objective (its penalty on w, its bias unpenalized) is
/// evaluated on (w, b) alone. sⱼ = √(varⱼ + λ₂), with λ₂ the L2 strength,
/// makes the diagonal of the objective's curvature about equal across
/// the columns (a Jacobi preconditioner) and keeps sⱼ > 0 for a constant
/// column under a penalty.
struct Scaling {
    features: usize,
    margins: usize,
    means: Vec<f64>,
    scales: Vec<f64>,
}

impl Scaling {
    /// The columns' means and scales over `source`'s rows (every rank's),
    /// from one pass in float64 (fixed tasks added in their order, so the
    /// same whatever the number of threads).
    fn of_columns(
        source: &dyn DataSource,
        reducer: Option<&crate::reduce::Reducer>,
        margins: usize,
        l2: f64,
    ) -> Result<Self> {
        let d = source.features();
        let local = column_sums(source);
        let local = match reducer {
            Some(reducer) => reducer.agree(local)?,
            None => local?,
        };
        let mut total = RawSums {
            derivative: vec![0.0; 2 * d],
            loss: 0.0,
            rows: source.rows(),
            weight: 0.0,
        };
        for part in &local {
            for (t, &s) in total.derivative.iter_mut().zip(part) {
                *t += s;
            }
        }
        let total = match reducer {
            Some(reducer) => reducer.all_reduce(&total)?,
            None => total,
        };
        let n = total.rows as f64;
        if d == 0 || n == 0.0 {
            return Ok(Scaling::identity(d, margins));
        }
        let (first, second) = total.derivative.split_at(d);
        let means: Vec<f64> = first.iter().map(|s| s / n).collect();
        let scales = second
            .iter()
            .zip(&means)
            .map(|(q, m)| {
                let scale = ((q / n - m * m).max(0.0) + l2).sqrt();
                if scale > 0.0 && scale.is_finite() {
                    scale
                } else {
                    1.0
                }
            })
            .collect();
        let means = means
            .into_iter()
            .map(|m| if m.is_finite() { m } else { 0.0 })
            .collect();
        Ok(Scaling {
            features: d,
            margins,
            means,
            scales,
        })
    }

    fn identity(features: usize, margins: usize) -> Self {
        Scaling {
            features,
            margins,
            means: vec![0.0; features],
            scales: vec![1.0; features],
        }
    }

    /// The model's parameters (w, b) of the solver's (u, c).
    fn to_model(&self, solver: &[f64]) -> Vec<f64> {
        let (d, k) = (self.features, self.margins);
        let mut model = solver.to_vec();
        for j in 0..d {
            for c in 0..k {
                let w = solver[j * k + c] / self.scales[j];
                model[j * k + c] = w;
                model[d * k + c] -= self.means[j] * w;
            }
        }
        model
    }

    /// The solver's parameters (u, c) of the model's (w, b).
    fn to_solver(&self, model: &[f64]) -> Vec<f64> {
        let (d, k) = (self.features, self.margins);
        let mut solver = model.to_vec();
        for j in 0..d {
            for c in 0..k {
                let w = model[j * k + c];
                solver[j * k + c] = w * self.scales[j];
                solver[d * k + c] += self.means[j] * w;
            }
        }
        solver
    }

    /// The gradient with respect to (u, c) of the gradient with respect to
    /// (w, b): the transpose of [`Scaling::to_model`]'s map.
    fn gradient_to_solver(&self, model: &[f64]) -> Vec<f64> {
        let (d, k) = (self.features, self.margins);
        let mut solver = model.to_vec();
        for j in 0..d {
            for c in 0..k {
                solver[j * k + c] = (model[j * k + c] - self.means[j] * model[d * k + c]) / self.scales[j];
            }
        }
        solver
    }
}

/// Σ xⱼ and then Σ xⱼ² of `source`'s columns, in float64, per task of
/// [`MOMENT_ROWS`] rows (in parallel where the rows are resident).
fn column_sums(source: &dyn DataSource) -> Result<Vec<Vec<f64>>> {
    let d = source.features();
    let sums = |x: &[f32]| {
        let mut sums = vec![0.0f64; 2 * d];
        let (first, second) = sums.split_at_mut(d);
        for row in x.chunks_exact(d) {
            for ((s, q), &v) in first.iter_mut().zip(second.iter_mut()).zip(row) {
                let v = f64::from(v);
                *s += v;
                *q += v * v;
            }
        }
        sums
    };
    if d == 0 {
        return Ok(Vec::new());
    }
    let n = source.rows();
    Ok(match source.resident() {
        Some(block) => block.x.par_chunks(MOMENT_ROWS * d).map(sums).collect(),
        None => (0..n.div_ceil(MOMENT_ROWS))
            .map(|b| {
                let start = b * MOMENT_ROWS;
                let block = source.block(start, MOMENT_ROWS.min(n - start))?;
                Ok(sums(&block.x))
            })
            .collect::<Result<_>>()?,
    })
}

/// One evaluated point.
#[derive(Clone)]
struct Point {
    /// The solver's parameters, those of `narrow` exactly.
    solver: Vec<f64>,
    /// The model's parameters as the engine evaluated them.
    narrow: Vec<f32>,
    /// The objective, summed by the engine.
    loss: f64,
    /// The gradient with respect to the solver's parameters.
    gradient: Vec<f64>,
    /// The Euclidean norm of the gradient with respect to the model's.
    slope: f64,
}

impl Point {
    fn finite(&self) -> bool {
        self.loss.is_finite() && self.gradient.iter().all(|g| g.is_finite())
    }
}

/// The engine's passes over the rows.
struct Evaluator<'s> {
    sums: Box<dyn SumsRun + 's>,
    objective: Objective,
    scaling: Scaling,
    /// The passes over the rows so far.
    passes: u64,
}

impl Evaluator<'_> {
    /// The model's parameters, narrowed to what the engine evaluates, at
    /// the solver's `parameters`.
    fn narrow(&self, parameters: &[f64]) -> Vec<f32> {
        self.scaling
            .to_model(parameters)
            .iter()
            .map(|&p| p as f32)
            .collect()
    }

    /// The point `narrow`, evaluated by one pass.
    fn at(&mut self, narrow: Vec<f32>) -> Result<Point> {
        let sums = self.sums.raw_sums(&narrow)?;
        self.passes += 1;
        let model: Vec<f64> = narrow.iter().map(|&p| f64::from(p)).collect();
        let mut slope = vec![0.0; model.len()];
        let loss = self.objective.gradient(&sums, &model, &mut slope);
        Ok(Point {
            solver: self.scaling.to_solver(&model),
            narrow,
            loss,
            gradient: self.scaling.gradient_to_solver(&slope),
            slope: norm(&slope),
        })
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// The last `memory` steps s and changes of gradient y, with 1/(sᵀy).
struct Curvature {
    memory: usize,
    pairs: std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)>,
}

impl Curvature {
    /// Keeps the pair from `from` to `to` where its curvature sᵀy is
    /// positive (the objective is convex: a pair without it is rounding).
    fn push(&mut self, from: &Point, to: &Point) {
        let s: Vec<f64> = to.solver.iter().zip(&from.solver).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = to
            .gradient
            .iter()
            .zip(&from.gradient)
            .map(|(a, b)| a - b)
            .collect();
        let sy = dot(&s, &y);
        if sy > f64::EPSILON * dot(&y, &y) && sy.is_finite() {
            if self.pairs.len() == self.memory {
                self.pairs.pop_front();
            }
            self.pairs.push_back((s, y, 1.0 / sy));
        }
    }

    /// −H g by the two-loop recursion, H₀ = (sᵀy / yᵀy) I of the newest
    /// pair.
    fn direction(&self, gradient: &[f64]) -> Vec<f64> {
        let mut q = gradient.to_vec();
        let mut alphas = Vec::with_capacity(self.pairs.len());
        for (s, y, rho) in self.pairs.iter().rev() {
            let a = rho * dot(s, &q);
            q.iter_mut().zip(y).for_each(|(q, y)| *q -= a * y);
            alphas.push(a);
        }
        if let Some((_, y, rho)) = self.pairs.back() {
            let gamma = 1.0 / (rho * dot(y, y));
            q.iter_mut().for_each(|q| *q *= gamma);
        }
        for ((s, y, rho), a) in self.pairs.iter().zip(alphas.iter().rev()) {
            let b = rho * dot(y, &q);
            q.iter_mut().zip(s).for_each(|(q, s)| *q += (a - b) * s);
        }
        q.iter_mut().for_each(|q| *q = -*q);
        q
    }
}

/// A trial point of a line search: its step, its value as the search ranks
/// it, and its slope along the direction.
#[derive(Clone)]
struct Trial {
    step: f64,
    value: f64,
    slope: f64,
    point: Option<Point>,
}

/// The minimizer of the cubic through two trials' values and slopes, or
/// `None` where it has none.
fn cubic_minimizer(a: &Trial, b: &Trial) -> Option<f64> {
    let d1 = a.slope + b.slope - 3.0 * (a.value - b.value) / (a.step - b.step);
    let radicand = d1 * d1 - a.slope * b.slope;
    if radicand < 0.0 {
        return None;
    }
    let d2 = (b.step - a.step).signum() * radicand.sqrt();
    let step = b.step - (b.step - a.step) * (b.slope + d2 - d1) / (b.slope - a.slope + 2.0 * d2);
    step.is_finite().then_some(step)
}

/// One line search from `from` along `direction`, first trying `step`.
struct LineSearch<'e, 's> {
    evaluator: &'e mut Evaluator<'s>,
    from: &'e Point,
    direction: &'e [f64],
    /// φ′(0).
    slope: f64,
    /// The points this search has evaluated.
    seen: Vec<Vec<f32>>,
}

impl LineSearch<'_, '_> {
    /// The trial at `step`, or `None` where it narrows to the point the
    /// search starts from or one it has evaluated (no float32 parameter
    /// moves), or the search has taken its passes.
    fn trial(&mut self, step: f64) -> Result<Option<Trial>> {
        let parameters: Vec<f64> = self
            .from
            .solver
            .iter()
            .zip(self.direction)
            .map(|(x, p)| x + step * p)
            .collect();
        let narrow = self.evaluator.narrow(&parameters);
        if narrow == self.from.narrow
            || self.seen.contains(&narrow)
            || self.seen.len() as u64 == LINE_SEARCH_PASSES
        {
            return Ok(None);
        }
        self.seen.push(narrow.clone());
        let point = self.evaluator.at(narrow)?;
        if !point.finite() {
            return Ok(Some(Trial {
                step,
                value: f64::INFINITY,
                slope: f64::NAN,
                point: None,
            }));
        }
        let slope = dot(&point.gradient, self.direction);
        let summed = point.loss - self.from.loss;
        let value = match summed.abs() <= VALUE_NOISE * self.from.loss.abs() {
            true => self.from.loss + 0.5 * step * (self.slope + slope),
            false => point.loss,
        };
        Ok(Some(Trial {
            step,
            value,
            slope,
            point: Some(point),
        }))
    }

    fn decreases(&self, trial: &Trial) -> bool {
        trial.value <= self.from.loss + SUFFICIENT_DECREASE * trial.step * self.slope
    }

    /// The curvature condition: the slope has risen from φ′(0) by at
    /// least 1 − c₂ of it (Wolfe's, which keeps sᵀy > 0; a step past the
    /// line's minimum is taken where its value has decreased enough).
    fn risen(&self, trial: &Trial) -> bool {
        trial.slope >= CURVATURE * self.slope
    }

    /// A point of the Wolfe conditions (Nocedal and Wright's algorithm 3.5
    /// with cubic interpolation), or the lowest point of sufficient
    /// decrease found when the passes run out or the steps stop moving
    /// float32 parameters; `None` where there is none.
    fn run(mut self, step: f64) -> Result<Option<Point>> {
        let start = Trial {
            step: 0.0,
            value: self.from.loss,
            slope: self.slope,
            point: None,
        };
        let mut previous = start.clone();
        let mut step = step;
        loop {
            let Some(current) = self.trial(step)? else {
                return Ok(previous.point);
            };
            if !self.decreases(&current) || (previous.step > 0.0 && current.value >= previous.value) {
                return self.zoom(previous, current);
            }
            if self.risen(&current) {
                return Ok(current.point);
            }
            // Still descending steeply: a longer step, where the slopes
            // extrapolate to zero.
            let secant = current.step
                - current.slope * (current.step - previous.step) / (current.slope - previous.slope);
            let next = match secant.is_finite() && current.slope > previous.slope {
                true => secant.clamp(1.5 * current.step, 10.0 * current.step),
                false => 4.0 * current.step,
            };
            previous = current;
            step = next;
        }
    }

    /// Narrows [low, high] (low of sufficient decrease and the lower value,
    /// its slope pointing to high) to a point of the Wolfe conditions.
    fn zoom(&mut self, mut low: Trial, mut high: Trial) -> Result<Option<Point>> {
        loop {
            let (a, b) = (low.step.min(high.step), low.step.max(high.step));
            let width = b - a;
            let step = match high.value.is_finite() {
                true => cubic_minimizer(&low, &high)
                    .map_or(0.5 * (a + b), |s| s.clamp(a + 0.1 * width, b - 0.1 * width)),
                // Beyond the objective's range: well back towards low.
                false => low.step + 0.25 * (high.step - low.step),
            };
            let Some(trial) = self.trial(step)? else {
                return Ok(low.point);
            };
            if !self.decreases(&trial) || trial.value >= low.value {
                high = trial;
            } else {
                if self.risen(&trial) {
                    return Ok(trial.point);
                }
                if trial.slope * (high.step - low.step) >= 0.0 {
                    high = low;
                }
                low = trial;
            }
        }
    }
}

/// Whether the iterations still make progress that the float32 sums can
/// see. The summed value of the iterates rises only by rounding (each
/// step decreased the objective), so its largest rise measures the
/// rounding; once the gradient stops reaching new lows and the value stops
/// falling by more than that rounding, the gradient has reached the
/// rounding of the float32 parameters and further iterations move in it.
struct Stall {
    slope: f64,
    loss: f64,
    last_loss: f64,
    rounding: f64,
    idle: usize,
}

impl Stall {
    fn new(point: &Point) -> Self {
        Stall {
            slope: point.slope,
            loss: point.loss,
            last_loss: point.loss,
            rounding: 0.0,
            idle: 0,
        }
    }

    /// Takes in the next iterate; true once [`STALL_ITERATIONS`] in a row
    /// made no progress.
    fn stalled(&mut self, point: &Point) -> bool {
        self.rounding = self.rounding.max(point.loss - self.last_loss);
        self.last_loss = point.loss;
        if point.slope < self.slope || point.loss < self.loss - self.rounding {
            self.idle = 0;
        } else {
            self.idle += 1;
        }
        self.slope = self.slope.min(point.slope);
        self.loss = self.loss.min(point.loss);
        self.idle >= STALL_ITERATIONS
    }
}

/// One iteration as the run saw it.
struct Iteration {
    loss: f64,
    /// The gradient's Euclidean norm.
    slope: f64,
    parameters: Vec<f32>,
    seconds: f64,
}

/// Why a run ended.
enum Ending {
    Converged,
    MaxIterations,
    RoundingLimit,
}

/// The Euclidean distance between two parameter vectors.
fn distance(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Minimizes `objective` over `source` on `engine` by L-BFGS with `memory`
/// steps, from `start`, for at most `plan.max_epochs` iterations. The
/// plan's tolerance, where set, is the gradient's: the run stops once the
/// gradient's Euclidean norm is below it.
pub(crate) fn minimize(
    engine: &dyn Engine,
    source: &dyn DataSource,
    held_out: Option<&dyn DataSource>,
    objective: Objective,
    plan: &TrainingPlan,
    memory: usize,
    start: Start,
) -> Result<Outcome> {
    let margins = objective.loss.margins();
    let (parameters, optimizer_state, scheduler, position, mut rules) =
        starting_point(start, plan, source, margins)?;
    let epochs_before = rules.epochs;
    // Every rank evaluates the same points on the sums of all ranks' rows,
    // so their searches stay step for step the same.
    let sums = crate::engine::open_sums(engine, source, objective, plan.reducer.as_ref())?;
    let scaling = Scaling::of_columns(
        source,
        plan.reducer.as_ref(),
        margins,
        f64::from(objective.penalty.l2_strength()),
    )?;
    let mut evaluator = Evaluator {
        sums,
        objective,
        scaling,
        passes: 0,
    };
    let started = Instant::now();
    let mut point = evaluator.at(parameters.clone())?;
    rules.first_loss.get_or_insert(point.loss);
    if !point.loss.is_finite() {
        // Nothing to descend from: one record names the loss, and the
        // caller looks for the value of X that made it.
        rules.epochs += 1;
        let record = EpochRecord {
            epoch: rules.epochs,
            loss: point.loss,
            validation_loss: None,
            learning_rate: 0.0,
            seconds: started.elapsed().as_secs_f64(),
        };
        return Ok(Outcome {
            parameters: parameters.clone(),
            records: vec![record],
            stop_reason: StopReason::Diverged { epoch: rules.epochs },
            best_epoch: None,
            gradient_evaluations: 1,
            work: WorkCounts::epoch(1),
            parameter_path: Vec::new(),
            state: TrainingState {
                parameters,
                optimizer: optimizer_state,
                scheduler,
                order_position: position,
                stop_rules: rules,
            },
        });
    }

    let gradient_tolerance = plan
        .early_stopping
        .map_or(f64::EPSILON.sqrt(), |rule| rule.tolerance);
    let mut curvature = Curvature {
        memory,
        pairs: Default::default(),
    };
    let mut iterations: Vec<Iteration> = Vec::new();
    let mut stall = Stall::new(&point);
    let ending = loop {
        if point.slope < gradient_tolerance {
            break Ending::Converged;
        }
        if iterations.len() as u64 >= plan.max_epochs as u64 {
            break Ending::MaxIterations;
        }
        let mut direction = curvature.direction(&point.gradient);
        let mut slope = dot(&direction, &point.gradient);
        if (slope >= 0.0 || slope.is_nan()) && !curvature.pairs.is_empty() {
            // The pairs' rounding turned the direction uphill: steepest
            // descent, from fresh pairs.
            curvature.pairs.clear();
            direction = curvature.direction(&point.gradient);
            slope = dot(&direction, &point.gradient);
        }
        if slope >= 0.0 || slope.is_nan() {
            break Ending::RoundingLimit;
        }
        // Without pairs, a first step of unit length (as L-BFGS-B takes).
        let step = match curvature.pairs.is_empty() {
            true => 1.0 / norm(&direction),
            false => 1.0,
        };
        let search = LineSearch {
            evaluator: &mut evaluator,
            from: &point,
            direction: &direction,
            slope,
            seen: Vec::new(),
        };
        let Some(next) = search.run(step)? else {
            break Ending::RoundingLimit;
        };
        curvature.push(&point, &next);
        point = next;
        iterations.push(Iteration {
            loss: point.loss,
            slope: point.slope,
            parameters: point.narrow.clone(),
            seconds: started.elapsed().as_secs_f64(),
        });
        if stall.stalled(&point) && point.slope >= gradient_tolerance {
            break Ending::RoundingLimit;
        }
    };
    let passes = evaluator.passes;

    // The held-out loss of each iteration's parameters, where rows are held
    // out.
    let mut held_out_sums = crate::engine::open_held_out(engine, held_out, objective, plan.reducer.as_ref())?;
    let mut records = Vec::with_capacity(iterations.len());
    let mut parameter_path = Vec::new();
    let mut previous = parameters.clone();
    for iteration in &iterations {
        let validation_loss = match &mut held_out_sums {
            Some(sums) => sums.raw_sums(&iteration.parameters)?.mean_loss(),
            None => None,
        };
        rules.epochs += 1;
        let record = EpochRecord {
            epoch: rules.epochs,
            loss: iteration.loss,
            validation_loss,
            learning_rate: distance(&previous, &iteration.parameters),
            seconds: iteration.seconds,
        };
        if let Some(observer) = &plan.on_epoch {
            (observer.0)(&record, plan.max_epochs);
        }
        if plan.track_parameters {
            parameter_path.push(iteration.parameters.clone());
        }
        if rules.best.is_none_or(|(best, _)| iteration.loss < best) {
            rules.best = Some((iteration.loss, rules.epochs));
        }
        records.push(record);
        previous.clone_from(&iteration.parameters);
    }
    let epoch = rules.epochs;
    let diverged = records.iter().any(|r| !r.loss.is_finite());
    let stop_reason = match ending {
        _ if diverged => StopReason::Diverged { epoch },
        Ending::Converged => StopReason::Converged { epoch },
        Ending::MaxIterations => StopReason::MaxEpochs,
        Ending::RoundingLimit => StopReason::RoundingLimit { epoch },
    };
    let last = iterations.last().map_or(&parameters, |i| &i.parameters).clone();
    // Where the line search stalled, the objective's values no longer rank
    // the iterates; their slopes still do.
    let kept = match stop_reason {
        StopReason::RoundingLimit { .. } => iterations
            .iter()
            .min_by(|a, b| a.slope.total_cmp(&b.slope))
            .map_or_else(|| last.clone(), |i| i.parameters.clone()),
        _ => last.clone(),
    };
    debug_assert!(rules.epochs - epochs_before == records.len());
    let epochs = records.len() as u64;
    Ok(Outcome {
        parameters: kept,
        records,
        stop_reason,
        best_epoch: None,
        gradient_evaluations: passes,
        // A pass over the rows is a step here.
        work: WorkCounts {
            epochs,
            steps: passes,
            ..WorkCounts::default()
        },
        parameter_path,
        state: TrainingState {
            parameters: last,
            optimizer: optimizer_state,
            scheduler,
            order_position: position,
            stop_rules: rules,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scaling(margins: usize) -> Scaling {
        Scaling {
            features: 3,
            margins,
            means: vec![5.0, 0.0, -2.0],
            scales: vec![10.0, 0.1, 3.0],
        }
    }

    /// A made-up vector of `len` values.
    fn vector(len: usize, seed: f64) -> Vec<f64> {
        (0..len)
            .map(|i| ((i as f64 + seed) * 1.7).sin() * (1.0 + i as f64))
            .collect()
    }

    #[test]
    fn the_change_of_variables_is_invertible_and_keeps_the_margins() {
        for margins in [1, 3] {
            let scaling = scaling(margins);
            let len = (3 + 1) * margins;
            let model = vector(len, 0.3);
            let solver = scaling.to_solver(&model);
            for (a, b) in scaling.to_model(&solver).iter().zip(&model) {
                assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "{a} against {b}");
            }
            // Every class's margin of a row: x·w + b = Σ (xⱼ − μⱼ)/sⱼ uⱼ + c.
            let x = [7.0, -0.05, 1.0];
            for k in 0..margins {
                let raw: f64 =
                    (0..3).map(|j| x[j] * model[j * margins + k]).sum::<f64>() + model[3 * margins + k];
                let scaled: f64 = (0..3)
                    .map(|j| (x[j] - scaling.means[j]) / scaling.scales[j] * solver[j * margins + k])
                    .sum::<f64>()
                    + solver[3 * margins + k];
                assert!(
                    (raw - scaled).abs() <= 1e-12 * (1.0 + raw.abs()),
                    "{raw} against {scaled}"
                );
            }
        }
    }

    #[test]
    fn the_solvers_gradient_is_the_chain_rule_of_the_models() {
        for margins in [1, 3] {
            let scaling = scaling(margins);
            let len = (3 + 1) * margins;
            // f(w) = g·w is linear: its change over a step of the solver's
            // parameters is the solver's gradient times the step.
            let gradient = vector(len, 1.1);
            let (from, step) = (vector(len, 2.0), vector(len, 3.5));
            let to: Vec<f64> = from.iter().zip(&step).map(|(a, b)| a + b).collect();
            let change = dot(&gradient, &scaling.to_model(&to)) - dot(&gradient, &scaling.to_model(&from));
            let predicted = dot(&scaling.gradient_to_solver(&gradient), &step);
            assert!(
                (change - predicted).abs() <= 1e-10 * (1.0 + change.abs()),
                "{change} against {predicted}"
            );
        }
    }
}
