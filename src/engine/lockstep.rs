//! Many models fitted in lockstep over the same rows: each model's fit
//! runs the one training loop on a thread of its own, on a
//! [`LockstepEngine`] that sends every pass over the shared rows to one
//! [`Lockstep`]; when every model still fitting waits for a pass, the
//! lockstep runs them as one ([`SumsRun::raw_sums_of_many`]: on the CPU
//! engine each chunk of rows is read from memory once for all of them)
//! and hands each model its sums. A model that stops (converged,
//! diverged, failed) leaves, and the rest go on without it.
//!
//! Each model's sums equal those of the same pass alone, so each model
//! follows exactly the steps it would take alone: its full-batch steps
//! are taken on the host from its sums ([`SummedRun`]), as the CPU engine
//! takes them. What the lockstep does not serve (mini-batch epochs,
//! passes over other rows, such as held-out rows) runs on the engine
//! beneath it, each model's on its own thread, side by side. A model's
//! own parallel work runs on rayon's global pool (its thread belongs to
//! no pool), whatever pool the caller runs in.

use std::sync::{Condvar, Mutex, MutexGuard};

use crate::data::source::DataSource;
use crate::engine::device::Device;
use crate::engine::error::EngineError;
use crate::engine::{Engine, EngineRun, RunSpec, SummedRun, SumsRun};
use crate::error::Result;
use crate::math::loss::Loss;
use crate::math::objective::{Objective, RawSums};

/// The passes over one source that many models' fits share.
pub(crate) struct Lockstep<'s> {
    source: &'s dyn DataSource,
    loss: Loss,
    /// Where each model fits rows of its own (a fold's training rows):
    /// which, and the copy of them its fit reads.
    lanes: Option<Vec<Lane<'s>>>,
    round: Mutex<Round>,
    /// Told when the last model still fitting waits, or leaves: a pass
    /// may run (the serving thread waits on it).
    ready: Condvar,
    /// Told when a pass's sums are handed back (the models wait on it).
    answered: Condvar,
}

/// Where the models stand.
struct Round {
    /// Models still fitting.
    live: usize,
    /// Each model's parameters waiting for their pass.
    waiting: Vec<Option<Vec<f32>>>,
    /// Each model's sums, passed back.
    answers: Vec<Option<Result<RawSums>>>,
    /// Passes run, and the models' sums they computed.
    passes: u64,
    sums: u64,
    /// Whether the serving thread has stopped (it failed): a model's
    /// request is then answered with an error, not waited on.
    closed: bool,
}

impl Round {
    /// Whether every model still fitting waits for a pass.
    fn all_wait(&self) -> bool {
        self.waiting.iter().flatten().count() == self.live
    }
}

/// The rows of one model of a lockstep over rows of their own
/// ([`run_in_rows`]): their indices into the shared source, and the copy
/// of them that the model's fit is given, known by where its values lie.
pub(crate) struct Lane<'s> {
    /// Indices into the shared source, in order.
    pub(crate) rows: &'s [u32],
    /// The address of the copy's first value (its rows, in memory): only
    /// compared, never read through.
    pub(crate) copy: usize,
}

/// How many passes a lockstep ran and how many models' sums they gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct LockstepCounts {
    pub(crate) passes: u64,
    pub(crate) sums: u64,
}

impl<'s> Lockstep<'s> {
    /// The lockstep of `models` models over `source`, for sums of `loss`.
    pub(crate) fn new(source: &'s dyn DataSource, loss: Loss, models: usize) -> Self {
        Lockstep {
            source,
            loss,
            lanes: None,
            round: Mutex::new(Round {
                live: models,
                waiting: vec![None; models],
                answers: (0..models).map(|_| None).collect(),
                passes: 0,
                sums: 0,
                closed: false,
            }),
            ready: Condvar::new(),
            answered: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Round> {
        // A model's thread that panicked holds no lock across a pass: the
        // round it left is whole.
        self.round.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs the models' passes on `run` (opened on the shared source) until
    /// every model has left: on the calling thread, which alone touches
    /// `run`.
    pub(crate) fn serve(&self, run: &mut dyn SumsRun) -> LockstepCounts {
        // On a worker thread of a rayon pool, waiting runs the pool's other
        // work instead of sleeping: the models' own parallel work may be
        // queued there, and a pool whose every worker slept here would
        // never run it.
        let on_pool = rayon::current_thread_index().is_some();
        loop {
            let mut round = self.lock();
            while round.live > 0 && !round.all_wait() {
                round = match on_pool {
                    false => self.ready.wait(round).unwrap_or_else(|p| p.into_inner()),
                    true => {
                        drop(round);
                        if rayon::yield_now() != Some(rayon::Yield::Executed) {
                            std::thread::sleep(std::time::Duration::from_micros(20));
                        }
                        self.lock()
                    }
                };
            }
            if round.live == 0 {
                return LockstepCounts {
                    passes: round.passes,
                    sums: round.sums,
                };
            }
            let (models, parameters): (Vec<usize>, Vec<Vec<f32>>) = round
                .waiting
                .iter_mut()
                .enumerate()
                .filter_map(|(model, waiting)| waiting.take().map(|p| (model, p)))
                .unzip();
            drop(round);
            let views: Vec<&[f32]> = parameters.iter().map(Vec::as_slice).collect();
            let answers = match &self.lanes {
                None => run.raw_sums_of_many(&views),
                Some(lanes) => {
                    let rows: Vec<&[u32]> = models.iter().map(|&model| lanes[model].rows).collect();
                    run.raw_sums_of_many_in(&views, &rows)
                }
            };
            let mut round = self.lock();
            round.passes += 1;
            round.sums += models.len() as u64;
            match answers {
                Ok(sums) => {
                    for (model, sums) in models.into_iter().zip(sums) {
                        round.answers[model] = Some(Ok(sums));
                    }
                }
                Err(error) => {
                    for model in models {
                        round.answers[model] = Some(Err(error.clone()));
                    }
                }
            }
            self.answered.notify_all();
        }
    }

    /// `model`'s sums at `parameters`, from the next pass.
    fn raw_sums(&self, model: usize, parameters: &[f32]) -> Result<RawSums> {
        let mut round = self.lock();
        round.waiting[model] = Some(parameters.to_vec());
        if round.all_wait() {
            self.ready.notify_one();
        }
        loop {
            if let Some(answer) = round.answers[model].take() {
                return answer;
            }
            if round.closed {
                return Err(EngineError::LockstepClosed.into());
            }
            round = self.answered.wait(round).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// No more passes will run (the serving thread ends, or failed):
    /// every waiting model is answered with an error.
    fn close(&self) {
        self.lock().closed = true;
        self.answered.notify_all();
    }

    /// `model` fits no more.
    fn leave(&self) {
        let mut round = self.lock();
        round.live -= 1;
        if round.live == 0 || round.all_wait() {
            self.ready.notify_one();
        }
    }
}

/// One model's place in a [`Lockstep`]: leaves it when dropped (the fit
/// ended, failed or panicked).
pub(crate) struct Member<'l, 's> {
    lockstep: &'l Lockstep<'s>,
    model: usize,
}

impl<'l, 's> Member<'l, 's> {
    /// Model number `model` of `lockstep`.
    pub(crate) fn new(lockstep: &'l Lockstep<'s>, model: usize) -> Self {
        Member { lockstep, model }
    }
}

impl Drop for Member<'_, '_> {
    fn drop(&mut self) {
        self.lockstep.leave();
    }
}

/// The engine one model of a lockstep fits on: its full-batch runs and its
/// sums over the shared rows go through the lockstep; everything else to
/// `inner`.
pub(crate) struct LockstepEngine<'m, 'l, 's> {
    pub(crate) inner: &'m dyn Engine,
    pub(crate) member: &'m Member<'l, 's>,
}

impl LockstepEngine<'_, '_, '_> {
    /// Whether the lockstep serves sums of `loss` over `source`: the
    /// shared rows, or where each model has rows of its own, the copy of
    /// this model's (its rows in memory where the lane says).
    fn serves(&self, source: &dyn DataSource, loss: Loss) -> bool {
        let lockstep = self.member.lockstep;
        if loss != lockstep.loss {
            return false;
        }
        match &lockstep.lanes {
            None => std::ptr::addr_eq(source, lockstep.source),
            Some(lanes) => {
                let lane = &lanes[self.member.model];
                source.rows() == lane.rows.len()
                    && source.features() == lockstep.source.features()
                    && source.sparse().is_none()
                    && source
                        .resident()
                        .is_some_and(|block| block.x.as_ptr() as usize == lane.copy)
            }
        }
    }
}

/// A model's sums over the shared rows.
struct MemberSums<'m, 'l, 's> {
    member: &'m Member<'l, 's>,
}

impl SumsRun for MemberSums<'_, '_, '_> {
    fn raw_sums(&mut self, parameters: &[f32]) -> Result<RawSums> {
        self.member.lockstep.raw_sums(self.member.model, parameters)
    }
}

impl Engine for LockstepEngine<'_, '_, '_> {
    fn device(&self) -> Device {
        self.inner.device()
    }

    fn open<'a>(&'a self, source: &'a dyn DataSource, spec: RunSpec) -> Result<Box<dyn EngineRun + 'a>> {
        if spec.steps.shuffled || spec.reducer.is_some() || !self.serves(source, spec.objective.loss) {
            return self.inner.open(source, spec);
        }
        Ok(Box::new(SummedRun::new(
            Box::new(MemberSums { member: self.member }),
            spec,
        )?))
    }

    fn open_sums<'a>(
        &'a self,
        source: &'a dyn DataSource,
        objective: Objective,
    ) -> Result<Box<dyn SumsRun + 'a>> {
        if !self.serves(source, objective.loss) {
            return self.inner.open_sums(source, objective);
        }
        Ok(Box::new(MemberSums { member: self.member }))
    }
}

/// Closes a lockstep when dropped.
struct Closing<'l, 's>(&'l Lockstep<'s>);

impl Drop for Closing<'_, '_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Runs `fit` for each of `models` models on its own thread, each on a
/// [`LockstepEngine`] over `inner` whose passes over `source` (sums of
/// `loss`) are run together on this thread: the fits' results in order.
/// A fit's panic is resumed here once every fit has ended.
pub(crate) fn run<T: Send>(
    inner: &(dyn Engine + Sync),
    source: &dyn DataSource,
    loss: Loss,
    models: usize,
    fit: impl Fn(usize, &dyn Engine) -> Result<T> + Sync,
) -> Result<(Vec<Result<T>>, LockstepCounts)> {
    let shared = inner.open_sums_of_models(source, Objective::unpenalized(loss), models)?;
    serve_models(Lockstep::new(source, loss, models), shared, inner, fit)
}

/// [`run`] for models that each fit rows of their own of `source`, one
/// per lane of `lanes` (the folds of a cross-validation): each model's fit
/// is given a copy of its rows, and its full-batch sums over that copy
/// come from passes over `source` in which each model sums its own rows
/// ([`SumsRun::raw_sums_of_many_in`]), each as its sums over its copy
/// are (bit for bit on the CPU); `None`, with nothing fitted, where
/// `inner` sums no models over rows of their own.
pub(crate) fn run_in_rows<'s, T: Send>(
    inner: &(dyn Engine + Sync),
    source: &'s dyn DataSource,
    loss: Loss,
    lanes: Vec<Lane<'s>>,
    fit: impl Fn(usize, &dyn Engine) -> Result<T> + Sync,
) -> Result<Option<(Vec<Result<T>>, LockstepCounts)>> {
    // The folds' rows, checked against the source when they were made.
    debug_assert!(lanes
        .iter()
        .all(|lane| lane.rows.iter().all(|&i| (i as usize) < source.rows())));
    let models = lanes.len();
    let Some(shared) = inner.open_sums_in_rows(source, Objective::unpenalized(loss), models)? else {
        return Ok(None);
    };
    let lockstep = Lockstep {
        lanes: Some(lanes),
        ..Lockstep::new(source, loss, models)
    };
    serve_models(lockstep, shared, inner, fit).map(Some)
}

/// Runs `fit` for each model of `lockstep` on its own thread, its passes
/// served by `shared` on this thread.
fn serve_models<T: Send>(
    lockstep: Lockstep<'_>,
    mut shared: Box<dyn SumsRun + '_>,
    inner: &(dyn Engine + Sync),
    fit: impl Fn(usize, &dyn Engine) -> Result<T> + Sync,
) -> Result<(Vec<Result<T>>, LockstepCounts)> {
    let models = lockstep.lock().waiting.len();
    let (results, counts) = std::thread::scope(|scope| {
        // However this thread leaves the scope (a pass that panics
        // included), the models waiting for a pass are let go: the scope
        // joins them before it goes on.
        let _closing = Closing(&lockstep);
        let handles: Vec<_> = (0..models)
            .map(|model| {
                let (lockstep, fit) = (&lockstep, &fit);
                let started = std::thread::Builder::new()
                    .name(format!("downhill-model-{model}"))
                    .spawn_scoped(scope, move || {
                        let member = Member::new(lockstep, model);
                        let engine = LockstepEngine {
                            inner,
                            member: &member,
                        };
                        fit(model, &engine)
                    });
                // A model whose thread did not start leaves at once.
                started.map_err(|e| {
                    lockstep.leave();
                    EngineError::NoThread {
                        model,
                        reason: e.to_string(),
                    }
                })
            })
            .collect();
        let counts = lockstep.serve(shared.as_mut());
        let results: Vec<Result<T>> = handles
            .into_iter()
            .map(|handle| match handle {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(error) => Err(error.into()),
            })
            .collect();
        (results, counts)
    });
    Ok((results, counts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::source::InMemory;
    use crate::engine::cpu::CpuEngine;
    use ndarray::{Array1, Array2};

    /// Models that ask for different numbers of passes: a pass runs when
    /// every model still fitting waits, so the passes are the most any
    /// model asked for, and each model's sums are its pass alone's, bit
    /// for bit.
    #[test]
    fn one_pass_serves_every_model_still_fitting() {
        let rows = 5000;
        let x = Array2::from_shape_fn((rows, 3), |(i, j)| ((i * 7 + j * 13) % 17) as f32 / 17.0 - 0.5);
        let y = Array1::from_shape_fn(rows, |i| (i % 5) as f32);
        let source = InMemory::unchecked(x.view(), y.view());
        let engine = CpuEngine::default();
        let asks = [2usize, 5, 3];
        let at = |model: usize, k: usize| vec![0.1 * model as f32, -0.2 * k as f32, 0.3, 0.05 * k as f32];
        let (results, counts) = run(&engine, &source, Loss::Squared, asks.len(), |model, engine| {
            let mut sums = engine.open_sums(&source, Objective::unpenalized(Loss::Squared))?;
            (0..asks[model])
                .map(|k| sums.raw_sums(&at(model, k)))
                .collect::<Result<Vec<_>>>()
        })
        .unwrap();
        assert_eq!(
            counts,
            LockstepCounts {
                passes: 5,
                sums: asks.iter().sum::<usize>() as u64
            }
        );
        let objective = Objective::unpenalized(Loss::Squared);
        for (model, sums) in results.into_iter().enumerate() {
            let sums = sums.unwrap();
            assert_eq!(sums.len(), asks[model]);
            for (k, sums) in sums.iter().enumerate() {
                let alone = engine.raw_sums(&source, &objective, &at(model, k)).unwrap();
                assert_eq!(sums, &alone, "model {model}, pass {k}");
            }
        }
    }

    /// A model whose fit fails leaves; the others go on.
    #[test]
    fn a_failed_model_leaves_the_lockstep() {
        let x = Array2::from_shape_fn((300, 2), |(i, j)| (i + j) as f32 / 300.0);
        let y = Array1::from_shape_fn(300, |i| i as f32 / 300.0);
        let source = InMemory::unchecked(x.view(), y.view());
        let engine = CpuEngine::default();
        let (results, counts) = run(&engine, &source, Loss::Squared, 2, |model, engine| {
            if model == 0 {
                return Err(crate::error::Error::ZeroWeights);
            }
            let mut sums = engine.open_sums(&source, Objective::unpenalized(Loss::Squared))?;
            (0..3)
                .map(|_| sums.raw_sums(&[0.1, 0.2, 0.3]))
                .collect::<Result<Vec<_>>>()
        })
        .unwrap();
        assert!(results[0].is_err());
        assert_eq!(results[1].as_ref().unwrap().len(), 3);
        assert_eq!(counts.passes, 3);
    }
}
