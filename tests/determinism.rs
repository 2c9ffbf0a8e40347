//! A seed fixes a run bit for bit, whatever the number of threads.

use downhill::{Fitted, GradientDescent, Model, Optimizer, Schedule, Synthetic, Variant};
use ndarray::{Array1, Array2};

/// Every bit of a fit that does not depend on the clock: the parameters,
/// and each epoch's loss and learning rate.
fn fingerprint(fitted: &Fitted) -> (Vec<u32>, u32, Vec<(u64, u64)>, u64) {
    (
        fitted.weights().iter().map(|w| w.to_bits()).collect(),
        fitted.bias().to_bits(),
        fitted
            .history()
            .records()
            .iter()
            .map(|r| (r.loss.to_bits(), r.learning_rate.to_bits()))
            .collect(),
        fitted.gradient_evaluations(),
    )
}

/// Enough rows that a full batch and the batches of 1,500 rows are split
/// into many chunks of the CPU engine, summed in parallel.
fn large(model: Model) -> (Array2<f32>, Array1<f32>) {
    let s = Synthetic::generate(model, 5000, 8, 0.3, 21).expect("valid sizes");
    (s.x, s.y)
}

fn settings() -> Vec<(Model, GradientDescent)> {
    let base = |model| {
        GradientDescent::new(model)
            .optimizer(Optimizer::adam(0.05))
            .schedule(Schedule::exponential(0.95))
            .max_epochs(6)
            .seed(99)
    };
    vec![
        (Model::Linear, base(Model::Linear).variant(Variant::Full)),
        (
            Model::Linear,
            base(Model::Linear).variant(Variant::MiniBatch(1500)),
        ),
        (Model::Linear, base(Model::Linear).variant(Variant::MiniBatch(64))),
        (
            Model::Logistic,
            base(Model::Logistic).variant(Variant::Full).l2(0.01),
        ),
        (
            Model::Logistic,
            base(Model::Logistic).variant(Variant::MiniBatch(1500)),
        ),
    ]
}

fn fit(model: Model, descent: &GradientDescent) -> Fitted {
    let (x, y) = large(model);
    descent.fit(x.view(), y.view()).expect("valid data and settings")
}

#[test]
fn the_same_seed_gives_the_same_run_bit_for_bit() {
    for (model, descent) in settings() {
        let (a, b) = (fit(model, &descent), fit(model, &descent));
        assert_eq!(fingerprint(&a), fingerprint(&b), "{descent:?}");
        assert_eq!(a.stop_reason(), b.stop_reason());
    }
}

#[test]
fn the_same_seed_gives_the_same_stochastic_run() {
    let s = Synthetic::generate(Model::Linear, 200, 3, 0.3, 4).expect("valid sizes");
    let run = || {
        GradientDescent::linear()
            .variant(Variant::Stochastic)
            .optimizer(Optimizer::sgd(0.01))
            .max_epochs(5)
            .seed(8)
            .fit(s.x.view(), s.y.view())
            .expect("valid data and settings")
    };
    assert_eq!(fingerprint(&run()), fingerprint(&run()));
}

#[test]
fn another_seed_gives_another_trajectory() {
    let (x, y) = large(Model::Linear);
    for variant in [
        Variant::MiniBatch(64),
        Variant::MiniBatch(1500),
        Variant::Stochastic,
    ] {
        let run = |seed| {
            GradientDescent::linear()
                .variant(variant)
                .optimizer(Optimizer::sgd(0.001))
                .max_epochs(2)
                .seed(seed)
                .fit(x.view(), y.view())
                .expect("valid data and settings")
        };
        let (a, b) = (run(1), run(2));
        assert_ne!(a.weights(), b.weights(), "{variant:?}");
        // The first epoch already differs: it sees the rows in another order.
        assert_ne!(
            a.history().records()[0].loss.to_bits(),
            b.history().records()[0].loss.to_bits(),
            "{variant:?}"
        );
    }
}

#[test]
fn the_full_batch_does_not_depend_on_the_seed() {
    let (x, y) = large(Model::Linear);
    let run = |seed| {
        GradientDescent::linear()
            .optimizer(Optimizer::sgd(0.01))
            .max_epochs(5)
            .seed(seed)
            .fit(x.view(), y.view())
            .expect("valid data and settings")
    };
    assert_eq!(fingerprint(&run(1)), fingerprint(&run(2)));
}

#[test]
fn results_do_not_depend_on_the_number_of_threads() {
    for (model, descent) in settings() {
        let in_pool = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("a thread pool")
                .install(|| fingerprint(&fit(model, &descent)))
        };
        let one = in_pool(1);
        assert_eq!(one, in_pool(2), "{descent:?}");
        assert_eq!(one, in_pool(3), "{descent:?}");
        assert_eq!(
            one,
            fingerprint(&fit(model, &descent)),
            "global pool, {descent:?}"
        );
    }
}

#[test]
fn gradient_evaluation_does_not_depend_on_the_number_of_threads() {
    let (x, y) = large(Model::Logistic);
    let w = Array1::from_shape_fn(x.ncols(), |j| 0.1 * j as f32 - 0.3);
    let evaluate = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool")
            .install(|| {
                let g = downhill::gradient(
                    &downhill::Device::Cpu,
                    Model::Logistic,
                    x.view(),
                    y.view(),
                    w.view(),
                    0.2,
                )
                .expect("valid data");
                (
                    g.weights.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    g.bias.to_bits(),
                    g.loss.to_bits(),
                )
            })
    };
    let one = evaluate(1);
    assert_eq!(one, evaluate(2));
    assert_eq!(one, evaluate(4));
}

#[test]
fn batches_of_more_than_65536_rows_do_not_depend_on_the_number_of_threads() {
    // Batches this large are cut into chunks of 1,024 rows instead of 128.
    let s = Synthetic::generate(Model::Linear, 70_000, 4, 0.3, 5).expect("valid sizes");
    let descent = GradientDescent::linear()
        .optimizer(Optimizer::momentum(0.05, 0.9))
        .max_epochs(3);
    let in_pool = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool")
            .install(|| fingerprint(&descent.fit(s.x.view(), s.y.view()).expect("valid data")))
    };
    let one = in_pool(1);
    assert_eq!(one, in_pool(2));
    assert_eq!(one, in_pool(3));
}

#[test]
fn block_shuffling_is_fixed_by_the_seed_and_differs_from_row_shuffling() {
    let (x, y) = large(Model::Linear);
    let with = |shuffle: downhill::Shuffle, seed: u64| {
        let fitted = GradientDescent::linear()
            .variant(Variant::MiniBatch(64))
            .shuffle(shuffle)
            .optimizer(Optimizer::sgd(0.01))
            .max_epochs(3)
            .seed(seed)
            .device(downhill::Device::Cpu)
            .fit(x.view(), y.view())
            .unwrap();
        fingerprint(&fitted)
    };
    let blocks = downhill::Shuffle::Blocks { rows: 256 };
    assert_eq!(with(blocks, 4), with(blocks, 4));
    assert_ne!(with(blocks, 4), with(blocks, 5));
    assert_ne!(with(blocks, 4), with(downhill::Shuffle::Rows, 4));
    assert_ne!(with(downhill::Shuffle::None, 4), with(downhill::Shuffle::Rows, 4));
}
