//! Learning-rate schedules, stepped once per epoch.
//!
//! Epochs are counted from 0 here; the rate of epoch `e` is
//!
//! | schedule | rate | follows |
//! |---|---|---|
//! | `constant()` | η₀ | |
//! | `step_decay(every, factor)` | η₀ · factor^⌊e / every⌋ | PyTorch `StepLR` |
//! | `exponential(gamma)` | η₀ · gammaᵉ | PyTorch `ExponentialLR` |
//! | `inverse_scaling(power)` | η₀ / (e + 1)^power | scikit-learn `invscaling` |
//! | `cosine(min_lr, epochs)` | min + (η₀ − min)(1 + cos(π e / epochs)) / 2 | PyTorch `CosineAnnealingLR` |
//! | `reduce_on_plateau(factor, patience)` | multiplied by `factor` after more than `patience` epochs without a relative improvement of 1e-4 | PyTorch `ReduceLROnPlateau` |

use crate::error::{Error, Result};
use crate::train::error::TrainError;

/// How the learning rate changes from epoch to epoch.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "kind", rename_all = "snake_case"))]
pub enum Schedule {
    /// The optimizer's learning rate throughout.
    #[default]
    Constant,
    /// Multiply by `factor` every `every` epochs.
    StepDecay {
        /// Epochs between decays.
        every: usize,
        /// Factor of each decay, in (0, 1].
        factor: f64,
    },
    /// Multiply by `gamma` every epoch.
    Exponential {
        /// Factor per epoch, in (0, 1].
        gamma: f64,
    },
    /// η₀ / tᵖᵒʷᵉʳ with t the 1-based epoch.
    InverseScaling {
        /// The exponent, at least 0.
        power: f64,
    },
    /// Half a cosine from η₀ down to `min_lr` over `epochs` epochs.
    Cosine {
        /// The rate reached at the end.
        min_lr: f64,
        /// The half period in epochs.
        epochs: usize,
    },
    /// Multiply by `factor` when the epoch loss has not improved for more
    /// than `patience` epochs.
    ReduceOnPlateau {
        /// Factor of each reduction, in (0, 1).
        factor: f64,
        /// Epochs without improvement that are tolerated.
        patience: usize,
    },
}

/// Relative improvement that counts for `ReduceOnPlateau` (PyTorch's
/// `threshold` in its default `rel` mode).
const PLATEAU_THRESHOLD: f64 = 1e-4;
/// Reductions smaller than this are skipped (PyTorch's `eps`).
const PLATEAU_EPS: f64 = 1e-8;

impl Schedule {
    /// The optimizer's rate, unchanged.
    pub fn constant() -> Self {
        Schedule::Constant
    }
    /// PyTorch's `StepLR(step_size = every, gamma = factor)`.
    pub fn step_decay(every: usize, factor: f64) -> Self {
        Schedule::StepDecay { every, factor }
    }
    /// PyTorch's `ExponentialLR(gamma)`.
    pub fn exponential(gamma: f64) -> Self {
        Schedule::Exponential { gamma }
    }
    /// scikit-learn's `invscaling` with `power_t = power`, counted in epochs.
    pub fn inverse_scaling(power: f64) -> Self {
        Schedule::InverseScaling { power }
    }
    /// PyTorch's `CosineAnnealingLR(T_max = epochs, eta_min = min_lr)`.
    pub fn cosine(min_lr: f64, epochs: usize) -> Self {
        Schedule::Cosine { min_lr, epochs }
    }
    /// PyTorch's `ReduceLROnPlateau(factor, patience)` on the epoch loss.
    pub fn reduce_on_plateau(factor: f64, patience: usize) -> Self {
        Schedule::ReduceOnPlateau { factor, patience }
    }

    /// Checks every parameter.
    pub fn validate(&self) -> Result<()> {
        let invalid = |name, value: f64, expected| {
            Err(Error::Train(TrainError::InvalidScheduleParameter {
                name,
                value,
                expected,
            }))
        };
        match *self {
            Schedule::Constant => Ok(()),
            Schedule::StepDecay { every: 0, .. } => invalid("every", 0.0, "[1, ∞)"),
            Schedule::StepDecay { factor, .. } if !(factor > 0.0 && factor <= 1.0) => {
                invalid("factor", factor, "(0, 1]")
            }
            Schedule::StepDecay { .. } => Ok(()),
            Schedule::Exponential { gamma } if !(gamma > 0.0 && gamma <= 1.0) => {
                invalid("gamma", gamma, "(0, 1]")
            }
            Schedule::Exponential { .. } => Ok(()),
            Schedule::InverseScaling { power } if !(power.is_finite() && power >= 0.0) => {
                invalid("power", power, "[0, ∞)")
            }
            Schedule::InverseScaling { .. } => Ok(()),
            Schedule::Cosine { min_lr, .. } if !(min_lr.is_finite() && min_lr >= 0.0) => {
                invalid("min_lr", min_lr, "[0, ∞)")
            }
            Schedule::Cosine { epochs: 0, .. } => invalid("epochs", 0.0, "[1, ∞)"),
            Schedule::Cosine { .. } => Ok(()),
            Schedule::ReduceOnPlateau { factor, .. } if !(factor > 0.0 && factor < 1.0) => {
                invalid("factor", factor, "(0, 1)")
            }
            Schedule::ReduceOnPlateau { .. } => Ok(()),
        }
    }
}

impl std::fmt::Display for Schedule {
    /// As [`Schedule::from_str`](std::str::FromStr) reads it, e.g.
    /// `step:10:0.5`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Schedule::Constant => write!(f, "constant"),
            Schedule::StepDecay { every, factor } => write!(f, "step:{every}:{factor}"),
            Schedule::Exponential { gamma } => write!(f, "exp:{gamma}"),
            Schedule::InverseScaling { power } => write!(f, "invscaling:{power}"),
            Schedule::Cosine { min_lr, epochs } => write!(f, "cosine:{min_lr}:{epochs}"),
            Schedule::ReduceOnPlateau { factor, patience } => write!(f, "plateau:{factor}:{patience}"),
        }
    }
}

impl std::str::FromStr for Schedule {
    type Err = Error;

    /// `constant`, `step:EVERY:FACTOR`, `exp:GAMMA`, `invscaling:POWER`,
    /// `cosine:MIN_LR:EPOCHS` or `plateau:FACTOR:PATIENCE`; the values are
    /// checked by [`Schedule::validate`].
    fn from_str(text: &str) -> Result<Self> {
        let unknown = || {
            Error::UnknownName {
            what: "schedule",
            name: text.to_string(),
            expected: "constant, step:EVERY:FACTOR, exp:GAMMA, invscaling:POWER, cosine:MIN_LR:EPOCHS or plateau:FACTOR:PATIENCE",
        }
        };
        let parts: Vec<&str> = text.trim().split(':').collect();
        let number = |i: usize| parts[i].parse::<f64>().map_err(|_| unknown());
        let whole = |i: usize| parts[i].parse::<usize>().map_err(|_| unknown());
        let schedule = match (parts[0], parts.len()) {
            ("constant", 1) => Schedule::constant(),
            ("step", 3) => Schedule::step_decay(whole(1)?, number(2)?),
            ("exp", 2) => Schedule::exponential(number(1)?),
            ("invscaling", 2) => Schedule::inverse_scaling(number(1)?),
            ("cosine", 3) => Schedule::cosine(number(1)?, whole(2)?),
            ("plateau", 3) => Schedule::reduce_on_plateau(number(1)?, whole(2)?),
            _ => return Err(unknown()),
        };
        schedule.validate()?;
        Ok(schedule)
    }
}

/// A schedule in motion: the rate of the current epoch and what
/// `ReduceOnPlateau` remembers.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct Scheduler {
    schedule: Schedule,
    #[cfg_attr(feature = "serde", serde(with = "crate::json_numbers::float64"))]
    base: f64,
    epoch: usize,
    #[cfg_attr(feature = "serde", serde(with = "crate::json_numbers::float64"))]
    rate: f64,
    #[cfg_attr(feature = "serde", serde(with = "crate::json_numbers::float64"))]
    best_loss: f64,
    epochs_without_improvement: usize,
}

impl Scheduler {
    pub(crate) fn new(schedule: Schedule, base_learning_rate: f32) -> Self {
        let base = f64::from(base_learning_rate);
        Scheduler {
            schedule,
            base,
            epoch: 0,
            rate: base,
            best_loss: f64::INFINITY,
            epochs_without_improvement: 0,
        }
    }

    /// This scheduler's position (epoch, rate, plateau memory) under
    /// `schedule` from `base_learning_rate`: how a resumed fit continues.
    pub(crate) fn continued(self, schedule: Schedule, base_learning_rate: f32) -> Self {
        Scheduler {
            schedule,
            base: f64::from(base_learning_rate),
            ..self
        }
    }

    /// The rate of the current epoch.
    pub(crate) fn learning_rate(&self) -> f64 {
        self.rate
    }

    /// Moves to the next epoch, given the loss of the one that ended.
    pub(crate) fn end_epoch(&mut self, epoch_loss: f64) {
        self.epoch += 1;
        let e = self.epoch as f64;
        self.rate = match self.schedule {
            Schedule::Constant => self.base,
            Schedule::StepDecay { every, factor } => {
                self.base * factor.powi((self.epoch / every).min(i32::MAX as usize) as i32)
            }
            Schedule::Exponential { gamma } => self.base * gamma.powf(e),
            Schedule::InverseScaling { power } => self.base / (e + 1.0).powf(power),
            Schedule::Cosine { min_lr, epochs } => {
                let phase = std::f64::consts::PI * e / epochs as f64;
                min_lr + (self.base - min_lr) * (1.0 + phase.cos()) / 2.0
            }
            Schedule::ReduceOnPlateau { factor, patience } => {
                if epoch_loss < self.best_loss * (1.0 - PLATEAU_THRESHOLD) {
                    self.best_loss = epoch_loss;
                    self.epochs_without_improvement = 0;
                } else {
                    self.epochs_without_improvement += 1;
                }
                if self.epochs_without_improvement > patience {
                    self.epochs_without_improvement = 0;
                    let reduced = self.rate * factor;
                    if self.rate - reduced > PLATEAU_EPS {
                        reduced
                    } else {
                        self.rate
                    }
                } else {
                    self.rate
                }
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates(schedule: Schedule, losses: &[f64]) -> Vec<f64> {
        let mut scheduler = Scheduler::new(schedule, 0.5);
        let mut out = vec![scheduler.learning_rate()];
        for &loss in losses {
            scheduler.end_epoch(loss);
            out.push(scheduler.learning_rate());
        }
        out
    }

    fn assert_close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-12, "{a:?} != {b:?}");
        }
    }

    #[test]
    fn step_decay_halves_every_two_epochs() {
        let got = rates(Schedule::step_decay(2, 0.5), &[1.0; 5]);
        assert_close(&got, &[0.5, 0.5, 0.25, 0.25, 0.125, 0.125]);
    }

    #[test]
    fn inverse_scaling_divides_by_the_epoch_number() {
        let got = rates(Schedule::inverse_scaling(0.5), &[1.0; 3]);
        assert_close(&got, &[0.5, 0.5 / 2f64.sqrt(), 0.5 / 3f64.sqrt(), 0.25]);
    }

    #[test]
    fn cosine_reaches_its_minimum_after_its_epochs() {
        let got = rates(Schedule::cosine(0.1, 2), &[1.0; 2]);
        assert_close(&got, &[0.5, 0.3, 0.1]);
    }

    #[test]
    fn plateau_waits_patience_epochs_before_reducing() {
        // Improvement, then a flat loss: with patience 1 the second flat epoch reduces.
        let got = rates(
            Schedule::reduce_on_plateau(0.1, 1),
            &[3.0, 2.0, 2.0, 2.0, 2.0, 2.0],
        );
        assert_close(&got, &[0.5, 0.5, 0.5, 0.5, 0.05, 0.05, 0.005]);
    }
}
