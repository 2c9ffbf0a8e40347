//! The stop rules: what they remember from epoch to epoch and how they
//! judge each epoch (divergence, convergence of the parameters, early
//! stopping with its cuts of the rate, the epoch limit).

use crate::train::history::StopReason;
use crate::train::plan::{EarlyStopping, TrainingPlan};
use crate::train::solver::Solver;

/// What the stop rules remember from epoch to epoch.
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct StopRules {
    /// Epochs run, across resumes.
    pub(crate) epochs: usize,
    /// The first epoch's loss, the reference of the divergence factor.
    #[cfg_attr(feature = "serde", serde(with = "crate::json_numbers::optional_float64"))]
    pub(crate) first_loss: Option<f64>,
    /// The lowest epoch loss so far and its epoch.
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::json_numbers::optional_loss_and_epoch")
    )]
    pub(crate) best: Option<(f64, usize)>,
    /// The last epochs' losses, as many as the patience window needs.
    #[cfg_attr(feature = "serde", serde(with = "crate::json_numbers::float64s"))]
    pub(crate) recent: Vec<f64>,
    pub(crate) epochs_without_improvement: usize,
    /// Epochs in a row whose parameters moved less than the parameter
    /// tolerance.
    #[cfg_attr(feature = "serde", serde(default))]
    pub(crate) epochs_settled: usize,
    /// The cuts of the learning rate made so far ([`crate::train::plan::RateCuts`]).
    #[cfg_attr(feature = "serde", serde(default))]
    pub(crate) rate_cuts: usize,
    /// The parameters the best loss belongs to.
    #[cfg_attr(feature = "serde", serde(with = "crate::json_numbers::optional_float32s"))]
    pub(crate) best_parameters: Option<Vec<f32>>,
}

/// Why a method ends a run by itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Ending {
    /// Its own convergence test was met (L-BFGS's gradient tolerance).
    Converged,
    /// The float32 sums no longer tell better points from worse
    /// ([`StopReason::RoundingLimit`]).
    RoundingLimit,
}

impl Ending {
    /// The stop reason, after `epoch` epochs (1-based).
    pub(crate) fn reason(self, epoch: usize) -> StopReason {
        match self {
            Ending::Converged => StopReason::Converged { epoch },
            Ending::RoundingLimit => StopReason::RoundingLimit { epoch },
        }
    }
}

/// How an epoch ended, in the stop rules' eyes.
pub(crate) enum Verdict {
    Continue,
    Stop(StopReason),
    /// Early stopping fired: the run keeps its best epoch's parameters.
    StopAtBest(StopReason),
}

impl StopRules {
    /// Judges an epoch by its training `loss` (divergence), the loss the
    /// stop rules `watch` (the held-out loss where there is one, else the
    /// training loss), how far its parameters `moved` (the largest change
    /// of one over the largest magnitude) and the method's own `ending`.
    pub(crate) fn judge(
        &mut self,
        loss: f64,
        watch: f64,
        moved: Moved,
        ending: Option<Ending>,
        plan: &TrainingPlan,
        epochs_this_fit: usize,
    ) -> Verdict {
        self.epochs += 1;
        let epoch = self.epochs;
        let first_loss = *self.first_loss.get_or_insert(loss);
        // Divergence is decided before anything else.
        if !loss.is_finite() || (first_loss > 0.0 && loss > plan.divergence_factor * first_loss) {
            return Verdict::Stop(StopReason::Diverged { epoch });
        }
        // L-BFGS judges its own convergence by its gradient: the rules on
        // the parameters' movement and on the loss are gradient descent's.
        let descent = plan.solver == Solver::GradientDescent;
        if let Some(rule) = plan.parameter_tolerance.filter(|_| descent) {
            self.epochs_settled = match moved.settled(rule.tolerance) {
                true => self.epochs_settled + 1,
                false => 0,
            };
            if self.epochs_settled >= rule.patience {
                return Verdict::Stop(StopReason::Converged { epoch });
            }
        }
        let loss = watch;
        let best_before = self.best.map_or(f64::INFINITY, |(best, _)| best);
        if loss < best_before {
            self.best = Some((loss, epoch));
        }
        if let Some(ending) = ending {
            return Verdict::Stop(ending.reason(epoch));
        }
        if let Some(rule) = plan.early_stopping.filter(|_| descent) {
            self.recent.push(loss);
            // A resumed fit may have kept a longer window than this one's.
            let excess = self.recent.len().saturating_sub(rule.patience + 1);
            self.recent.drain(..excess);
            if loss > best_before - rule.tolerance {
                self.epochs_without_improvement += 1;
            } else {
                self.epochs_without_improvement = 0;
            }
            if self.epochs_without_improvement >= rule.patience {
                let best = best_before.min(loss);
                // A mini-batch's loss that stopped improving, or rose, at
                // this rate: cut the rate and wait the patience again,
                // until the cuts run out.
                let noisy = plan.batch_size.is_some();
                if noisy && self.rate_cuts < plan.rate_cuts.times {
                    self.rate_cuts += 1;
                    self.epochs_without_improvement = 0;
                } else if self.loss_ran_away(best, loss, rule) {
                    return Verdict::StopAtBest(StopReason::Diverged { epoch });
                } else if noisy {
                    return Verdict::StopAtBest(StopReason::StoppedImproving { epoch });
                } else {
                    return Verdict::StopAtBest(StopReason::Converged { epoch });
                }
            }
        }
        if epochs_this_fit >= plan.max_epochs {
            return Verdict::Stop(StopReason::MaxEpochs);
        }
        Verdict::Continue
    }

    /// What the cuts made so far multiply the schedule's learning rate by.
    pub(crate) fn rate_factor(&self, plan: &TrainingPlan) -> f64 {
        match self.rate_cuts {
            0 => 1.0,
            cuts => plan
                .rate_cuts
                .factor
                .powi(i32::try_from(cuts).unwrap_or(i32::MAX)),
        }
    }

    /// Whether a run that stopped improving did so because its loss rose:
    /// every epoch of the patience window rose by more than the tolerance
    /// (over at least two epochs), or the loss ended more than its best
    /// again above its best.
    fn loss_ran_away(&self, best: f64, loss: f64, rule: EarlyStopping) -> bool {
        let rising = rule.patience >= 2
            && self.recent.len() == rule.patience + 1
            && self
                .recent
                .windows(2)
                .all(|pair| pair[1] > pair[0] + rule.tolerance);
        let far_above = loss - best > rule.tolerance.max(best.abs());
        rising || far_above
    }
}

/// The parameters a diverged run keeps: those from the start of the
/// diverging epoch when they are all finite, else those from the start of
/// the epoch before, whose finite loss vouches for them (a step can overflow
/// the parameters before any loss sees it).
pub(crate) fn last_finite(epoch_start: Vec<f32>, previous_start: Vec<f32>) -> Vec<f32> {
    if epoch_start.iter().all(|v| v.is_finite()) {
        epoch_start
    } else {
        previous_start
    }
}

/// How far the parameters moved by the end of an epoch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Moved {
    /// Over the epoch ([`relative_change`] from its start).
    pub(crate) epoch: f64,
    /// Over the last two epochs (0 where the parameters are exactly those
    /// of two epochs before).
    pub(crate) two_epochs: f64,
}

impl Moved {
    /// Whether the parameters have settled under `tolerance`: they moved
    /// less than it over the epoch, or they came back exactly to where
    /// they were two epochs before. The latter is the float32 rounding's
    /// own fixed cycle: near the optimum an update can alternate between
    /// two neighbouring floats for ever, each epoch moving a unit in the
    /// last place, which a tolerance finer than float32's resolution would
    /// never call settled.
    fn settled(self, tolerance: f64) -> bool {
        self.epoch <= tolerance || self.two_epochs == 0.0
    }
}

/// The largest change of one parameter from `before` to `after`, over the
/// largest magnitude of one after (scikit-learn's SAG criterion): 0 when
/// nothing moved, infinite when something moved from all zeros or a
/// parameter is not finite.
pub(crate) fn relative_change(before: &[f32], after: &[f32]) -> f64 {
    if !after.iter().all(|v| v.is_finite()) {
        return f64::INFINITY;
    }
    let change = before
        .iter()
        .zip(after)
        .map(|(a, b)| (f64::from(*b) - f64::from(*a)).abs())
        .fold(0.0, f64::max);
    let magnitude = after.iter().map(|v| f64::from(v.abs())).fold(0.0, f64::max);
    match change {
        0.0 => 0.0,
        _ => change / magnitude,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parameters that alternate exactly between two states have settled
    /// under any tolerance; parameters that creep a unit in the last place
    /// an epoch in one direction (slow progress, not a cycle) have not,
    /// under a tolerance finer than that; coarser tolerances are what they
    /// were.
    #[test]
    fn an_exact_two_epoch_cycle_is_settled_and_slow_progress_is_not() {
        for largest in [1.0f32, 1.2849088, -1.8051287, 3.0e5, 7.5e-4] {
            let up = |ulps: u32| f32::from_bits(largest.to_bits() + ulps);
            let state = |value: f32| [value, 0.25 * largest];
            let cycle = Moved {
                epoch: relative_change(&state(up(1)), &state(largest)),
                two_epochs: relative_change(&state(largest), &state(largest)),
            };
            assert!(cycle.settled(1e-12), "{largest}: {cycle:?}");
            let creeping = Moved {
                epoch: relative_change(&state(up(1)), &state(up(2))),
                two_epochs: relative_change(&state(largest), &state(up(2))),
            };
            assert!(!creeping.settled(1e-12), "{largest}: {creeping:?}");
            assert!(creeping.settled(1e-3) && cycle.settled(1e-3));
        }
    }
}
