//! The slopes ℓ′(zᵢ, yᵢ) and losses ℓ(zᵢ, yᵢ) of a block of rows at once,
//! in SIMD: the CPU engine's float32 evaluation of the definitions in
//! [`crate::math::loss`]. The squared error and the logistic loss, the two that
//! large fits run, are written for vectors here (the logistic loss with
//! [`super::simd_math`]'s eˣ and ln(1 + x)); every other loss is
//! evaluated row by row through [`Loss::derivative`] and [`Loss::value`]
//! themselves. The tests below hold both vector forms to those
//! definitions in float64.

use pulp::Simd;

use super::simd_math::{exp_of_nonpositive, ln_1p_unit};
use crate::math::loss::Loss;

/// Writes ℓ′(zᵢ, yᵢ) into `slopes` and ℓ(zᵢ, yᵢ) into `losses` for every
/// i of `margins`. All four slices have one length, a whole number of
/// SIMD vectors (lanes past the block's rows are computed and ignored).
#[inline(always)]
pub(crate) fn slopes_and_losses<S: Simd>(
    simd: S,
    loss: Loss,
    margins: &[f32],
    targets: &[f32],
    slopes: &mut [f32],
    losses: &mut [f32],
) {
    let (z, _) = S::as_simd_f32s(margins);
    let (y, _) = S::as_simd_f32s(targets);
    let (slope, _) = S::as_mut_simd_f32s(slopes);
    let (value, _) = S::as_mut_simd_f32s(losses);
    let lanes = z.iter().zip(y).zip(slope.iter_mut().zip(value.iter_mut()));
    match loss {
        // r = z − y: ℓ′ = 2r (as r · 2, bit for bit), ℓ = r².
        Loss::Squared => {
            for ((&z, &y), (slope, value)) in lanes {
                let r = simd.sub_f32s(z, y);
                *slope = simd.mul_f32s(r, simd.splat_f32s(2.0));
                *value = simd.mul_f32s(r, r);
            }
        }
        Loss::Log => {
            for ((&z, &y), (slope, value)) in lanes {
                (*slope, *value) = logistic(simd, z, y);
            }
        }
        other => {
            for (((&z, &y), slope), value) in margins.iter().zip(targets).zip(slopes).zip(losses) {
                *slope = other.derivative(z, y);
                *value = other.value(z, y);
            }
        }
    }
}

/// ℓ′(z, y) and ℓ(z, y) of one row, by the operations of
/// [`slopes_and_losses`] on its lane: a row gets the same bits whichever
/// of the two evaluates it.
#[inline(always)]
pub(crate) fn slope_and_loss<S: Simd>(simd: S, loss: Loss, z: f32, y: f32) -> (f32, f32) {
    match loss {
        // The lane operations of the vector form, in scalar IEEE
        // arithmetic (the same rounding).
        Loss::Squared => {
            let r = z - y;
            (r * 2.0, r * r)
        }
        Loss::Log => {
            let (slope, value) = logistic(simd, simd.splat_f32s(z), simd.splat_f32s(y));
            (first_lane::<S>(slope), first_lane::<S>(value))
        }
        other => (other.derivative(z, y), other.value(z, y)),
    }
}

/// The first lane of a vector.
#[inline(always)]
fn first_lane<S: Simd>(v: S::f32s) -> f32 {
    pulp::bytemuck::cast_slice::<S::f32s, f32>(std::slice::from_ref(&v))[0]
}

/// σ(z) − y and max(z, 0) − y z + ln(1 + e^−|z|), from one e = e^−|z|:
/// σ(z) = 1 / (1 + e) for z ≥ 0, e / (1 + e) below.
#[inline(always)]
fn logistic<S: Simd>(simd: S, z: S::f32s, y: S::f32s) -> (S::f32s, S::f32s) {
    let e = exp_of_nonpositive(simd, simd.neg_f32s(simd.abs_f32s(z)));
    let inverse = simd.div_f32s(simd.splat_f32s(1.0), simd.add_f32s(simd.splat_f32s(1.0), e));
    let sigma = simd.select_f32s(
        simd.greater_than_or_equal_f32s(z, simd.splat_f32s(0.0)),
        inverse,
        simd.mul_f32s(e, inverse),
    );
    let slope = simd.sub_f32s(sigma, y);
    let positive = simd.max_f32s(z, simd.splat_f32s(0.0));
    let value = simd.add_f32s(simd.sub_f32s(positive, simd.mul_f32s(y, z)), ln_1p_unit(simd, e));
    (slope, value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pulp::{Arch, WithSimd};

    struct Block<'a> {
        loss: Loss,
        margins: &'a [f32],
        targets: &'a [f32],
    }

    impl WithSimd for Block<'_> {
        type Output = (Vec<f32>, Vec<f32>);
        fn with_simd<S: Simd>(self, simd: S) -> Self::Output {
            let n = self.margins.len();
            let (mut slopes, mut losses) = (vec![0.0; n], vec![0.0; n]);
            slopes_and_losses(
                simd,
                self.loss,
                self.margins,
                self.targets,
                &mut slopes,
                &mut losses,
            );
            (slopes, losses)
        }
    }

    /// Margins from −100 to 100, dense near 0, with targets 0 and 1 (and,
    /// for the logistic loss's test, fractional ones too).
    fn points() -> (Vec<f32>, Vec<f32>) {
        let mut margins = Vec::new();
        for k in 0..=20_000 {
            let t = (k as f64 - 10_000.0) / 10_000.0;
            margins.push((t * t * t * 100.0) as f32);
        }
        margins.extend([0.0, -0.0, 1e-30, -1e-30, 87.0, -87.0, 88.5, -88.5, 200.0, -200.0]);
        let n = margins.len().next_multiple_of(64);
        margins.resize(n, 0.5);
        let targets: Vec<f32> = (0..n).map(|i| (i % 2) as f32).collect();
        let mut both = margins.clone();
        both.extend(&margins);
        let mut flipped: Vec<f32> = targets.iter().map(|y| 1.0 - y).collect();
        let mut all_targets = targets;
        all_targets.append(&mut flipped);
        (both, all_targets)
    }

    /// |got − exact| within `ulps` of float32 rounding at the larger of
    /// |exact| and `floor` (the size of the terms the value is made of;
    /// 3 · 10⁻³¹ at least, where e^−|z| is below the smallest normal
    /// float32 and taken as 0).
    fn close(got: f32, exact: f64, ulps: f64, floor: f64) -> bool {
        let floor = floor.max(f64::from(f32::MIN_POSITIVE / f32::EPSILON));
        (f64::from(got) - exact).abs() <= ulps * f64::from(f32::EPSILON) * exact.abs().max(floor)
    }

    #[test]
    fn the_vector_logistic_loss_is_the_float64_definition_to_float32_precision() {
        let (mut margins, mut targets) = points();
        let fractional: Vec<f32> = (0..margins.len()).map(|i| (i % 7) as f32 / 6.0).collect();
        margins.extend(margins.clone());
        targets.extend(fractional);
        let block = || Block {
            loss: Loss::Log,
            margins: &margins,
            targets: &targets,
        };
        for (slopes, losses) in [
            Arch::new().dispatch(block()),
            block().with_simd(pulp::Scalar::new()),
        ] {
            check_logistic(&margins, &targets, &slopes, &losses);
        }
    }

    fn check_logistic(margins: &[f32], targets: &[f32], slopes: &[f32], losses: &[f32]) {
        for i in 0..margins.len() {
            let (z, y) = (f64::from(margins[i]), f64::from(targets[i]));
            // The slope σ(z) − y is a difference of terms up to 1; the
            // loss adds ln(1 + e^−|z|) to max(z, 0) − y z, which is exact
            // for labels 0 and 1 and else rounds at the size of z.
            let (slope, loss) = (Loss::Log.derivative(z, y), Loss::Log.value(z, y));
            let terms = if y == 0.0 || y == 1.0 { 0.0 } else { z.abs() };
            assert!(
                close(slopes[i], slope, 2.0, 1.0),
                "slope at z {z}, y {y}: {} against {slope}",
                slopes[i]
            );
            assert!(
                close(losses[i], loss, 3.0, terms),
                "loss at z {z}, y {y}: {} against {loss}",
                losses[i]
            );
        }
    }

    #[test]
    fn every_other_loss_is_its_scalar_definition_bit_for_bit() {
        let (margins, targets) = points();
        for loss in [
            Loss::Squared,
            Loss::Huber { epsilon: 1.0 },
            Loss::Hinge,
            Loss::ModifiedHuber,
            Loss::Poisson,
        ] {
            let (slopes, losses) = Arch::new().dispatch(Block {
                loss,
                margins: &margins,
                targets: &targets,
            });
            for i in 0..margins.len() {
                let (z, y) = (margins[i], targets[i]);
                assert_eq!(
                    slopes[i].to_bits(),
                    loss.derivative(z, y).to_bits(),
                    "{loss:?} slope at {z}, {y}"
                );
                assert_eq!(
                    losses[i].to_bits(),
                    loss.value(z, y).to_bits(),
                    "{loss:?} loss at {z}, {y}"
                );
            }
        }
    }

    struct Rows<'a> {
        loss: Loss,
        margins: &'a [f32],
        targets: &'a [f32],
    }

    impl WithSimd for Rows<'_> {
        type Output = Vec<(f32, f32)>;
        fn with_simd<S: Simd>(self, simd: S) -> Self::Output {
            self.margins
                .iter()
                .zip(self.targets)
                .map(|(&z, &y)| slope_and_loss(simd, self.loss, z, y))
                .collect()
        }
    }

    #[test]
    fn one_row_gets_the_bits_of_its_lane_in_a_block() {
        let (margins, targets) = points();
        for loss in [
            Loss::Squared,
            Loss::Log,
            Loss::Huber { epsilon: 1.0 },
            Loss::Hinge,
            Loss::ModifiedHuber,
            Loss::Poisson,
        ] {
            let (block, rows) = (
                Block {
                    loss,
                    margins: &margins,
                    targets: &targets,
                },
                Rows {
                    loss,
                    margins: &margins,
                    targets: &targets,
                },
            );
            let ((slopes, losses), one_by_one) = (Arch::new().dispatch(block), Arch::new().dispatch(rows));
            for (i, &(slope, value)) in one_by_one.iter().enumerate() {
                let (z, y) = (margins[i], targets[i]);
                assert_eq!(slope.to_bits(), slopes[i].to_bits(), "{loss:?} slope at {z}, {y}");
                assert_eq!(value.to_bits(), losses[i].to_bits(), "{loss:?} loss at {z}, {y}");
            }
        }
    }
}
