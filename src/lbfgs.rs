//! L-BFGS on the engines' full-batch gradient: argmin's solver and line
//! search drive, the engine sums. Every evaluation of the objective is one
//! pass of [`crate::engine::SumsRun`] over rows that stay where the engine
//! keeps them (uploaded once to the GPU); [`Objective::gradient`] turns
//! the sums into the gradient and the loss, as for gradient descent. The
//! iterations join the same history ([`EpochRecord`]) and stop reasons.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use argmin::core::observers::{Observe, ObserverMode};
use argmin::core::{CostFunction, Executor, IterState, State, TerminationReason, KV};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;

use crate::driver::{starting_point, Outcome, Start, TrainingPlan, TrainingState};
use crate::engine::{Engine, SumsRun};
use crate::error::{Error, Result};
use crate::history::{EpochRecord, StopReason};
use crate::objective::Objective;
use crate::source::DataSource;

/// The most passes one line search may take; MINPACK's Moré–Thuente
/// stops at 20 evaluations as well.
const LINE_SEARCH_PASSES: u64 = 20;

/// The first stage ends once the gradient's norm has fallen by this factor
/// from the start (or below the tolerance asked for, where that is
/// larger): about where the objective's float32 rounding starts to hide
/// its progress.
const FIRST_STAGE_REDUCTION: f64 = 1e-5;

/// The objective and its gradient at one point, from one pass.
#[derive(Clone)]
struct Evaluation {
    parameters: Vec<f64>,
    loss: f64,
    gradient: Vec<f64>,
}

/// The engine's passes over the rows, shared by the stages of a run.
struct Evaluator<'s> {
    sums: RefCell<Box<dyn SumsRun + 's>>,
    objective: Objective,
    /// argmin asks for the cost and the gradient of a point separately:
    /// the last point's pair is kept.
    last: RefCell<Option<Evaluation>>,
    /// The passes over the rows so far.
    passes: Cell<u64>,
    /// The engine's error where one failed, kept whole (argmin's errors are
    /// text).
    failure: RefCell<Option<Error>>,
    /// Whether argmin is given the objective's values as the engine sums
    /// them, or integrated from the gradients ([`Evaluator::integrated`]).
    integrate: Cell<bool>,
    /// What the evaluations and the iterations share with the recorder.
    track: Arc<Mutex<Track>>,
}

/// The iterations so far, and the last iterate with its value and gradient.
#[derive(Default)]
struct Track {
    iterations: Vec<Iteration>,
    anchor: Option<Evaluation>,
    /// The summed loss at the last point evaluated.
    last_summed: Option<(Vec<f64>, f64)>,
    /// Passes since the last iterate: the line search's.
    passes_since_iterate: u64,
}

impl Evaluator<'_> {
    /// The Euclidean norm of the last evaluation's gradient.
    fn slope(&self) -> f64 {
        self.last.borrow().as_ref().map_or(f64::INFINITY, |e| {
            e.gradient.iter().map(|v| v * v).sum::<f64>().sqrt()
        })
    }

    /// The loss at `parameters`, and its gradient into `gradient` when
    /// given.
    fn evaluate(
        &self,
        parameters: &[f64],
        gradient: Option<&mut Vec<f64>>,
    ) -> std::result::Result<f64, argmin::core::Error> {
        let cached = self
            .last
            .borrow()
            .as_ref()
            .is_some_and(|e| e.parameters == parameters);
        if !cached {
            let mut track = self.track.lock().expect("one thread");
            track.passes_since_iterate += 1;
            if track.passes_since_iterate > LINE_SEARCH_PASSES {
                // argmin's Moré–Thuente has no limit of its own: an error
                // ends the line search, and L-BFGS with it.
                return Err(argmin::core::Error::msg("the line search took too many passes"));
            }
            drop(track);
            let narrow: Vec<f32> = parameters.iter().map(|&p| p as f32).collect();
            let sums = self.sums.borrow_mut().raw_sums(&narrow);
            let sums = match sums {
                Ok(sums) => sums,
                Err(error) => {
                    let text = error.to_string();
                    *self.failure.borrow_mut() = Some(error);
                    return Err(argmin::core::Error::msg(text));
                }
            };
            self.passes.set(self.passes.get() + 1);
            let mut slope = vec![0.0; parameters.len()];
            let loss = self.objective.gradient(&sums, parameters, &mut slope);
            *self.last.borrow_mut() = Some(Evaluation {
                parameters: parameters.to_vec(),
                loss,
                gradient: slope,
            });
        }
        let last = self.last.borrow();
        let last = last.as_ref().expect("evaluated above");
        if let Some(gradient) = gradient {
            gradient.clone_from(&last.gradient);
        }
        let mut track = self.track.lock().expect("one thread");
        track.last_summed = Some((last.parameters.clone(), last.loss));
        match (self.integrate.get(), &track.anchor) {
            (true, Some(anchor)) => Ok(integrated(anchor, last)),
            _ => Ok(last.loss),
        }
    }
}

/// The objective at `point` as the value at `anchor` plus the integral of
/// the gradient along the segment between them, by the trapezoid rule:
/// f(a) + ½ (g(a) + g(p))·(p − a). It is exact for a quadratic, and so
/// near an optimum; unlike the summed value, whose last digits are the
/// rounding of float32 margins, its differences are as precise as the
/// gradients, which Moré–Thuente's test of sufficient decrease needs there
/// (Hager and Zhang's approximate Wolfe condition rests on the same rule).
fn integrated(anchor: &Evaluation, point: &Evaluation) -> f64 {
    let slope_sum: f64 = anchor
        .gradient
        .iter()
        .zip(&point.gradient)
        .zip(anchor.parameters.iter().zip(&point.parameters))
        .map(|((ga, gp), (a, p))| 0.5 * (ga + gp) * (p - a))
        .sum();
    anchor.loss + slope_sum
}

/// The objective as argmin sees it (argmin keeps it, and drops it where a
/// line search fails; the evaluator outlives it).
struct EngineObjective<'s>(Rc<Evaluator<'s>>);

impl CostFunction for EngineObjective<'_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, parameters: &Vec<f64>) -> std::result::Result<f64, argmin::core::Error> {
        self.0.evaluate(parameters, None)
    }
}

impl argmin::core::Gradient for EngineObjective<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, parameters: &Vec<f64>) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        let mut gradient = Vec::with_capacity(parameters.len());
        self.0.evaluate(parameters, Some(&mut gradient))?;
        Ok(gradient)
    }
}

type LbfgsState = IterState<Vec<f64>, Vec<f64>, (), (), (), f64>;

/// One iteration as the observer saw it.
struct Iteration {
    loss: f64,
    /// The gradient's Euclidean norm.
    slope: f64,
    parameters: Vec<f64>,
    seconds: f64,
}

/// Keeps every iteration's loss, parameters and time, and makes each
/// iterate the anchor of the next line search's integrated values.
struct Recorder {
    track: Arc<Mutex<Track>>,
    started: Instant,
}

impl Observe<LbfgsState> for Recorder {
    fn observe_iter(&mut self, state: &LbfgsState, _kv: &KV) -> std::result::Result<(), argmin::core::Error> {
        let (Some(parameters), Some(gradient)) = (state.get_param(), state.get_gradient()) else {
            // A failed line search leaves no iterate.
            return Ok(());
        };
        let mut track = self.track.lock().expect("one thread");
        track.passes_since_iterate = 0;
        // The history shows the summed loss; argmin's may be integrated.
        let loss = match &track.last_summed {
            Some((at, loss)) if at == parameters => *loss,
            _ => state.get_cost(),
        };
        track.anchor = Some(Evaluation {
            parameters: parameters.clone(),
            loss: state.get_cost(),
            gradient: gradient.clone(),
        });
        track.iterations.push(Iteration {
            loss,
            slope: gradient.iter().map(|v| v * v).sum::<f64>().sqrt(),
            parameters: parameters.clone(),
            seconds: self.started.elapsed().as_secs_f64(),
        });
        Ok(())
    }
}

/// Runs L-BFGS with `memory` steps and Moré–Thuente's line search from
/// `from` for at most `max_iterations`, until the gradient's norm is below
/// `gradient_tolerance`; returns why it ended.
fn stage(
    evaluator: &Rc<Evaluator<'_>>,
    memory: usize,
    gradient_tolerance: f64,
    from: Vec<f64>,
    max_iterations: u64,
    recorder: Recorder,
) -> Result<TerminationReason> {
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), memory)
        .with_tolerance_grad(gradient_tolerance)
        .and_then(|s| s.with_tolerance_cost(0.0))
        .map_err(|e| Error::Solver {
            reason: e.to_string(),
        })?;
    if let Some(error) = evaluator.failure.borrow_mut().take() {
        return Err(error);
    }
    let result = Executor::new(EngineObjective(Rc::clone(evaluator)), solver)
        .configure(|state| state.param(from).max_iters(max_iterations))
        .add_observer(recorder, ObserverMode::Always)
        .timer(false)
        .run();
    if let Some(error) = evaluator.failure.borrow_mut().take() {
        return Err(error);
    }
    let state = result
        .map_err(|error| Error::Solver {
            reason: error.to_string(),
        })?
        .state;
    state
        .get_termination_reason()
        .cloned()
        .ok_or_else(|| Error::Solver {
            reason: "L-BFGS ended without a reason".into(),
        })
}

/// The Euclidean distance between two parameter vectors.
fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
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
    let (parameters, optimizer_state, scheduler, position, mut rules) =
        starting_point(start, plan, source, objective.loss.margins())?;
    let epochs_before = rules.epochs;
    let evaluator = Rc::new(Evaluator {
        // Every rank evaluates the same points on the sums of all ranks'
        // rows, so their searches stay step for step the same.
        sums: RefCell::new(crate::engine::open_sums(
            engine,
            source,
            objective,
            plan.reducer.as_ref(),
        )?),
        objective,
        last: RefCell::new(None),
        passes: Cell::new(0),
        failure: RefCell::new(None),
        integrate: Cell::new(false),
        track: Arc::default(),
    });
    let initial: Vec<f64> = parameters.iter().map(|&p| f64::from(p)).collect();
    let started = Instant::now();
    let first_loss = evaluator.evaluate(&initial, None);
    if let Some(error) = evaluator.failure.borrow_mut().take() {
        return Err(error);
    }
    let first_loss = first_loss.map_err(|e| Error::Solver {
        reason: e.to_string(),
    })?;
    rules.first_loss.get_or_insert(first_loss);
    if !first_loss.is_finite() {
        // Nothing to descend from: one record names the loss, and the
        // caller looks for the value of X that made it.
        rules.epochs += 1;
        let record = EpochRecord {
            epoch: rules.epochs,
            loss: first_loss,
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
    let iterations_run = || evaluator.track.lock().expect("one thread").iterations.len() as u64;
    let last_slope = || {
        let track = evaluator.track.lock().expect("one thread");
        track.iterations.last().map_or(evaluator.slope(), |i| i.slope)
    };
    let recorder = || Recorder {
        track: Arc::clone(&evaluator.track),
        started,
    };
    // First on the summed values, until the gradient has fallen by
    // FIRST_STAGE_REDUCTION or the line search stalls: near the optimum
    // Moré–Thuente's test of sufficient decrease compares values whose
    // last digits are the rounding of float32 margins. Then on values
    // integrated from the gradients, which stay precise there.
    let first = stage(
        &evaluator,
        memory,
        gradient_tolerance.max(FIRST_STAGE_REDUCTION * evaluator.slope()),
        initial.clone(),
        plan.max_epochs as u64,
        recorder(),
    )?;
    let termination = match first {
        TerminationReason::MaxItersReached => first,
        _ if last_slope() < gradient_tolerance => first,
        _ => {
            let from = {
                let track = evaluator.track.lock().expect("one thread");
                track
                    .iterations
                    .last()
                    .map_or_else(|| initial.clone(), |i| i.parameters.clone())
            };
            // The anchor of the first integrated value: the start, summed.
            evaluator.track.lock().expect("one thread").passes_since_iterate = 0;
            evaluator.integrate.set(false);
            evaluator.evaluate(&from, None).map_err(|e| Error::Solver {
                reason: e.to_string(),
            })?;
            let anchor = evaluator.last.borrow().clone();
            evaluator.track.lock().expect("one thread").anchor = anchor;
            evaluator.integrate.set(true);
            // As long as the fit's iterations last: an ill-conditioned
            // objective (raw pixels, say) may need as many again as the
            // first stage took; the line search ends the stage once the
            // gradient is down to its rounding.
            stage(
                &evaluator,
                memory,
                gradient_tolerance,
                from,
                plan.max_epochs as u64 - iterations_run(),
                recorder(),
            )?
        }
    };
    let passes = evaluator.passes.get();
    let iterations = std::mem::take(&mut evaluator.track.lock().expect("one thread").iterations);

    // The held-out loss of each iteration's parameters, where rows are held
    // out.
    let mut held_out_sums = crate::engine::open_held_out(engine, held_out, objective, plan.reducer.as_ref())?;
    let narrow = |parameters: &[f64]| parameters.iter().map(|&p| p as f32).collect::<Vec<f32>>();
    let mut records = Vec::with_capacity(iterations.len());
    let mut parameter_path = Vec::new();
    let mut previous = initial.clone();
    for iteration in &iterations {
        let validation_loss = match &mut held_out_sums {
            Some(sums) => sums.raw_sums(&narrow(&iteration.parameters))?.mean_loss(),
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
            parameter_path.push(narrow(&iteration.parameters));
        }
        if rules.best.is_none_or(|(best, _)| iteration.loss < best) {
            rules.best = Some((iteration.loss, rules.epochs));
        }
        records.push(record);
        previous.clone_from(&iteration.parameters);
    }
    let epoch = rules.epochs;
    let diverged = records.iter().any(|r| !r.loss.is_finite());
    let stop_reason = match termination {
        _ if diverged => StopReason::Diverged { epoch },
        TerminationReason::SolverConverged => StopReason::Converged { epoch },
        TerminationReason::MaxItersReached => StopReason::MaxEpochs,
        TerminationReason::SolverExit(_) => StopReason::RoundingLimit { epoch },
        other => {
            return Err(Error::Solver {
                reason: format!("L-BFGS stopped unexpectedly: {other:?}"),
            })
        }
    };
    let last = narrow(iterations.last().map_or(&initial, |i| &i.parameters));
    // Where the line search stalled, the objective's values no longer rank
    // the iterates; their slopes still do.
    let kept = match stop_reason {
        StopReason::RoundingLimit { .. } => iterations
            .iter()
            .min_by(|a, b| a.slope.total_cmp(&b.slope))
            .map_or_else(|| last.clone(), |i| narrow(&i.parameters)),
        _ => last.clone(),
    };
    debug_assert!(rules.epochs - epochs_before == records.len());
    Ok(Outcome {
        parameters: kept,
        records,
        stop_reason,
        best_epoch: None,
        gradient_evaluations: passes,
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
