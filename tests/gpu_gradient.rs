//! One gradient on the GPU against the float64 reference: a million rows,
//! shapes that do not divide the workgroup, more features than a
//! workgroup's memory holds, X split across buffers, and spans of rows
//! longer than one tile per workgroup.
#![cfg(feature = "gpu")]

mod common;

use downhill::DataError;
use std::sync::Arc;

use downhill::{reference, GpuContext, Model, Synthetic};
use ndarray::{Array1, Array2};

/// ‖a − b‖₂ / ‖b‖₂ over the weights and the bias together.
fn relative_error(gradient: &downhill::Gradient, expected: &reference::Gradient64) -> f64 {
    let mut difference = 0.0;
    let mut norm = 0.0;
    let pairs = gradient
        .weights
        .iter()
        .zip(&expected.weights)
        .chain(std::iter::once((&gradient.bias, &expected.bias)));
    for (&g, &e) in pairs {
        difference += (f64::from(g) - e).powi(2);
        norm += e * e;
    }
    (difference / norm).sqrt()
}

fn check(context: &Arc<GpuContext>, model: Model, rows: usize, features: usize) {
    let data = Synthetic::generate(model, rows, features, 0.5, 3).expect("valid sizes");
    // Part of the way to the true weights: residuals neither vanish nor
    // dominate. With thousands of features the margins grow as √d; a
    // smaller share keeps the logistic model away from saturated margins,
    // where one rounding of z in float32 already moves the gradient by
    // more than 1e-5 (on the CPU engine as well).
    let share = if features > 1000 { 0.05 } else { 0.5 };
    let w: Array1<f32> = data.weights.mapv(|v| share * v);
    let b = 0.25f32;
    check_at(context, model, &data.x, &data.y, &w, b);
}

fn check_at(
    context: &Arc<GpuContext>,
    model: Model,
    x: &Array2<f32>,
    y: &Array1<f32>,
    w: &Array1<f32>,
    b: f32,
) {
    let what = format!("{model:?} {} × {}", x.nrows(), x.ncols());
    let gpu = context
        .gradient(model, x.view(), y.view(), w.view(), b)
        .expect("gradient");
    let expected = reference::gradient(model, x.view(), y.view(), w.view(), b, 0.0).expect("reference");
    let error = relative_error(&gpu, &expected);
    assert!(error <= 1e-5, "{what}: relative error {error:e}");
    let loss_error = (gpu.loss - expected.loss).abs() / expected.loss.abs();
    assert!(
        loss_error <= 1e-5,
        "{what}: loss {} vs {} ({loss_error:e})",
        gpu.loss,
        expected.loss
    );
}

#[test]
fn a_million_rows_match_the_float64_reference() {
    let Some(context) = common::gpu("a million rows") else {
        return;
    };
    for model in [Model::Linear, Model::Logistic] {
        check(&context, model, 1_000_000, 64);
    }
}

#[test]
fn shapes_that_do_not_divide_the_workgroup_match() {
    let Some(context) = common::gpu("odd shapes") else {
        return;
    };
    for model in [Model::Linear, Model::Logistic] {
        // n and d prime; a single feature; a single row.
        check(&context, model, 10_007, 13);
        check(&context, model, 1_009, 1);
        check(&context, model, 1, 7);
    }
}

#[test]
fn more_features_than_a_workgroup_memory_holds_match() {
    let Some(context) = common::gpu("wide rows") else {
        return;
    };
    // 5003 features × 4 bytes exceed the 16 KiB of workgroup memory every
    // adapter guarantees; no kernel keeps a whole row there.
    check(&context, Model::Linear, 1_201, 5_003);
    check(&context, Model::Logistic, 1_201, 5_003);
}

#[test]
fn x_split_across_buffers_matches() {
    let Some(context) = common::gpu_split("split X") else {
        return;
    };
    // 64 × 4 × 4 bytes per buffer: 36 rows of 7 features, 28 buffers.
    check(&context, Model::Linear, 997, 7);
    check(&context, Model::Logistic, 997, 7);
}

#[test]
fn long_spans_of_rows_per_workgroup_match() {
    let Some(context) = common::gpu("many rows per workgroup") else {
        return;
    };
    // More rows than 1024 workgroups × one tile: each workgroup walks many
    // tiles, and no dispatch dimension grows with the rows.
    check(&context, Model::Linear, 100_003, 3);
}

#[test]
fn the_gradient_at_the_least_squares_optimum_vanishes() {
    let Some(context) = common::gpu("optimum") else {
        return;
    };
    let data = Synthetic::generate(Model::Linear, 5_000, 6, 0.3, 9).expect("valid sizes");
    let (w, b) = reference::least_squares(data.x.view(), data.y.view(), 0.0).expect("solvable");
    let w32 = w.mapv(|v| v as f32);
    let gradient = context
        .gradient(Model::Linear, data.x.view(), data.y.view(), w32.view(), b as f32)
        .expect("gradient");
    let scale = data.y.iter().map(|v| v.abs()).fold(0.0f32, f32::max);
    for g in gradient.weights.iter().chain(std::iter::once(&gradient.bias)) {
        assert!(g.abs() < 1e-4 * scale, "{g} with |y| up to {scale}");
    }
}

#[test]
fn uploaded_data_serve_many_gradients() {
    let Some(context) = common::gpu("resident data") else {
        return;
    };
    let data = Synthetic::generate(Model::Logistic, 20_011, 9, 0.0, 5).expect("valid sizes");
    let resident = context
        .upload(Model::Logistic, data.x.view(), data.y.view())
        .expect("upload");
    for share in [0.0f32, 0.3, 1.0] {
        let w = data.weights.mapv(|v| share * v);
        let b = share - 0.5;
        let gradient = resident.gradient(w.view(), b).expect("gradient");
        let expected = reference::gradient(Model::Logistic, data.x.view(), data.y.view(), w.view(), b, 0.0)
            .expect("reference");
        let error = relative_error(&gradient, &expected);
        assert!(error <= 1e-5, "share {share}: relative error {error:e}");
    }
    let wrong = Array1::zeros(8);
    assert_eq!(
        resident.gradient(wrong.view(), 0.0),
        Err(downhill::Error::FeatureCountMismatch {
            expected: 9,
            found: 8
        })
    );
    let mut bad_x = data.x.clone();
    bad_x[[3, 4]] = f32::INFINITY;
    assert!(matches!(
        context.upload(Model::Logistic, bad_x.view(), data.y.view()),
        Err(downhill::Error::Data(DataError::NonFiniteFeature {
            row: 3,
            column: 4,
            ..
        }))
    ));
}

/// The logistic loss of a row keeps its digits where ln(1 + e⁻ᶻ) is small:
/// one row at margin z > 0 labelled 1 has loss ln(1 + e⁻ᶻ) exactly (its
/// other terms cancel to 0), summed and divided by one weight without
/// rounding. WGSL bounds exp to 3 + 2|x| ulp and the kernels' log1p
/// (objective.wgsl) to about 8, passed on with a factor of at most 1; the
/// bound below is their sum with 2 ulp to spare, an ulp taken as 2⁻²³ of
/// the value. (Before, log(1 + e) was bounded only by 2⁻²¹ absolute: 7·10⁻⁵
/// relative at z = 5 on a conforming adapter, though lavapipe's log is
/// closer than WGSL requires and would not show it.)
#[test]
fn the_logistic_loss_keeps_its_digits_at_large_margins() {
    let Some(context) = common::gpu("logistic loss digits") else {
        return;
    };
    let x = Array2::<f32>::zeros((1, 1));
    let y = Array1::from_elem(1, 1.0f32);
    let data = context
        .upload(Model::Logistic, x.view(), y.view())
        .expect("upload");
    for z in [1e-3f32, 0.01, 0.1, 0.5, 1.0, 2.0, 5.0, 9.0, 15.0] {
        let gradient = data.gradient(Array1::zeros(1).view(), z).expect("a gradient");
        let expected = (-f64::from(z)).exp().ln_1p();
        let ulps = 3.0 + 2.0 * f64::from(z) + 8.0 + 2.0;
        let bound = ulps * 2f64.powi(-23);
        let error = (gradient.loss - expected).abs() / expected;
        assert!(
            error <= bound,
            "z {z}: loss {} against {expected}: {error:.2e} relative, bound {bound:.2e}",
            gradient.loss
        );
    }
}

/// Rows shared by 4, 8, 16 and 32 threads (5 to 300 features, loaded four
/// or one at a time) match the float64 reference on both ways the threads
/// of a row add their sums: subgroup shuffles where the adapter has wide
/// enough subgroups (lavapipe's are 8 wide, so it runs the wider shapes
/// through workgroup memory; a GPU with subgroups of 32 runs them all by
/// shuffles) and workgroup memory.
#[test]
fn every_width_of_row_matches_by_shuffles_and_by_workgroup_memory() {
    let (Some(shuffles), Some(memory)) = (
        common::gpu("row widths by shuffles"),
        common::gpu_workgroup_memory("row widths by workgroup memory"),
    ) else {
        return;
    };
    for context in [&shuffles, &memory] {
        for features in [5, 13, 20, 36, 64, 100, 300] {
            check(context, Model::Logistic, 3_001, features);
        }
    }
}
