//! L-BFGS on the engines' full-batch gradient. Every evaluation of the
//! objective is one pass of [`crate::engine::SumsRun`] over rows that stay
//! where the engine keeps them (uploaded once to the GPU);
//! [`Objective::gradient`] turns the sums into the gradient and the loss,
//! as for gradient descent. The iterations join the same history
//! ([`crate::train::history::EpochRecord`]) and stop reasons.
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

pub(crate) mod memory;

use crate::data::source::DataSource;
use crate::engine::{Engine, SumsRun, WorkCounts};
use crate::error::Result;
use crate::math::objective::Objective;
use crate::train::history::StopReason;
use crate::train::method::{Iterate, Iteration, Method};
use crate::train::plan::TrainingPlan;
use crate::train::solver::GradientTest;
use crate::train::state::TrainingState;
use crate::train::stop_rules::{Ending, StopRules};
use memory::{dot, norm, Curvature, LastEvaluations, LbfgsState, Scaling, Smallest, Stall};

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
    /// Its largest component in absolute value.
    largest: f64,
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
    /// In a warm-started path, the evaluations the model before left (for
    /// this one's first, where it starts at one of their points), and
    /// where this one's are left for the model after.
    last: Option<LastEvaluations>,
    /// Whether no point has been evaluated yet.
    first: bool,
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

    /// The point `narrow`, evaluated by one pass (or, for the first, by
    /// the sums the model before left there, to the bit).
    fn at(&mut self, narrow: Vec<f32>) -> Result<Point> {
        let known = match std::mem::replace(&mut self.first, false) {
            true => self.last.as_ref().and_then(|last| last.at(&narrow)),
            false => None,
        };
        let sums = match known {
            Some(sums) => sums,
            None => {
                let sums = self.sums.raw_sums(&narrow)?;
                self.passes += 1;
                if let Some(last) = &self.last {
                    last.leave(&narrow, &sums);
                }
                sums
            }
        };
        let model: Vec<f64> = narrow.iter().map(|&p| f64::from(p)).collect();
        let mut slope = vec![0.0; model.len()];
        let loss = self.objective.gradient(&sums, &model, &mut slope);
        Ok(Point {
            solver: self.scaling.to_solver(&model),
            narrow,
            loss,
            gradient: self.scaling.gradient_to_solver(&slope),
            largest: slope.iter().fold(0.0f64, |m, g| m.max(g.abs())),
            slope: norm(&slope),
        })
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

/// The step and point of an evaluated trial; `None` for the start.
fn accepted(trial: Trial) -> Option<(f64, Point)> {
    trial.point.map(|point| (trial.step, point))
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

    /// A step and point of the Wolfe conditions (Nocedal and Wright's
    /// algorithm 3.5 with cubic interpolation), or the lowest point of sufficient
    /// decrease found when the passes run out or the steps stop moving
    /// float32 parameters; `None` where there is none.
    fn run(mut self, step: f64) -> Result<Option<(f64, Point)>> {
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
                return Ok(accepted(previous));
            };
            if !self.decreases(&current) || (previous.step > 0.0 && current.value >= previous.value) {
                return self.zoom(previous, current);
            }
            if self.risen(&current) {
                return Ok(accepted(current));
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
    fn zoom(&mut self, mut low: Trial, mut high: Trial) -> Result<Option<(f64, Point)>> {
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
                return Ok(accepted(low));
            };
            if !self.decreases(&trial) || trial.value >= low.value {
                high = trial;
            } else {
                if self.risen(&trial) {
                    return Ok(accepted(trial));
                }
                if trial.slope * (high.step - low.step) >= 0.0 {
                    high = low;
                }
                low = trial;
            }
        }
    }
}

/// An L-BFGS run under the driver: each iteration is one line search
/// along the curvature pairs' direction.
pub(crate) struct Lbfgs<'s> {
    evaluator: Evaluator<'s>,
    /// The iterate the run stands at, evaluated.
    point: Point,
    curvature: Curvature,
    stall: Stall,
    smallest: Option<Smallest>,
    /// The run converges once the gradient's Euclidean norm (or, by the
    /// `gradient_test`, its largest component) is below this.
    gradient_tolerance: f64,
    gradient_test: GradientTest,
    /// The evaluator's passes already handed to the driver.
    passes_counted: u64,
    /// The start's optimizer state, schedule and order position, carried
    /// on unchanged: L-BFGS takes none of them.
    carried: TrainingState,
}

impl<'s> Lbfgs<'s> {
    /// Opens the run over `source` on `engine` from `start`, keeping the
    /// last `memory` steps; the plan's tolerance, where set, is the
    /// gradient's. A start that an L-BFGS run saved continues it exactly
    /// where the rows are the same: its change of variables, curvature
    /// pairs and test of progress (its iterate evaluated again, one pass
    /// more than the uninterrupted run made). On other rows (a fit
    /// continued on new data) the saved iterate's loss differs from the
    /// one saved, and the run starts afresh from its parameters: the pairs,
    /// the test of progress and the smallest gradient were the old rows'.
    pub(crate) fn open(
        engine: &'s dyn Engine,
        source: &'s dyn DataSource,
        objective: Objective,
        plan: &TrainingPlan,
        memory: usize,
        start: &TrainingState,
    ) -> Result<Self> {
        let margins = objective.loss.margins();
        // Every rank evaluates the same points on the sums of all ranks'
        // rows, so their searches stay step for step the same.
        let sums = crate::engine::open_sums(engine, source, objective, plan.reducer.as_ref())?;
        let saved = start
            .lbfgs
            .clone()
            .map(|saved| saved.checked(source.features(), margins, start.parameters.len()))
            .transpose()?;
        let measured = || {
            Scaling::of_columns(
                source,
                plan.reducer.as_ref(),
                plan.column_sums.as_ref(),
                margins,
                f64::from(objective.penalty.l2_strength()),
            )
        };
        let scaling = match &saved {
            Some(saved) => saved.scaling.clone(),
            None => measured()?,
        };
        let mut evaluator = Evaluator {
            sums,
            objective,
            scaling,
            passes: 0,
            last: plan.last_evaluations.clone(),
            first: true,
        };
        let mut point = evaluator.at(start.parameters.clone())?;
        // The saved state is of these rows only if the iterate's loss is
        // the one it saved, to the bit.
        let saved = saved.filter(|saved| saved.stall.last_loss().to_bits() == point.loss.to_bits());
        if saved.is_none() && start.lbfgs.is_some() {
            evaluator.scaling = measured()?;
            point = evaluator.at(start.parameters.clone())?;
        }
        let (curvature, stall, smallest) = match saved {
            Some(saved) => {
                let mut curvature = saved.curvature;
                // A resumed run may keep fewer steps than the one it
                // continues: the newest.
                while curvature.pairs.len() > memory {
                    curvature.pairs.pop_front();
                }
                curvature.memory = memory;
                (curvature, saved.stall, saved.smallest)
            }
            None => (Curvature::new(memory), Stall::new(point.loss, point.slope), None),
        };
        Ok(Lbfgs {
            evaluator,
            point,
            curvature,
            stall,
            smallest,
            gradient_tolerance: plan
                .early_stopping
                .map_or(f64::EPSILON.sqrt(), |rule| rule.tolerance),
            gradient_test: plan.gradient_test,
            passes_counted: 0,
            carried: start.clone(),
        })
    }

    /// Whether `point`'s gradient meets the tolerance.
    fn converged(&self, point: &Point) -> bool {
        let measured = match self.gradient_test {
            GradientTest::Norm => point.slope,
            GradientTest::Largest => point.largest,
        };
        measured < self.gradient_tolerance
    }

    /// An iteration that reached nothing, for `ending`.
    fn ended(&mut self, ending: Ending) -> Iteration {
        let passes = self.new_passes();
        Iteration {
            reached: None,
            ending: Some(ending),
            gradient_evaluations: passes,
            work: WorkCounts {
                steps: passes,
                ..WorkCounts::default()
            },
        }
    }

    /// The passes made since the last call.
    fn new_passes(&mut self) -> u64 {
        let passes = self.evaluator.passes - self.passes_counted;
        self.passes_counted = self.evaluator.passes;
        passes
    }
}

impl Method for Lbfgs<'_> {
    fn iterate(&mut self, _rate_factor: f64) -> Result<Iteration> {
        if !self.point.loss.is_finite() {
            // Nothing to descend from: one record names the loss, and the
            // caller looks for the value of X that made it.
            let passes = self.new_passes();
            return Ok(Iteration {
                reached: Some(Iterate {
                    parameters: self.point.narrow.clone(),
                    loss: self.point.loss,
                    loss_at_start: false,
                    learning_rate: 0.0,
                }),
                ending: None,
                gradient_evaluations: passes,
                work: WorkCounts::epoch(passes as usize),
            });
        }
        if self.converged(&self.point) {
            return Ok(self.ended(Ending::Converged));
        }
        let gradient = &self.point.gradient;
        let mut direction = self.curvature.direction(gradient);
        let mut slope = dot(&direction, gradient);
        if (slope >= 0.0 || slope.is_nan()) && !self.curvature.pairs.is_empty() {
            // The pairs' rounding turned the direction uphill: steepest
            // descent, from fresh pairs.
            self.curvature.pairs.clear();
            direction = self.curvature.direction(gradient);
            slope = dot(&direction, gradient);
        }
        if slope >= 0.0 || slope.is_nan() {
            return Ok(self.ended(Ending::RoundingLimit));
        }
        // Without pairs, a first step of unit length (as L-BFGS-B takes).
        let step = match self.curvature.pairs.is_empty() {
            true => 1.0 / norm(&direction),
            false => 1.0,
        };
        let search = LineSearch {
            evaluator: &mut self.evaluator,
            from: &self.point,
            direction: &direction,
            slope,
            seen: Vec::new(),
        };
        let Some((step, next)) = search.run(step)? else {
            return Ok(self.ended(Ending::RoundingLimit));
        };
        self.curvature.push(
            (&self.point.solver, &self.point.gradient),
            (&next.solver, &next.gradient),
        );
        self.point = next;
        let point = &self.point;
        if self.smallest.as_ref().is_none_or(|s| point.slope < s.slope) {
            self.smallest = Some(Smallest {
                slope: point.slope,
                parameters: point.narrow.clone(),
            });
        }
        let stalled = self.stall.stalled(point.loss, point.slope);
        let ending = match self.converged(point) {
            true => Some(Ending::Converged),
            false => stalled.then_some(Ending::RoundingLimit),
        };
        let reached = Iterate {
            parameters: point.narrow.clone(),
            loss: point.loss,
            loss_at_start: false,
            learning_rate: step,
        };
        let passes = self.new_passes();
        Ok(Iteration {
            reached: Some(reached),
            ending,
            gradient_evaluations: passes,
            // A pass over the rows is a step here.
            work: WorkCounts {
                epochs: 1,
                steps: passes,
                ..WorkCounts::default()
            },
        })
    }

    /// The curvature pairs and the rest are kept where the run may go on
    /// as it would have: a checkpoint, or a run cut by its iteration
    /// limit. A run that stopped by itself (converged, at the rounding
    /// limit, diverged) hands on its parameters alone: a fit resumed from
    /// it starts L-BFGS afresh there, and its saved model does not carry
    /// 2 × memory vectors of the parameters' length.
    fn state(
        &mut self,
        parameters: Vec<f32>,
        stop_rules: StopRules,
        reason: StopReason,
    ) -> Result<TrainingState> {
        let going_on = matches!(
            reason,
            StopReason::MaxEpochs | StopReason::Checkpoint { .. } | StopReason::Interrupted { .. }
        );
        Ok(TrainingState {
            parameters,
            stop_rules,
            lbfgs: going_on.then(|| LbfgsState {
                scaling: self.evaluator.scaling.clone(),
                curvature: self.curvature.clone(),
                stall: self.stall.clone(),
                smallest: self.smallest.clone(),
            }),
            ..self.carried.clone()
        })
    }

    /// Where the line search stalled, the objective's values no longer
    /// rank the iterates; their slopes still do.
    fn kept(&self, reason: StopReason, chose: Vec<f32>, _state: &TrainingState) -> Vec<f32> {
        match (reason, self.smallest.as_ref()) {
            (StopReason::RoundingLimit { .. }, Some(smallest)) => smallest.parameters.clone(),
            _ => chose,
        }
    }
}
