//! The numbers the GPU engine and its shaders share, each defined once
//! here: [`wgsl_header`] writes every one as a WGSL constant of the same
//! name, which the context puts before every shader it compiles. No shader
//! declares them, and no comment has to keep two copies in step.

use crate::engine::device::GPU_MAX_CLASSES;
use crate::math::loss::Loss;
use crate::math::optim::Optimizer;

/// Declares each constant in Rust and lists it for [`wgsl_header`].
macro_rules! shared_with_the_shaders {
    ($($(#[doc = $doc:expr])* $name:ident: $type:ty = $value:expr;)*) => {
        $($(#[doc = $doc])* pub(super) const $name: $type = $value;)*

        /// The WGSL declarations of the shared constants, as `u32`s.
        pub(super) fn wgsl_header() -> String {
            let mut header = String::new();
            $(header += &format!("const {}: u32 = {}u;\n", stringify!($name), $name);)*
            header
        }
    };
}

shared_with_the_shaders! {
    /// Threads per workgroup in every kernel.
    WORKGROUP_SIZE: u32 = 256;
    /// Rows per tile of the legacy gradient passes (gradient.wgsl,
    /// gradient_classes.wgsl): spans of rows are multiples of it.
    TILE_ROWS: usize = 32;
    /// Threads that share a row in the legacy gradient passes; their
    /// subgroup form needs subgroups at least this large.
    LANES: u32 = 8;
    /// Updates counted beyond this count as this: Adam's βᵗ is 0 in
    /// float32 long before, so nothing changes, and the u32 counter never
    /// wraps.
    STEP_CAP: u64 = 1 << 24;
    /// The most classes whose margins a kernel holds for one row.
    MAX_CLASSES: usize = GPU_MAX_CLASSES;
    /// The losses as `Shape::loss` names them ([`loss_code`]).
    LOSS_SQUARED: u32 = 0;
    LOSS_LOG: u32 = 1;
    LOSS_HUBER: u32 = 2;
    LOSS_EPSILON_INSENSITIVE: u32 = 3;
    LOSS_SQUARED_EPSILON_INSENSITIVE: u32 = 4;
    LOSS_POISSON: u32 = 5;
    LOSS_HINGE: u32 = 6;
    LOSS_SQUARED_HINGE: u32 = 7;
    LOSS_MODIFIED_HUBER: u32 = 8;
    /// Reads K margins a row: multinomial_loss_and_slopes, not sample_loss.
    LOSS_MULTINOMIAL: u32 = 9;
    /// The update rules as `Shape::optimizer` names them ([`rule_code`]).
    RULE_SGD: u32 = 0;
    RULE_MOMENTUM: u32 = 1;
    RULE_NESTEROV: u32 = 2;
    RULE_ADAGRAD: u32 = 3;
    RULE_RMSPROP: u32 = 4;
    RULE_ADAM: u32 = 5;
}

/// The loss's code as the shaders read it (`Shape::loss`).
pub(super) fn loss_code(loss: Loss) -> u32 {
    match loss {
        Loss::Squared => LOSS_SQUARED,
        Loss::Log => LOSS_LOG,
        Loss::Huber { .. } => LOSS_HUBER,
        Loss::EpsilonInsensitive { .. } => LOSS_EPSILON_INSENSITIVE,
        Loss::SquaredEpsilonInsensitive { .. } => LOSS_SQUARED_EPSILON_INSENSITIVE,
        Loss::Poisson => LOSS_POISSON,
        Loss::Hinge => LOSS_HINGE,
        Loss::SquaredHinge => LOSS_SQUARED_HINGE,
        Loss::ModifiedHuber => LOSS_MODIFIED_HUBER,
        Loss::Multinomial { .. } => LOSS_MULTINOMIAL,
    }
}

/// The update rule's code as the shaders read it (`Shape::optimizer`).
pub(super) fn rule_code(optimizer: &Optimizer) -> u32 {
    match *optimizer {
        Optimizer::Sgd(_) => RULE_SGD,
        Optimizer::Momentum(o) if o.nesterov => RULE_NESTEROV,
        Optimizer::Momentum(_) => RULE_MOMENTUM,
        Optimizer::AdaGrad(_) => RULE_ADAGRAD,
        Optimizer::RmsProp(_) => RULE_RMSPROP,
        Optimizer::Adam(_) => RULE_ADAM,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every constant is declared once in the header, as the shaders spell
    /// it, and the header parses as WGSL.
    #[test]
    fn the_header_declares_each_constant_once() {
        let header = wgsl_header();
        for line in [
            "const WORKGROUP_SIZE: u32 = 256u;",
            "const MAX_CLASSES: u32 = 32u;",
            "const LOSS_LOG: u32 = 1u;",
            "const RULE_ADAM: u32 = 5u;",
            "const STEP_CAP: u32 = 16777216u;",
        ] {
            assert_eq!(header.matches(line).count(), 1, "{line} in\n{header}");
        }
        naga::front::wgsl::parse_str(&header).expect("the header parses");
    }
}
