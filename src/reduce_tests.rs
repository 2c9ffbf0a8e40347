//! Tests of the data-parallel seam (src/reduce.rs): ranks made of
//! threads, whose all-reduce adds their slots in rank order.

mod threads {
    use std::sync::{Barrier, Mutex};

    use crate::distributed::Collective;
    use crate::error::Result;

    /// Ranks that are threads of one process: each writes its values to
    /// its slot, all wait, each adds the slots in rank order, all wait
    /// again before the slots are written anew.
    pub(crate) struct ThreadGroup {
        slots: Mutex<Vec<Vec<f64>>>,
        barrier: Barrier,
        barrier_size: usize,
    }

    impl ThreadGroup {
        pub(crate) fn new(ranks: usize) -> Self {
            ThreadGroup {
                slots: Mutex::new(vec![Vec::new(); ranks]),
                barrier: Barrier::new(ranks),
                barrier_size: ranks,
            }
        }

        /// The reducer of rank `rank`.
        pub(crate) fn rank(self: &std::sync::Arc<Self>, rank: usize) -> RankOf {
            RankOf {
                group: std::sync::Arc::clone(self),
                rank,
            }
        }
    }

    /// One rank of a [`ThreadGroup`].
    pub(crate) struct RankOf {
        group: std::sync::Arc<ThreadGroup>,
        rank: usize,
    }

    impl Collective for RankOf {
        fn rank(&self) -> usize {
            self.rank
        }

        fn size(&self) -> usize {
            self.group.barrier_size
        }

        fn all_reduce_sum(&self, values: &mut [f64]) -> Result<()> {
            self.group.slots.lock().expect("no rank panicked")[self.rank] = values.to_vec();
            self.group.barrier.wait();
            {
                let slots = self.group.slots.lock().expect("no rank panicked");
                for (k, value) in values.iter_mut().enumerate() {
                    *value = slots.iter().map(|slot| slot[k]).sum();
                }
            }
            self.group.barrier.wait();
            Ok(())
        }
    }
}

mod engine_steps {
    use std::sync::Arc;

    use super::threads::ThreadGroup;
    use crate::data::source::InMemory;
    use crate::data::synthetic::Synthetic;
    use crate::engine::cpu::CpuEngine;
    use crate::estimator::settings::GradientDescent;
    use crate::math::loss::Loss;
    use crate::math::model::Model;
    use crate::math::objective::{Objective, Penalty};
    use crate::math::optim::Rule;
    use crate::reduce::Reducer;
    use crate::train::driver::{train, Outcome};
    use crate::train::state::Start;

    /// A full-batch fit split over `shards` (row counts) as ranks of one
    /// thread group: each rank's outcome.
    fn ranks(
        x: &ndarray::Array2<f32>,
        y: &ndarray::Array1<f32>,
        shards: &[usize],
        loss: Loss,
    ) -> Vec<Outcome> {
        let group = Arc::new(ThreadGroup::new(shards.len()));
        let margins = loss.margins();
        std::thread::scope(|scope| {
            let mut start = 0;
            let handles: Vec<_> = shards
                .iter()
                .enumerate()
                .map(|(rank, &rows)| {
                    let (x, y) = (
                        x.slice(ndarray::s![start..start + rows, ..]),
                        y.slice(ndarray::s![start..start + rows]),
                    );
                    start += rows;
                    let group = Arc::clone(&group);
                    scope.spawn(move || {
                        let mut plan = plan(loss);
                        plan.reducer = Some(Reducer(Arc::new(group.rank(rank))));
                        let source = InMemory::unchecked(x, y);
                        let zeros = vec![0.0; (x.ncols() + 1) * margins];
                        // A rank waits for the others inside its step: each
                        // its own pool, as each MPI rank is its own process
                        // (on the shared pool, ranks beyond its threads
                        // would wait for ever).
                        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
                        pool.install(|| {
                            train(
                                &CpuEngine::default(),
                                &source,
                                None,
                                objective(loss),
                                &plan,
                                Start::Fresh(zeros),
                                None,
                            )
                            .unwrap()
                        })
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    fn plan(loss: Loss) -> crate::train::plan::TrainingPlan {
        GradientDescent::logistic()
            .loss(loss)
            .optimizer(Rule::Nesterov.with(0.5, 0.9))
            .max_epochs(40)
            .check()
            .unwrap()
            .training
    }

    fn objective(loss: Loss) -> Objective {
        Objective {
            loss,
            penalty: Penalty::L2(0.01),
        }
    }

    /// 1, 2 and 3 ranks over uneven shards reach the parameters of one
    /// process within float32 tolerance, every rank the same bits; one rank
    /// equals the local engine bit for bit.
    #[test]
    fn ranks_of_uneven_shards_equal_one_process() {
        let data = Synthetic::generate(Model::Logistic, 300, 4, 0.3, 6).unwrap();
        let mut three = data.y.clone();
        for (i, y) in three.iter_mut().enumerate() {
            *y = (i % 3) as f32 * *y + if i % 7 == 0 { 2.0 } else { 0.0 };
            *y = y.min(2.0);
        }
        for (loss, y) in [(Loss::Log, &data.y), (Loss::Multinomial { classes: 3 }, &three)] {
            let source = InMemory::unchecked(data.x.view(), y.view());
            let zeros = vec![0.0; 5 * loss.margins()];
            let local = train(
                &CpuEngine::default(),
                &source,
                None,
                objective(loss),
                &plan(loss),
                Start::Fresh(zeros),
                None,
            )
            .unwrap();
            let one = ranks(&data.x, y, &[300], loss);
            assert_eq!(
                one[0].parameters, local.parameters,
                "{loss}: one rank is the local engine"
            );
            for shards in [&[170, 130][..], &[50, 200, 50]] {
                let outcomes = ranks(&data.x, y, shards, loss);
                for outcome in &outcomes[1..] {
                    assert_eq!(
                        outcome.parameters, outcomes[0].parameters,
                        "{loss} {shards:?}: ranks agree"
                    );
                }
                for (a, b) in outcomes[0].parameters.iter().zip(&local.parameters) {
                    assert!(
                        (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                        "{loss} {shards:?}: {a} vs {b}"
                    );
                }
                for (a, b) in outcomes[0].records.iter().zip(&local.records) {
                    assert!(
                        (a.loss - b.loss).abs() <= 1e-6 * b.loss,
                        "{loss} {shards:?}: {a:?} vs {b:?}"
                    );
                }
            }
        }
    }
}

/// The public entry point, `GradientDescent::distributed`, with ranks made
/// of threads: every statistic before the fit and every step go through
/// the collective.
mod fits {
    use std::sync::Arc;

    use ndarray::{s, Array1, Array2};

    use super::threads::ThreadGroup;
    use crate::data::synthetic::Synthetic;
    use crate::error::Error;
    use crate::estimator::fitted::Fitted;
    use crate::estimator::settings::{ClassWeight, GradientDescent, Variant};
    use crate::math::model::Model;
    use crate::math::optim::{Optimizer, Rule};
    use crate::train::solver::Solver;

    /// `settings` fitted by ranks holding `shards` rows of `x`, `y` in
    /// turn, each rank on its own one-thread pool: every rank's result.
    fn ranks(
        settings: &GradientDescent,
        x: &Array2<f32>,
        y: &Array1<f32>,
        shards: &[usize],
    ) -> Vec<crate::error::Result<Fitted>> {
        let mut start = 0;
        let jobs = shards
            .iter()
            .map(|&rows| {
                let rows = start..start + rows;
                start = rows.end;
                (
                    settings.clone(),
                    x.slice(s![rows.clone(), ..]).to_owned(),
                    y.slice(s![rows]).to_owned(),
                )
            })
            .collect();
        ranks_each(jobs)
    }

    /// Each rank its own settings and rows, each on its own pool: every
    /// rank's result.
    fn ranks_each(
        jobs: Vec<(GradientDescent, Array2<f32>, Array1<f32>)>,
    ) -> Vec<crate::error::Result<Fitted>> {
        let group = Arc::new(ThreadGroup::new(jobs.len()));
        std::thread::scope(|scope| {
            let handles: Vec<_> = jobs
                .into_iter()
                .enumerate()
                .map(|(rank, (settings, x, y))| {
                    let settings = settings.distributed(Arc::new(group.rank(rank)));
                    scope.spawn(move || {
                        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
                        pool.install(|| settings.fit(x.view(), y.view()))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    fn parameters(fitted: &Fitted) -> Vec<f32> {
        fitted
            .coefficients()
            .iter()
            .chain(fitted.intercepts().iter())
            .copied()
            .collect()
    }

    /// Each setting, on 1, 2 and 3 ranks over uneven shards: every rank
    /// the same bits; one rank the local fit's bits; more ranks within
    /// float32 tolerance of it.
    fn check(name: &str, settings: &GradientDescent, x: &Array2<f32>, y: &Array1<f32>, tolerance: f32) {
        let local = settings.fit(x.view(), y.view()).unwrap();
        let n = x.nrows();
        let alone = ranks(settings, x, y, &[n]).pop().unwrap().unwrap();
        assert_eq!(
            parameters(&alone),
            parameters(&local),
            "{name}: one rank is the local fit"
        );
        assert_eq!(alone.history().len(), local.history().len(), "{name}");
        assert_eq!(alone.standardizer(), local.standardizer(), "{name}");
        assert_eq!(alone.curvature(), local.curvature(), "{name}");
        for shards in [
            vec![n / 2 + 20, n - n / 2 - 20],
            vec![n / 6, n - n / 3, n / 6 + n % 6],
        ] {
            let fits: Vec<Fitted> = ranks(settings, x, y, &shards)
                .into_iter()
                .map(|f| f.unwrap())
                .collect();
            for fit in &fits[1..] {
                assert_eq!(
                    parameters(fit),
                    parameters(&fits[0]),
                    "{name} {shards:?}: ranks agree"
                );
            }
            let largest = parameters(&local).iter().fold(1.0f32, |m, p| m.max(p.abs()));
            for (a, b) in parameters(&fits[0]).iter().zip(parameters(&local)) {
                assert!(
                    (a - b).abs() <= tolerance * largest,
                    "{name} {shards:?}: {a} vs {b} (of {largest})"
                );
            }
        }
    }

    #[test]
    fn fits_of_uneven_shards_equal_the_fit_of_all_rows() {
        let linear = Synthetic::generate(Model::Linear, 600, 5, 0.2, 11).unwrap();
        // Raw scales: the standardization's moments must be all rows'.
        let mut x = linear.x.clone();
        x.column_mut(1).mapv_inplace(|v| 40.0 * v + 300.0);
        let logistic = Synthetic::generate(Model::Logistic, 600, 5, 0.2, 12).unwrap();
        let classes: Array1<f32> = logistic
            .x
            .rows()
            .into_iter()
            .map(|r| f32::from(u8::from(r[0] > 0.3) + u8::from(r[1] > 0.0)))
            .collect();
        let full = GradientDescent::linear()
            .standardize(true)
            .auto_learning_rate(true)
            .optimizer(Rule::Nesterov.with(0.1, 0.9))
            .auto_momentum(true)
            .max_epochs(60);
        check("linear, full batch, automatic", &full, &x, &linear.y, 1e-5);
        let batches = GradientDescent::linear()
            .standardize(true)
            .variant(Variant::MiniBatch(32))
            .optimizer(Optimizer::adam(0.01))
            .max_epochs(8)
            .seed(3);
        check("linear, batches of 32, Adam", &batches, &x, &linear.y, 1e-4);
        let log = GradientDescent::logistic()
            .standardize(true)
            .variant(Variant::MiniBatch(50))
            .class_weight(ClassWeight::Balanced)
            .l2(0.01)
            .max_epochs(6);
        check(
            "logistic, batches of 50, balanced",
            &log,
            &logistic.x,
            &logistic.y,
            1e-4,
        );
        let lbfgs = GradientDescent::multinomial(3)
            .standardize(true)
            .solver(Solver::lbfgs())
            .l2(0.01)
            .max_epochs(200);
        check("multinomial, L-BFGS", &lbfgs, &logistic.x, &classes, 1e-4);
    }

    /// Sparse rows shared among ranks as ranges of one CSR matrix (what
    /// each rank of a job reading one file holds): the ranks' CSR passes
    /// fit as one process fits all the rows, for the full batch, L-BFGS,
    /// standardized (the moments of every rank's entries) and mini-batches.
    #[test]
    fn ranks_over_ranges_of_sparse_rows_fit_as_one_process() {
        use crate::data::source::{DataSource, RowRange};
        use crate::data::sparse::CsrData;
        let data = Synthetic::generate(Model::Logistic, 500, 30, 0.2, 21).unwrap();
        // Two entries in three left out: sparse rows.
        let (mut indptr, mut indices, mut values) = (vec![0], Vec::new(), Vec::new());
        for (i, row) in data.x.rows().into_iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                if (i + j) % 3 == 0 {
                    indices.push(j as u32);
                    values.push(v);
                }
            }
            indptr.push(indices.len());
        }
        let rows = CsrData::new(30, indptr, indices, values, data.y.to_vec()).unwrap();
        for (name, settings) in [
            ("full batch", GradientDescent::logistic().l2(1e-3).max_epochs(40)),
            (
                "standardized L-BFGS",
                GradientDescent::logistic()
                    .standardize(true)
                    .solver(Solver::lbfgs())
                    .l2(1e-3)
                    .max_epochs(200),
            ),
            (
                "batches of 20",
                GradientDescent::logistic()
                    .variant(Variant::MiniBatch(20))
                    .optimizer(Optimizer::sgd(0.05))
                    .l2(1e-3)
                    .max_epochs(4)
                    .seed(5),
            ),
        ] {
            let local = settings.fit_source(&rows).unwrap();
            let shards = [0..180, 180..350, 350..500];
            let group = Arc::new(ThreadGroup::new(shards.len()));
            let fits: Vec<Fitted> = std::thread::scope(|scope| {
                let handles: Vec<_> = shards
                    .iter()
                    .enumerate()
                    .map(|(rank, range)| {
                        let settings = settings.clone().distributed(Arc::new(group.rank(rank)));
                        let rows = &rows;
                        scope.spawn(move || {
                            let share = RowRange::new(rows, range.clone()).unwrap();
                            assert!(share.sparse().is_some(), "a range of sparse rows is sparse");
                            let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
                            pool.install(|| settings.fit_source(&share))
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap().unwrap()).collect()
            });
            for fit in &fits[1..] {
                assert_eq!(parameters(fit), parameters(&fits[0]), "{name}: ranks agree");
            }
            let largest = parameters(&local).iter().fold(1.0f32, |m, p| m.max(p.abs()));
            for (a, b) in parameters(&fits[0]).iter().zip(parameters(&local)) {
                assert!(
                    (a - b).abs() <= 1e-4 * largest,
                    "{name}: {a} vs {b} (of {largest})"
                );
            }
        }
    }

    #[test]
    fn a_rank_that_fails_fails_every_rank_naming_it() {
        let data = Synthetic::generate(Model::Logistic, 90, 3, 0.2, 5).unwrap();
        let mut y = data.y.clone();
        y[70] = 0.5; // in the second rank's shard, its row 10
        let settings = GradientDescent::logistic().max_epochs(3);
        for (rank, fit) in ranks(&settings, &data.x, &y, &[60, 30]).into_iter().enumerate() {
            match fit {
                Err(Error::RankFailed { rank: 1, cause }) => {
                    assert!(cause.contains("y[10] is 0.5"), "rank {rank}: {cause}")
                }
                other => panic!("rank {rank}: {other:?}"),
            }
        }
        let empty = ranks(&settings, &data.x, &data.y, &[90, 0]);
        assert!(
            empty
                .iter()
                .all(|f| matches!(f, Err(Error::RankFailed { rank: 1, .. }))),
            "{empty:?}"
        );
    }

    /// What a rank cannot know alone fails every rank alike, instead of
    /// leaving the others waiting in a collective: other settings, rows of
    /// another width, a non-finite feature found after the fit started.
    #[test]
    fn ranks_that_differ_fail_alike_instead_of_waiting() {
        let data = Synthetic::generate(Model::Linear, 80, 3, 0.2, 9).unwrap();
        let (x, y) = (data.x.clone(), data.y.clone());
        let settings = GradientDescent::linear().max_epochs(3);
        let other_seed = ranks_each(vec![
            (settings.clone(), x.clone(), y.clone()),
            (settings.clone().seed(8), x.clone(), y.clone()),
        ]);
        for fit in &other_seed {
            assert!(
                matches!(fit, Err(Error::Distributed { reason }) if reason.contains("rank 1 fits with other settings")),
                "{fit:?}"
            );
        }
        let narrow = x.slice(s![.., ..2]).to_owned();
        let other_width = ranks_each(vec![
            (settings.clone(), x.clone(), y.clone()),
            (settings.clone(), narrow, y.clone()),
        ]);
        for fit in &other_width {
            assert!(
                matches!(fit, Err(Error::Distributed { reason }) if reason.contains("rank 1's rows have 2 features, rank 0's 3")),
                "{fit:?}"
            );
        }
        let mut bad = x.clone();
        bad[[5, 1]] = f32::NAN;
        let non_finite = ranks_each(vec![(settings.clone(), x.clone(), y.clone()), (settings, bad, y)]);
        for fit in &non_finite {
            assert!(
                matches!(fit, Err(Error::RankFailed { rank: 1, cause }) if cause.contains("NaN")),
                "{fit:?}"
            );
        }
    }

    /// Cross-validation on ranks (each its shard and its share of folds
    /// drawn over all rows) is the cross-validation of all rows in one
    /// process: every rank the same scores, each within 1e-5 of one
    /// process's (the fits' sums round otherwise), the same strength
    /// chosen; the area under the ROC curve, not a sum, is refused.
    #[test]
    fn cross_validation_over_ranks_is_that_of_all_rows() {
        use crate::estimator::cv::{CvOptions, CvScoring, Folds};
        let data = Synthetic::generate(Model::Logistic, 900, 4, 0.3, 5).unwrap();
        let (x, y) = (data.x, data.y);
        let folds = Folds::new(900, 3, 2).unwrap();
        let strengths = [0.3f32, 0.03, 0.003];
        let settings = GradientDescent::logistic()
            .solver(Solver::lbfgs())
            .max_epochs(300);
        let options = CvOptions {
            scoring: Some(CvScoring::NegLogLoss),
            ..CvOptions::default()
        };
        let one = settings
            .cross_validate(x.view(), y.view(), &strengths, &folds, options)
            .unwrap();
        let shards = [0..400, 400..900];
        let group = Arc::new(ThreadGroup::new(shards.len()));
        let run = |scoring: CvScoring| -> Vec<crate::error::Result<crate::estimator::cv::CrossValidation>> {
            std::thread::scope(|scope| {
                let handles: Vec<_> = shards
                    .iter()
                    .enumerate()
                    .map(|(rank, range)| {
                        let settings = settings.clone().distributed(Arc::new(group.rank(rank)));
                        let (x, y) = (x.slice(s![range.clone(), ..]), y.slice(s![range.clone()]));
                        let folds = folds.of_rows(range.clone()).unwrap();
                        let options = CvOptions {
                            scoring: Some(scoring),
                            ..options
                        };
                        scope.spawn(move || {
                            let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
                            pool.install(|| settings.cross_validate(x, y, &strengths, &folds, options))
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            })
        };
        let found: Vec<_> = run(CvScoring::NegLogLoss)
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        for part in &found {
            assert_eq!(part.scores, found[0].scores, "ranks agree");
            assert_eq!(part.chosen, one.chosen);
            for (a, b) in part.scores.iter().zip(one.scores.iter()) {
                assert!((a - b).abs() <= 1e-5, "{a} vs {b}");
            }
        }
        for part in run(CvScoring::RocAuc) {
            assert!(
                matches!(
                    part,
                    Err(Error::Estimator(
                        crate::estimator::error::EstimatorError::ScoringOverRanks { .. }
                    ))
                ),
                "{part:?}"
            );
        }
    }
}

/// Scores of rows held in parts ([`crate::metrics::Scoring::over_ranks`])
/// against the scores of all rows in one process, which tests/metrics.rs
/// checks by hand.
mod scores_over_ranks {
    use std::sync::Arc;
    use std::thread;

    use ndarray::{s, Array1, Array2};

    use super::threads::ThreadGroup;
    use crate::error::Error;
    use crate::metrics::{ConfusionMatrix, Scoring};

    /// Every score of rows `y`, `predicted` (labels: 0 … 2, with a
    /// probability column per class), one process's or over ranks.
    #[derive(Debug)]
    struct Scores {
        regression: [f64; 4],
        accuracy: f64,
        log_loss: f64,
        confusion: ConfusionMatrix,
        per_class: Vec<(f64, f64, f64, usize, usize)>,
        cross_entropy: f64,
    }

    fn scores(
        scoring: Scoring,
        y: &Array1<f32>,
        predicted: &Array1<f32>,
        probabilities: &Array2<f32>,
    ) -> Result<Scores, Error> {
        let (y, p) = (y.view(), predicted.view());
        let binary = |v: &Array1<f32>| v.mapv(|c| f32::from(c > 1.0));
        let (y01, p01) = (binary(&y.to_owned()), binary(&p.to_owned()));
        Ok(Scores {
            regression: [
                scoring.r2(y, p)?,
                scoring.mse(y, p)?,
                scoring.rmse(y, p)?,
                scoring.mae(y, p)?,
            ],
            accuracy: scoring.accuracy(y, p)?,
            log_loss: scoring.log_loss(y01.view(), probabilities.column(2))?,
            confusion: scoring.confusion_matrix(y01.view(), p01.view())?,
            per_class: scoring
                .per_class(y, p, 3)?
                .iter()
                .map(|c| (c.precision, c.recall, c.f1, c.support, c.predicted))
                .collect(),
            cross_entropy: scoring.cross_entropy(y, probabilities.view())?,
        })
    }

    /// The scores over ranks holding `shards` rows each, in rank order.
    fn over_ranks(
        y: &Array1<f32>,
        predicted: &Array1<f32>,
        probabilities: &Array2<f32>,
        shards: &[usize],
    ) -> Vec<Result<Scores, Error>> {
        let group = Arc::new(ThreadGroup::new(shards.len()));
        let mut start = 0;
        let handles: Vec<_> = shards
            .iter()
            .enumerate()
            .map(|(rank, &rows)| {
                let rows = start..start + rows;
                start = rows.end;
                let (y, predicted) = (
                    y.slice(s![rows.clone()]).to_owned(),
                    predicted.slice(s![rows.clone()]).to_owned(),
                );
                let probabilities = probabilities.slice(s![rows, ..]).to_owned();
                let rank = group.rank(rank);
                thread::spawn(move || scores(Scoring::over_ranks(&rank), &y, &predicted, &probabilities))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("no rank panicked"))
            .collect()
    }

    fn rows() -> (Array1<f32>, Array1<f32>, Array2<f32>) {
        let n = 97;
        let y: Array1<f32> = (0..n).map(|i| ((i * 7) % 3) as f32).collect();
        let predicted: Array1<f32> = (0..n).map(|i| ((i * 5 + i / 4) % 3) as f32).collect();
        let probabilities = Array2::from_shape_fn((n, 3), |(i, k)| {
            let weights = [1.0 + (i % 5) as f32, 2.0 + (i % 3) as f32, 1.5 + (i % 7) as f32];
            weights[k] / weights.iter().sum::<f32>()
        });
        (y, predicted, probabilities)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    #[test]
    fn the_scores_of_shards_are_the_scores_of_all_rows() {
        let (y, predicted, probabilities) = rows();
        let whole = scores(Scoring::local(), &y, &predicted, &probabilities).unwrap();
        // Uneven shards, one of them empty.
        for shards in [&[97][..], &[40, 57], &[10, 0, 60, 27]] {
            for part in over_ranks(&y, &predicted, &probabilities, shards) {
                let part = part.unwrap();
                let case = format!("{shards:?}: {part:?} vs {whole:?}");
                for (a, b) in part.regression.iter().zip(&whole.regression) {
                    assert!(close(*a, *b), "{case}");
                }
                assert!(close(part.log_loss, whole.log_loss), "{case}");
                assert!(close(part.cross_entropy, whole.cross_entropy), "{case}");
                // Counts and their ratios are exact.
                assert_eq!(part.accuracy, whole.accuracy, "{case}");
                assert_eq!(part.confusion, whole.confusion, "{case}");
                assert_eq!(part.per_class, whole.per_class, "{case}");
            }
        }
    }

    #[test]
    fn a_rank_with_an_invalid_label_fails_every_rank_and_no_rows_is_empty() {
        let (mut y, predicted, probabilities) = rows();
        y[50] = 7.0; // rank 1's row 10
        for part in over_ranks(&y, &predicted, &probabilities, &[40, 57]) {
            assert!(
                matches!(&part, Err(Error::RankFailed { rank: 1, cause }) if cause.contains("7")),
                "{part:?}"
            );
        }
        let none = Array1::<f32>::zeros(0);
        let group = Arc::new(ThreadGroup::new(2));
        let handles: Vec<_> = (0..2)
            .map(|rank| {
                let (rank, none) = (group.rank(rank), none.clone());
                thread::spawn(move || Scoring::over_ranks(&rank).mse(none.view(), none.view()))
            })
            .collect();
        for handle in handles {
            let mse = handle.join().unwrap();
            assert!(matches!(mse, Err(Error::EmptyData { rows: 0, .. })), "{mse:?}");
        }
    }
}
