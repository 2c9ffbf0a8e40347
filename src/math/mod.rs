//! The mathematics every engine obeys, defined once: the models' links
//! ([`model`]), each loss and its derivatives ([`loss`]), the objective
//! (a loss and a penalty) and how a batch's raw sums become its gradient
//! ([`objective`]), and the optimizers' update rules and state
//! ([`optim`]). It imports nothing of the crate but its errors and the
//! JSON form of numbers.

pub(crate) mod error;
pub(crate) mod loss;
pub(crate) mod model;
pub(crate) mod objective;
pub(crate) mod optim;
