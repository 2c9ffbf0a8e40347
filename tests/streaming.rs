//! Rows beyond the memory budget stream through the CPU engine block by
//! block. Standardized rows are scaled as they are read, so a small budget
//! forces them through many blocks: the full batch then matches the
//! resident fit within float32 rounding (the blocks' sums are added in
//! another grouping), and mini-batches over `Shuffle::Blocks` gather the
//! same rows in the same order, so they match bit for bit.

use downhill::DataError;
use downhill::{
    Device, Error, Fitted, GradientDescent, Model, Optimizer, Shuffle, StopReason, Synthetic, Variant,
};

/// A budget of a few kilobytes: blocks of a few dozen rows.
const TINY: u64 = 4 << 10;
/// A budget whose blocks hold a few hundred rows: room for shuffle blocks
/// of 100.
const SMALL: u64 = 16 << 10;

fn data(model: Model) -> (ndarray::Array2<f32>, ndarray::Array1<f32>) {
    let s = Synthetic::generate(model, 3001, 6, 0.5, 17).unwrap();
    let mut x = s.x;
    // Columns off the unit scale, so that standardization does something.
    x.column_mut(1).mapv_inplace(|v| 40.0 * v + 300.0);
    (x, s.y)
}

fn descent(model: Model) -> GradientDescent {
    GradientDescent::new(model)
        .standardize(true)
        .max_epochs(12)
        .seed(3)
        .device(Device::Cpu)
}

fn parameters(fitted: &Fitted) -> Vec<f32> {
    fitted.weights().iter().copied().chain([fitted.bias()]).collect()
}

fn close(a: &[f32], b: &[f32], relative: f32) {
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= relative * x.abs().max(1.0), "{a:?}\n{b:?}");
    }
}

#[test]
fn a_streamed_full_batch_matches_the_resident_fit() {
    for model in [Model::Linear, Model::Logistic] {
        let (x, y) = data(model);
        let settings = descent(model).optimizer(Optimizer::adam(0.05));
        let resident = settings.clone().fit(x.view(), y.view()).unwrap();
        let streamed = settings.memory_budget(TINY).fit(x.view(), y.view()).unwrap();
        assert_eq!(streamed.stop_reason(), StopReason::MaxEpochs);
        let (a, b) = (resident.history().losses(), streamed.history().losses());
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-5 * x.abs(), "{model}: {a:?}\n{b:?}");
        }
        close(&parameters(&resident), &parameters(&streamed), 1e-4);
    }
}

#[test]
fn streamed_mini_batches_over_blocks_match_the_resident_fit_bit_for_bit() {
    for model in [Model::Linear, Model::Logistic] {
        let (x, y) = data(model);
        for shuffle in [Shuffle::Blocks { rows: 100 }, Shuffle::None] {
            let settings = descent(model)
                .variant(Variant::MiniBatch(32))
                .shuffle(shuffle)
                .optimizer(Optimizer::nesterov(0.01, 0.9));
            let resident = settings.clone().fit(x.view(), y.view()).unwrap();
            let streamed = settings.memory_budget(SMALL).fit(x.view(), y.view()).unwrap();
            assert_eq!(parameters(&resident), parameters(&streamed), "{model} {shuffle}");
            assert_eq!(resident.history().losses(), streamed.history().losses());
        }
    }
}

#[test]
fn streamed_mini_batches_need_an_order_that_keeps_blocks_together() {
    let (x, y) = data(Model::Linear);
    let error = descent(Model::Linear)
        .variant(Variant::MiniBatch(32))
        .memory_budget(TINY)
        .fit(x.view(), y.view())
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Data(DataError::StreamingNeedsBlocks { rows: 3001, .. })
        ),
        "{error}"
    );
    // Shuffle blocks larger than the budget's blocks (48 rows of 7 floats
    // in 4 KB over three buffers) would hold more than the budget.
    let error = descent(Model::Linear)
        .variant(Variant::MiniBatch(32))
        .shuffle(Shuffle::Blocks { rows: 100 })
        .memory_budget(TINY)
        .fit(x.view(), y.view())
        .unwrap_err();
    assert_eq!(
        error,
        Error::Data(DataError::ShuffleBlocksBeyondBudget {
            rows: 100,
            budget_rows: 48
        })
    );
}

#[test]
fn the_curvature_and_held_out_rows_stream_too() {
    let (x, y) = data(Model::Linear);
    let settings = descent(Model::Linear)
        .optimizer(Optimizer::nesterov(1.0, 0.0))
        .standardize_target(true)
        .auto_learning_rate(true)
        .auto_momentum(true)
        .validation_fraction(0.2)
        .tolerance(1e-9);
    let resident = settings.clone().fit(x.view(), y.view()).unwrap();
    let streamed = settings.memory_budget(TINY).fit(x.view(), y.view()).unwrap();
    let (a, b) = (resident.curvature().unwrap(), streamed.curvature().unwrap());
    assert!((a.largest - b.largest).abs() <= 1e-5 * a.largest, "{a:?} {b:?}");
    assert!(
        (a.smallest - b.smallest).abs() <= 1e-4 * a.smallest,
        "{a:?} {b:?}"
    );
    let held_out = |f: &Fitted| -> Vec<f64> {
        f.history()
            .records()
            .iter()
            .filter_map(|r| r.validation_loss)
            .collect()
    };
    let (a, b) = (held_out(&resident), held_out(&streamed));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() <= 1e-4 * x.abs(), "{a:?}\n{b:?}");
    }
}

/// A float32 X and a float64 y written as `.npy` files, fitted from the
/// files (one pass for the standardization, then blocks of a few dozen
/// rows) and from the arrays in memory.
#[cfg(feature = "npy")]
#[test]
fn an_npy_file_streamed_through_a_small_budget_fits_like_the_arrays() {
    use downhill::data::npy::NpyData;
    let (x, y) = data(Model::Linear);
    let dir = std::env::temp_dir().join(format!("downhill-streaming-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (x_path, y_path) = (dir.join("x.npy"), dir.join("y.npy"));
    ndarray_npy::write_npy(&x_path, &x).unwrap();
    ndarray_npy::write_npy(&y_path, &y.mapv(f64::from)).unwrap();
    let file = NpyData::open(&x_path, &y_path).unwrap();
    let settings = descent(Model::Linear)
        .standardize_target(true)
        .optimizer(Optimizer::nesterov(1.0, 0.0))
        .auto_learning_rate(true)
        .auto_momentum(true)
        .max_epochs(60);
    let in_memory = settings.clone().fit(x.view(), y.view()).unwrap();
    let streamed = settings.memory_budget(TINY).fit_source(&file).unwrap();
    let (a, b) = (
        in_memory.standardizer().unwrap(),
        streamed.standardizer().unwrap(),
    );
    close(a.mean().as_slice().unwrap(), b.mean().as_slice().unwrap(), 1e-6);
    close(a.scale().as_slice().unwrap(), b.scale().as_slice().unwrap(), 1e-6);
    close(&parameters(&in_memory), &parameters(&streamed), 1e-4);
    // The settings that need the rows in memory say so.
    let error = descent(Model::Linear)
        .validation_fraction(0.1)
        .fit_source(&file)
        .unwrap_err();
    assert_eq!(
        error,
        Error::Estimator(downhill::EstimatorError::NotWithSource {
            setting: "validation_fraction"
        })
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(feature = "npy")]
#[test]
fn synthetic_data_written_to_npy_files_equals_the_generated_arrays() {
    use downhill::data::npy::{write_synthetic, NpyData};
    let dir = std::env::temp_dir().join(format!("downhill-synthetic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (x_path, y_path) = (dir.join("x.npy"), dir.join("y.npy"));
    for model in [Model::Linear, Model::Logistic] {
        let (weights, bias) = write_synthetic(model, 40_000, 5, 0.1, 9, &x_path, &y_path).unwrap();
        let generated = Synthetic::generate(model, 40_000, 5, 0.1, 9).unwrap();
        let file = NpyData::open(&x_path, &y_path).unwrap();
        assert_eq!(file.x().unwrap(), generated.x);
        assert_eq!(file.y().unwrap(), generated.y);
        assert_eq!((weights, bias), (generated.weights, generated.bias));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[path = "common/mod.rs"]
mod common;

/// A file source on the GPU engine: uploaded block by block (the device
/// holds X; no host copy of the file), the fit equal to the CPU engine's
/// within float32 rounding.
#[cfg(all(feature = "npy", feature = "gpu"))]
#[test]
fn an_npy_file_fits_on_the_gpu_like_on_the_cpu() {
    use downhill::data::npy::NpyData;
    let Some(context) = common::gpu("an npy source on the GPU") else {
        return;
    };
    let (x, y) = data(Model::Logistic);
    let dir = std::env::temp_dir().join(format!("downhill-gpu-source-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (x_path, y_path) = (dir.join("x.npy"), dir.join("y.npy"));
    ndarray_npy::write_npy(&x_path, &x).unwrap();
    ndarray_npy::write_npy(&y_path, &y).unwrap();
    let file = NpyData::open(&x_path, &y_path).unwrap();
    let settings = descent(Model::Logistic).optimizer(Optimizer::adam(0.05));
    let cpu = settings.clone().fit_source(&file).unwrap();
    let gpu = settings
        .device(Device::Gpu)
        .gpu_context(context)
        .fit_source(&file)
        .unwrap();
    assert_eq!(gpu.device(), Device::Gpu);
    let (a, b) = (cpu.history().losses(), gpu.history().losses());
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() <= 1e-4 * x.abs(), "{a:?}\n{b:?}");
    }
    close(&parameters(&cpu), &parameters(&gpu), 1e-3);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Rows beyond the GPU's budget stream through the device every epoch:
/// a budget of a few kilobytes makes blocks of a few dozen rows. The full
/// batch, the curvature for the automatic rate and the held-out loss then
/// match the CPU engine within float32 rounding.
#[cfg(feature = "gpu")]
#[test]
fn rows_beyond_the_gpu_budget_stream_through_the_device() {
    let Some(context) = common::gpu("streaming through the GPU") else {
        return;
    };
    for model in [Model::Linear, Model::Logistic] {
        let (x, y) = data(model);
        let settings = descent(model)
            .optimizer(Optimizer::nesterov(1.0, 0.0))
            .auto_learning_rate(true)
            .auto_momentum(true)
            .validation_fraction(0.2);
        let cpu = settings.clone().fit(x.view(), y.view()).unwrap();
        let gpu = settings
            .device(Device::Gpu)
            .gpu_context(context.clone())
            .gpu_memory_budget(TINY)
            .fit(x.view(), y.view())
            .unwrap();
        assert_eq!(gpu.device(), Device::Gpu);
        let (a, b) = (cpu.curvature().unwrap(), gpu.curvature().unwrap());
        assert!((a.largest - b.largest).abs() <= 1e-4 * a.largest, "{a:?} {b:?}");
        let (a, b) = (cpu.history().losses(), gpu.history().losses());
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-4 * x.abs(), "{model}: {a:?}\n{b:?}");
        }
        let held_out = |f: &Fitted| -> Vec<f64> {
            f.history()
                .records()
                .iter()
                .filter_map(|r| r.validation_loss)
                .collect()
        };
        for (x, y) in held_out(&cpu).iter().zip(&held_out(&gpu)) {
            assert!((x - y).abs() <= 1e-4 * x.abs(), "{model}: {x} {y}");
        }
        close(&parameters(&cpu), &parameters(&gpu), 1e-3);
    }
}

/// Mini-batches over blocks streamed through the GPU follow the same
/// order as the CPU engine, epoch by epoch, and repeat exactly per seed.
#[cfg(feature = "gpu")]
#[test]
fn streamed_mini_batches_on_the_gpu_follow_the_cpu_epoch_by_epoch() {
    let Some(context) = common::gpu("streamed mini-batches on the GPU") else {
        return;
    };
    for model in [Model::Linear, Model::Logistic] {
        let (x, y) = data(model);
        for (shuffle, batch) in [
            (Shuffle::Blocks { rows: 100 }, 32),
            (Shuffle::Blocks { rows: 64 }, 64),
            (Shuffle::None, 40),
        ] {
            let settings = descent(model)
                .max_epochs(4)
                .variant(Variant::MiniBatch(batch))
                .shuffle(shuffle)
                .optimizer(Optimizer::adam(0.01));
            let cpu = settings.clone().fit(x.view(), y.view()).unwrap();
            let on_gpu = settings
                .device(Device::Gpu)
                .gpu_context(context.clone())
                .gpu_memory_budget(SMALL);
            let gpu = on_gpu.fit(x.view(), y.view()).unwrap();
            let again = on_gpu.fit(x.view(), y.view()).unwrap();
            assert_eq!(parameters(&gpu), parameters(&again), "{model} {shuffle}");
            let (a, b) = (cpu.history().losses(), gpu.history().losses());
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() <= 1e-4 * x.abs(), "{model} {shuffle}: {a:?}\n{b:?}");
            }
            close(&parameters(&cpu), &parameters(&gpu), 1e-3);
        }
    }
}

#[cfg(feature = "gpu")]
#[test]
fn streamed_mini_batches_on_the_gpu_need_blocks_at_least_a_batch_long() {
    let Some(context) = common::gpu("streaming orders on the GPU") else {
        return;
    };
    let (x, y) = data(Model::Linear);
    let on_gpu = descent(Model::Linear)
        .device(Device::Gpu)
        .gpu_context(context)
        .gpu_memory_budget(TINY);
    let rows = on_gpu
        .clone()
        .variant(Variant::MiniBatch(32))
        .fit(x.view(), y.view())
        .unwrap_err();
    assert!(
        matches!(
            rows,
            Error::Data(DataError::StreamingNeedsBlocks { rows: 3001, .. })
        ),
        "{rows}"
    );
    let long = on_gpu
        .clone()
        .variant(Variant::MiniBatch(40))
        .shuffle(Shuffle::Blocks { rows: 30 })
        .fit(x.view(), y.view())
        .unwrap_err();
    assert_eq!(
        long,
        Error::Engine(downhill::EngineError::BatchBeyondBlock {
            batch: 40,
            block_rows: 30
        })
    );
    // 4 KB over three slots of 8 floats a row: blocks of 42 rows at most.
    let beyond = on_gpu
        .variant(Variant::MiniBatch(32))
        .shuffle(Shuffle::Blocks { rows: 100 })
        .fit(x.view(), y.view())
        .unwrap_err();
    assert_eq!(
        beyond,
        Error::Data(DataError::ShuffleBlocksBeyondBudget {
            rows: 100,
            budget_rows: 42
        })
    );
}

#[test]
#[cfg(feature = "npy")] // a .npy file
fn a_non_finite_feature_of_a_streamed_file_is_named_by_row_and_column() {
    use downhill::data::npy::NpyData;
    let (mut x, y) = data(Model::Linear);
    x[[2500, 4]] = f32::INFINITY;
    let dir = std::env::temp_dir().join(format!("downhill-streaming-nan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (x_path, y_path) = (dir.join("x.npy"), dir.join("y.npy"));
    ndarray_npy::write_npy(&x_path, &x).unwrap();
    ndarray_npy::write_npy(&y_path, &y).unwrap();
    let file = NpyData::open(&x_path, &y_path).unwrap();
    // Standardized or not: the first pass over the rows finds it.
    for standardize in [true, false] {
        let error = descent(Model::Linear)
            .standardize(standardize)
            .memory_budget(TINY)
            .fit_source(&file)
            .unwrap_err();
        assert_eq!(
            error,
            Error::Data(DataError::NonFiniteFeature {
                row: 2500,
                column: 4,
                value: f32::INFINITY
            }),
            "standardize {standardize}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
