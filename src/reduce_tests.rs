//! Tests of the data-parallel seam (src/reduce.rs): ranks made of
//! threads, whose all-reduce adds their slots in rank order.

mod threads {
    use std::sync::{Barrier, Mutex};

    use crate::error::Result;
    use crate::reduce::SumsReducer;

    /// Ranks that are threads of one process: each writes its values to
    /// its slot, all wait, each adds the slots in rank order, all wait
    /// again before the slots are written anew.
    pub(crate) struct ThreadGroup {
        slots: Mutex<Vec<Vec<f64>>>,
        barrier: Barrier,
    }

    impl ThreadGroup {
        pub(crate) fn new(ranks: usize) -> Self {
            ThreadGroup {
                slots: Mutex::new(vec![Vec::new(); ranks]),
                barrier: Barrier::new(ranks),
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

    impl SumsReducer for RankOf {
        fn all_reduce(&self, values: &mut [f64]) -> Result<()> {
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

mod tests {
    use std::sync::Arc;

    use super::threads::ThreadGroup;
    use crate::cpu::CpuEngine;
    use crate::data::Synthetic;
    use crate::driver::{train, Outcome, Start};
    use crate::fit::GradientDescent;
    use crate::loss::Loss;
    use crate::model::Model;
    use crate::objective::{Objective, Penalty};
    use crate::optim::Rule;
    use crate::reduce::Reducer;
    use crate::source::InMemory;

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

    fn plan(loss: Loss) -> crate::driver::TrainingPlan {
        GradientDescent::logistic()
            .loss(loss)
            .optimizer(Rule::Nesterov.with(0.5, 0.9))
            .max_epochs(40)
            .plan()
            .unwrap()
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
