//! eˣ and ln(1 + x) of float32 vectors, for the losses the CPU engine
//! evaluates a block of rows at a time ([`super::row_losses`]). `pulp`
//! dispatches at run time but has no transcendental functions, and the
//! SIMD math crates choose their width when they are compiled (SSE2 in a
//! default build), so the two are written here on `pulp`'s operations,
//! each for the domain the logistic loss gives it (e^(−|z|), then
//! ln(1 + e^(−|z|))), with Cephes' single-precision polynomials (S. L.
//! Moshier, the same ones `expf` and `logf` of Cephes and of
//! `sse_mathfun` use; the last coefficient of each, 5.0000001201e-1 and
//! 3.3333331174e-1, is written as the float32 it rounds to).
//!
//! Accuracy, against float64 on every 97th float32 of [−87.3, 0] and every
//! 29th of [0, 1], on the machine's SIMD path and on pulp's scalar one
//! (`tests` below hold both to 2 ulp): `exp_of_nonpositive` within 1.0
//! ulp, `ln_1p_unit` within 1.4 ulp, as measured on x86-64 with FMA.
//! Below −87.3365 `exp_of_nonpositive` is 0 (eˣ is under the smallest
//! normal float32, 1.2·10⁻³⁸); a NaN stays NaN.

use pulp::Simd;

/// 1.5 · 2²³: x + MAGIC rounds x to an integer n (|n| < 2²²) and leaves n
/// in the low bits of the sum's mantissa.
const MAGIC: f32 = 12_582_912.0;

/// ln 2 in two parts: the first has 9 significant bits, so that n · HI is
/// exact for the |n| ≤ 127 used here (Cody and Waite's reduction).
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;

/// Below this eˣ is not a normal float32.
const EXP_LOWEST: f32 = -87.336_54;

/// eˣ lane by lane, for x ≤ 0 (what the logistic loss takes: x = −|z|):
/// 0 below [`EXP_LOWEST`], a NaN kept. Without an upper bound to clamp
/// and test, it is three operations shorter than a whole-range eˣ.
#[inline(always)]
pub(crate) fn exp_of_nonpositive<S: Simd>(simd: S, x: S::f32s) -> S::f32s {
    let splat = |v: f32| simd.splat_f32s(v);
    let clamped = simd.max_f32s(x, splat(EXP_LOWEST));
    // n = round(x / ln 2), r = x − n ln 2 ∈ [−ln 2 / 2, ln 2 / 2].
    let shifted = simd.mul_add_e_f32s(clamped, splat(std::f32::consts::LOG2_E), splat(MAGIC));
    let n = simd.sub_f32s(shifted, splat(MAGIC));
    let r = simd.mul_add_e_f32s(n, splat(-LN2_HI), clamped);
    let r = simd.mul_add_e_f32s(n, splat(-LN2_LO), r);
    let mut p = splat(1.987_569_2e-4);
    for c in [1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1, 0.5] {
        p = simd.mul_add_e_f32s(p, r, splat(c));
    }
    let r2 = simd.mul_f32s(r, r);
    let e_r = simd.add_f32s(simd.mul_add_e_f32s(p, r2, r), splat(1.0));
    // 2ⁿ: the biased exponent n + 127 shifted into place. The sum's bits
    // are MAGIC's plus n, so n + 127 is their difference from MAGIC's
    // bits minus 127, in wrapping arithmetic.
    let bits = simd.transmute_u32s_f32s(shifted);
    let biased = simd.add_u32s(bits, simd.splat_u32s(127u32.wrapping_sub(MAGIC.to_bits())));
    let scale = simd.transmute_f32s_u32s(simd.wrapping_dyn_shl_u32s(biased, simd.splat_u32s(23)));
    let value = simd.mul_f32s(e_r, scale);
    let value = simd.select_f32s(simd.less_than_f32s(x, splat(EXP_LOWEST)), splat(0.0), value);
    // A NaN lane compares false above (and the clamp replaced it); it is
    // passed through.
    simd.select_f32s(simd.equal_f32s(x, x), value, x)
}

/// ln(1 + x) lane by lane, for x in [0, 1] (what the logistic loss takes:
/// x = e^(−|z|)). Exact to the last bits for tiny x, unlike ln of the sum.
#[inline(always)]
pub(crate) fn ln_1p_unit<S: Simd>(simd: S, x: S::f32s) -> S::f32s {
    let splat = |v: f32| simd.splat_f32s(v);
    // 1 + x = 2ᵏ (1 + f) with 1 + f in [√½, √2): k = 0 and f = x below
    // √2 − 1, else k = 1 and f = (x − 1) / 2 (exact for x ≥ ½, and
    // within half an ulp of f's size between √2 − 1 and ½).
    let halved = simd.greater_than_f32s(x, splat(std::f32::consts::SQRT_2 - 1.0));
    let k = simd.select_f32s(halved, splat(1.0), splat(0.0));
    let f = simd.select_f32s(halved, simd.mul_f32s(simd.sub_f32s(x, splat(1.0)), splat(0.5)), x);
    let f2 = simd.mul_f32s(f, f);
    let mut p = splat(7.037_683_6e-2);
    for c in [
        -1.151_461e-1,
        1.167_699_9e-1,
        -1.242_014_1e-1,
        1.424_932_3e-1,
        -1.666_805_8e-1,
        2.000_071_5e-1,
        -2.499_999_4e-1,
        0.333_333_3,
    ] {
        p = simd.mul_add_e_f32s(p, f, splat(c));
    }
    // ln(1 + f) = f − f²/2 + f³ p(f), plus k ln 2 in two parts.
    let tail = simd.mul_f32s(simd.mul_f32s(p, f), f2);
    let tail = simd.mul_add_e_f32s(k, splat(LN2_LO), tail);
    let tail = simd.mul_add_e_f32s(f2, splat(-0.5), tail);
    simd.mul_add_e_f32s(k, splat(LN2_HI), simd.add_f32s(f, tail))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pulp::{Arch, WithSimd};

    struct Apply<'a> {
        values: &'a [f32],
        exp: bool,
    }

    impl WithSimd for Apply<'_> {
        type Output = Vec<f32>;
        fn with_simd<S: Simd>(self, simd: S) -> Vec<f32> {
            let lanes = std::mem::size_of::<S::f32s>() / 4;
            let mut padded = self.values.to_vec();
            padded.resize(self.values.len().div_ceil(lanes) * lanes, 0.0);
            let mut out = vec![0.0f32; padded.len()];
            let (input, _) = S::as_simd_f32s(&padded);
            let (output, _) = S::as_mut_simd_f32s(&mut out);
            for (o, &v) in output.iter_mut().zip(input) {
                *o = if self.exp {
                    exp_of_nonpositive(simd, v)
                } else {
                    ln_1p_unit(simd, v)
                };
            }
            out.truncate(self.values.len());
            out
        }
    }

    /// eˣ (or ln(1 + x)) of `values` on this machine's widest SIMD path,
    /// the one the engine takes, and on pulp's one-lane path (machines
    /// without AVX2, where the multiply-adds are not fused).
    fn on_both_paths(values: &[f32], exp: bool) -> [Vec<f32>; 2] {
        [
            Arch::new().dispatch(Apply { values, exp }),
            Apply { values, exp }.with_simd(pulp::Scalar::new()),
        ]
    }

    /// The largest distance in ulps from float64's `exact` over `values`,
    /// on both paths, a million values at a time, and where it is.
    fn worst(values: &[f32], exp: bool, exact: fn(f64) -> f64) -> (f64, f32) {
        let mut worst = (0.0, 0.0);
        for chunk in values.chunks(1 << 20) {
            for got in on_both_paths(chunk, exp) {
                for (&x, &g) in chunk.iter().zip(&got) {
                    let distance = ulps(g, exact(f64::from(x)));
                    if distance > worst.0 {
                        worst = (distance, x);
                    }
                }
            }
        }
        worst
    }

    /// The distance between `got` and the float64 `exact`, in ulps of the
    /// float32 nearest `exact`.
    fn ulps(got: f32, exact: f64) -> f64 {
        let nearest = (exact as f32).abs();
        let ulp = f64::from(f32::from_bits(nearest.to_bits() + 1)) - f64::from(nearest);
        ((f64::from(got) - exact) / ulp).abs()
    }

    /// Every `step`-th float32 in [low, high] (low ≤ 0 ≤ high, or
    /// 0 ≤ low), by bit pattern: as dense near 0 as float32s are.
    fn floats_between(low: f32, high: f32, step: usize) -> Vec<f32> {
        let mut values = Vec::new();
        if low < 0.0 {
            values.extend((0..=(-low).to_bits()).step_by(step).map(|b| -f32::from_bits(b)));
        }
        let from = if low < 0.0 { 0 } else { low.to_bits() };
        values.extend((from..=high.to_bits()).step_by(step).map(f32::from_bits));
        values
    }

    #[test]
    fn exp_is_within_two_ulps_of_float64_over_its_range() {
        let values = floats_between(EXP_LOWEST, 0.0, 97);
        assert!(values.len() > 10_000_000, "{} points", values.len());
        let (distance, at) = worst(&values, true, f64::exp);
        assert!(distance <= 2.0, "{distance} ulps at x = {at}");
    }

    #[test]
    fn exp_is_zero_below_its_range_and_keeps_nan() {
        let values = [-88.0, -1e30, f32::NEG_INFINITY, f32::NAN, 0.0, -0.0];
        for got in on_both_paths(&values, true) {
            assert_eq!(&got[..3], &[0.0, 0.0, 0.0]);
            assert!(got[3].is_nan());
            assert_eq!(&got[4..], &[1.0, 1.0]);
        }
    }

    #[test]
    fn ln_1p_is_within_two_ulps_of_float64_on_the_unit_interval() {
        let values = floats_between(0.0, 1.0, 29);
        assert!(values.len() > 30_000_000, "{} points", values.len());
        let (distance, at) = worst(&values, false, f64::ln_1p);
        assert!(distance <= 2.0, "{distance} ulps at x = {at}");
    }
}
