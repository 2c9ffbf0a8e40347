//! Which method minimizes the objective: gradient descent
//! ([`crate::train::descent`]) or L-BFGS ([`crate::train::lbfgs`]) on the
//! same engines' full-batch gradient, both under the one training loop
//! ([`crate::train::driver`]).

use crate::error::{Error, Result};
use crate::train::error::TrainError;

/// The memory of L-BFGS when none is given: the last 10 steps, as SciPy's
/// `L-BFGS-B` (scikit-learn's `lbfgs` solver) keeps.
pub const DEFAULT_LBFGS_MEMORY: usize = 10;

/// The method a fit minimizes its objective with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "kind", rename_all = "snake_case"))]
pub enum Solver {
    /// Gradient descent: the variant, optimizer and schedule of the builder.
    #[default]
    GradientDescent,
    /// Limited-memory BFGS with a Wolfe line search (src/train/lbfgs/), on
    /// the full-batch gradient. Each iteration is one record of the
    /// history; every evaluation is one pass over the rows on the engine,
    /// of which only the d + 1 gradient and the loss come back. It needs a
    /// smooth objective: no L1 part in the penalty, and a loss whose
    /// derivative has no jump (not hinge, not ε-insensitive). The
    /// optimizer, its learning rate and the schedule do not apply.
    Lbfgs {
        /// How many of the last steps shape the curvature estimate.
        memory: usize,
    },
}

/// What L-BFGS's gradient tolerance ([`crate::GradientDescent::tolerance`])
/// is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum GradientTest {
    /// The gradient's Euclidean norm: every component counts.
    #[default]
    Norm,
    /// Its largest component in absolute value, as SciPy's `L-BFGS-B`
    /// (`pgtol`, scikit-learn's `tol` for its `lbfgs` solver) tests it: of
    /// many weights, a looser test than the norm by up to the square root
    /// of their count.
    Largest,
}

impl Solver {
    /// L-BFGS with [`DEFAULT_LBFGS_MEMORY`].
    pub fn lbfgs() -> Self {
        Solver::Lbfgs {
            memory: DEFAULT_LBFGS_MEMORY,
        }
    }

    /// Checks the settings.
    pub fn validate(self) -> Result<()> {
        match self {
            Solver::Lbfgs { memory: 0 } => Err(Error::Train(TrainError::ZeroLbfgsMemory)),
            _ => Ok(()),
        }
    }
}

impl std::fmt::Display for Solver {
    /// As the command line spells it: `gd`, `lbfgs` or `lbfgs:M`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Solver::GradientDescent => write!(f, "gd"),
            Solver::Lbfgs {
                memory: DEFAULT_LBFGS_MEMORY,
            } => write!(f, "lbfgs"),
            Solver::Lbfgs { memory } => write!(f, "lbfgs:{memory}"),
        }
    }
}

impl std::str::FromStr for Solver {
    type Err = Error;

    /// `gd`, `lbfgs`, or `lbfgs:M` for a memory of M steps.
    fn from_str(text: &str) -> Result<Self> {
        let unknown = || Error::UnknownName {
            what: "solver",
            name: text.to_string(),
            expected: "gd, lbfgs or lbfgs:M",
        };
        match text.trim() {
            "gd" => Ok(Solver::GradientDescent),
            "lbfgs" => Ok(Solver::lbfgs()),
            other => {
                let memory = other.strip_prefix("lbfgs:").ok_or_else(unknown)?;
                let memory = memory.parse::<usize>().map_err(|_| unknown())?;
                let solver = Solver::Lbfgs { memory };
                solver.validate()?;
                Ok(solver)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back() {
        for solver in [
            Solver::GradientDescent,
            Solver::lbfgs(),
            Solver::Lbfgs { memory: 3 },
        ] {
            assert_eq!(solver.to_string().parse::<Solver>().unwrap(), solver);
        }
        assert!(matches!(
            "lbfgs:0".parse::<Solver>(),
            Err(Error::Train(TrainError::ZeroLbfgsMemory))
        ));
        assert!(matches!(
            "newton".parse::<Solver>(),
            Err(Error::UnknownName { what: "solver", .. })
        ));
    }
}
