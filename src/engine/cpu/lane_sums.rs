//! Horizontal sums for the row pass: the lanes of four dot-product
//! accumulators added together, and float32 values widened and added into
//! four float64 lanes.
//!
//! `pulp` reduces one vector at a time (six operations for eight lanes on
//! AVX2); at 28 features that is half as much work again as the row's dot
//! product. On AVX2 ([`pulp::x86::V3`]) four accumulators are reduced
//! together in eleven operations, adding their lanes in exactly the order
//! `pulp`'s own reduction does, so a row's margin is the same bits
//! whether it is reduced alone or with three others, and the same as
//! before this path existed. Every other path reduces one vector at a
//! time.

use pulp::Simd;

/// The sums of the lanes of four accumulators, each in the order of
/// `simd.reduce_sum_f32s` (on eight lanes, r = lanes 0..4 + lanes 4..8,
/// then (r₀ + r₂) + (r₁ + r₃)).
#[inline(always)]
pub(crate) fn sums_of_four<S: Simd>(simd: S, accumulators: [S::f32s; 4]) -> [f32; 4] {
    #[cfg(target_arch = "x86_64")]
    if let Some(v3) = as_v3(simd) {
        use std::arch::x86_64::__m256;
        // SAFETY: `as_v3` returned Some, so S is V3 and S::f32s is f32x8.
        let [a0, a1, a2, a3]: [__m256; 4] =
            unsafe { std::mem::transmute_copy::<[S::f32s; 4], [__m256; 4]>(&accumulators) };
        let avx = v3.avx;
        // Each accumulator's two halves added: r of 0 and 1 side by side,
        // then of 2 and 3.
        let halves = |a: __m256, b: __m256| {
            avx._mm256_add_ps(
                avx._mm256_permute2f128_ps::<0x20>(a, b),
                avx._mm256_permute2f128_ps::<0x31>(a, b),
            )
        };
        let (r01, r23) = (halves(a0, a1), halves(a2, a3));
        // (r₀, r₁) + (r₂, r₃) of each: lanes r₀ + r₂, r₁ + r₃ of 0, then
        // of 2 | the same of 1, then of 3.
        let low = avx._mm256_unpacklo_pd(avx._mm256_castps_pd(r01), avx._mm256_castps_pd(r23));
        let high = avx._mm256_unpackhi_pd(avx._mm256_castps_pd(r01), avx._mm256_castps_pd(r23));
        let pairs = avx._mm256_add_ps(avx._mm256_castpd_ps(low), avx._mm256_castpd_ps(high));
        // (r₀ + r₂) + (r₁ + r₃): the sums of 0, 2 | of 1, 3 (twice each).
        let sums = avx._mm256_hadd_ps(pairs, pairs);
        let ordered = v3.sse._mm_unpacklo_ps(
            avx._mm256_castps256_ps128(sums),
            avx._mm256_extractf128_ps::<1>(sums),
        );
        return pulp::cast(ordered);
    }
    accumulators.map(|a| simd.reduce_sum_f32s(a))
}

/// `simd` as the AVX2 token where it is one.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn as_v3<S: Simd>(simd: S) -> Option<pulp::x86::V3> {
    use std::any::TypeId;
    (TypeId::of::<S>() == TypeId::of::<pulp::x86::V3>()).then(|| {
        // SAFETY: S is V3, checked just above.
        unsafe { std::mem::transmute_copy::<S, pulp::x86::V3>(&simd) }
    })
}

/// Four float64 running sums, value k of a sequence added into lane k mod
/// 4: four independent chains of additions instead of one, the same
/// bits on every SIMD path.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FourLanes([f64; 4]);

impl FourLanes {
    /// Adds `values`, whose first value is at a position that is a
    /// multiple of four in the sequence.
    #[inline(always)]
    pub(crate) fn add<S: Simd>(&mut self, simd: S, values: &[f32]) {
        let mut rest = values;
        #[cfg(target_arch = "x86_64")]
        if let Some(v3) = as_v3(simd) {
            use std::arch::x86_64::{__m128, __m256d};
            let whole = values.len() / 4 * 4;
            let mut lanes: __m256d = pulp::cast(self.0);
            for four in values[..whole].chunks_exact(4) {
                let four: __m128 = pulp::cast(<[f32; 4]>::try_from(four).expect("four values"));
                lanes = v3.avx._mm256_add_pd(lanes, v3.avx._mm256_cvtps_pd(four));
            }
            self.0 = pulp::cast(lanes);
            rest = &values[whole..];
        }
        let _ = simd;
        for four in rest.chunks(4) {
            for (lane, &v) in self.0.iter_mut().zip(four) {
                *lane += f64::from(v);
            }
        }
    }

    /// The sum of the four lanes.
    #[inline(always)]
    pub(crate) fn total(self) -> f64 {
        let [a, b, c, d] = self.0;
        (a + b) + (c + d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pulp::{Arch, WithSimd};

    /// The four-accumulator sums and each accumulator's alone, of four
    /// vectors of `values`; and `values[..31]` through [`FourLanes`],
    /// whole and in three calls.
    struct Reduce<'a>(&'a [f32]);

    impl WithSimd for Reduce<'_> {
        type Output = ([f32; 4], [f32; 4], [f64; 2]);
        fn with_simd<S: Simd>(self, simd: S) -> Self::Output {
            let lanes = std::mem::size_of::<S::f32s>() / 4;
            let vector = |k: usize| S::as_simd_f32s(&self.0[k * lanes..(k + 1) * lanes]).0[0];
            let accumulators = [vector(0), vector(1), vector(2), vector(3)];
            let together = sums_of_four(simd, accumulators);
            let alone = accumulators.map(|a| simd.reduce_sum_f32s(a));
            let mut whole = FourLanes::default();
            whole.add(simd, &self.0[..31]);
            let mut split = FourLanes::default();
            split.add(simd, &self.0[..4]);
            split.add(simd, &self.0[4..20]);
            split.add(simd, &self.0[20..31]);
            (together, alone, [whole.total(), split.total()])
        }
    }

    /// Values whose sums depend on the order of the additions.
    fn values() -> Vec<f32> {
        (0..64)
            .map(|k| (1.0 + k as f32 * 0.37).powi(7) * if k % 3 == 0 { -1.0 } else { 1.0 })
            .collect()
    }

    /// Each of the four sums is the bits of pulp's reduction of that
    /// accumulator alone, on values whose sum depends on the order.
    #[test]
    fn four_accumulators_sum_as_each_does_alone_on_every_path() {
        let values = values();
        let machine = Arch::new().dispatch(Reduce(&values));
        let scalar = Reduce(&values).with_simd(pulp::Scalar::new());
        assert_eq!(machine.0, machine.1);
        assert_eq!(scalar.0, scalar.1);
        // One lane: each value itself.
        assert_eq!(scalar.0, [values[0], values[1], values[2], values[3]]);
        // Eight lanes (AVX2): pulp's order, written out.
        #[cfg(target_arch = "x86_64")]
        if pulp::x86::V3::try_new().is_some() {
            for (k, &sum) in machine.0.iter().enumerate() {
                let v = &values[8 * k..8 * k + 8];
                let r: Vec<f32> = (0..4).map(|i| v[i] + v[i + 4]).collect();
                assert_eq!(sum, (r[0] + r[2]) + (r[1] + r[3]), "accumulator {k}");
            }
        }
    }

    #[test]
    fn four_lanes_are_the_same_bits_on_every_path_and_in_any_split() {
        let values = values();
        let machine = Arch::new().dispatch(Reduce(&values));
        let scalar = Reduce(&values).with_simd(pulp::Scalar::new());
        let mut lanes = [0.0f64; 4];
        for (k, &v) in values[..31].iter().enumerate() {
            lanes[k % 4] += f64::from(v);
        }
        let expected = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
        assert_eq!(machine.2, [expected, expected]);
        assert_eq!(scalar.2, [expected, expected]);
    }
}
