//! Fitting: the settings checked, the data prepared (held-out rows, weights,
//! the scalings), the engine chosen, the solver run, and the outcome turned
//! into a [`Fitted`].

use crate::estimator::error::EstimatorError;
use crate::train::error::TrainError;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

use crate::data::scaling::{Standardizer, TargetScaling};
use crate::data::source::{
    check_weights, find_non_finite, one_pass, ClassWeighted, DataSource, InMemory, Pass, ReadWhole,
    Standardized, Weighted,
};
use crate::data::{train_test_split, validate_parameters, validate_targets_of};
use crate::engine::choice;
use crate::engine::device::{Device, GPU_MAX_CLASSES};
use crate::engine::{gradient_on, Gradient};
use crate::error::{Error, Result};
use crate::estimator::fitted::Fitted;
use crate::estimator::settings::{Checked, ClassWeight, GradientDescent, Resumed, StartFrom};
use crate::math::model::Model;
use crate::math::optim::Optimizer;
use crate::reduce::{one_pass_of_ranks, Reducer};
use crate::train::curvature::{self, Curvature};
use crate::train::driver::{self, Outcome};
use crate::train::history::{EpochRecord, History, StopReason};
use crate::train::plan::TrainingPlan;
use crate::train::state::Start;

impl GradientDescent {
    /// Fits the model to rows `x` and targets `y`.
    pub fn fit(&self, x: ArrayView2<f32>, y: ArrayView1<f32>) -> Result<Fitted> {
        self.fit_with_weights(x, y, None)
    }

    /// Fits the model to rows `x` and targets `y`, each row weighing
    /// `weights` (scikit-learn's `sample_weight`): the loss and gradient are
    /// weighted means Σ sᵢ ℓᵢ / Σ sᵢ. Weights must be finite and at least 0
    /// ([`Error::InvalidWeight`]), not all 0 ([`Error::ZeroWeights`]), one
    /// per row.
    pub fn fit_weighted(
        &self,
        x: ArrayView2<f32>,
        y: ArrayView1<f32>,
        weights: ArrayView1<f32>,
    ) -> Result<Fitted> {
        self.fit_with_weights(x, y, Some(weights))
    }

    pub(super) fn fit_with_weights(
        &self,
        x: ArrayView2<f32>,
        y: ArrayView1<f32>,
        weights: Option<ArrayView1<f32>>,
    ) -> Result<Fitted> {
        if let Some(ranks) = &self.ranks {
            return self.fit_shard(ranks, x, y, weights);
        }
        let checked = self.check()?;
        only(checked.fit_arrays(std::slice::from_ref(&checked), x, y, weights, Together::Lockstep)?)
    }

    /// A data-parallel fit of this rank's rows `x`, `y` (weighted by
    /// `weights`): the source path's, which the ranks all take.
    fn fit_shard(
        &self,
        ranks: &Reducer,
        x: ArrayView2<f32>,
        y: ArrayView1<f32>,
        weights: Option<ArrayView1<f32>>,
    ) -> Result<Fitted> {
        on_shard(ranks, x, y, weights, |rows| self.fit_source(rows))
    }

    /// A hash of the settings every rank of a data-parallel fit must share
    /// (not the observer, the context, the checkpoint's path, the device
    /// or the memory budgets, which are each rank's own).
    pub(super) fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut shared = self.clone();
        shared.on_epoch = None;
        shared.stop_flag = None;
        shared.gpu_context = None;
        shared.ranks = None;
        shared.checkpoint = None;
        shared.device = Device::Auto;
        shared.memory_budget = None;
        shared.gpu_memory_budget = None;
        let mut hasher = std::hash::DefaultHasher::new();
        format!("{shared:?}").hash(&mut hasher);
        hasher.finish()
    }

    /// Fits the model to the rows of `source` (a file, or rows of the
    /// caller's own making), read block by block: one pass checks the
    /// targets and, where asked, measures the standardization in float64;
    /// the engines then read the rows whole where they fit the memory
    /// budget, else block by block ([`GradientDescent::memory_budget`]).
    /// A validation fraction needs the rows in memory ([`GradientDescent::fit`]).
    pub fn fit_source(&self, source: &dyn DataSource) -> Result<Fitted> {
        // A rank's first collective: all ranks fit the same settings on
        // rows of as many features.
        if let Some(ranks) = &self.ranks {
            ranks.enter(self.fingerprint(), source.features())?;
            if self.validation_fraction.is_some() {
                return Err(Error::Distributed {
                    reason: "a validation fraction holds out rows of one process; hold out rows of each shard instead"
                        .into(),
                });
            }
        }
        let checked = self.check()?;
        only(checked.fit_source(std::slice::from_ref(&checked), source, Together::Lockstep)?)
    }
}

/// Fitting's steps, each reading the checked settings alone.
impl Checked<'_> {
    /// The fits of `members` (these settings and others that share their
    /// preparation of the rows, [`Checked::fit_prepared_together`]) to rows
    /// `x` and targets `y` in memory, each row weighing `weights` where
    /// given: held-out rows drawn, the scalings measured.
    pub(super) fn fit_arrays(
        &self,
        members: &[Checked<'_>],
        x: ArrayView2<f32>,
        y: ArrayView1<f32>,
        weights: Option<ArrayView1<f32>>,
        together: Together,
    ) -> Result<Vec<Fitted>> {
        if let Some(weights) = weights {
            if weights.len() != y.len() {
                return Err(Error::WeightCountMismatch {
                    rows: y.len(),
                    weights: weights.len(),
                });
            }
            // Every weight, held-out rows' too, named by its row here.
            let weights = weights.to_vec();
            check_weights(&weights, 0)?;
        }
        validate_targets_of(self.objective.loss, x, y)?;
        // Held-out rows, where asked for: the fit sees the others only.
        let split = self
            .validation_fraction
            .map(|fraction| train_test_split(x, y, fraction, self.seed, self.model == Model::Logistic))
            .transpose()?;
        let (x, y) = match &split {
            Some(split) => (split.x_train.view(), split.y_train.view()),
            None => (x, y),
        };
        // The weights of the training and the held-out rows.
        let (train_weights, test_weights) = match (weights, &split) {
            (None, _) => (None, None),
            (Some(weights), None) => (Some(weights.to_vec()), None),
            (Some(weights), Some(split)) => {
                let mut held = vec![false; weights.len()];
                split.test_rows.iter().for_each(|&i| held[i] = true);
                let (test, train): (Vec<_>, Vec<_>) = weights.iter().zip(&held).partition(|(_, &h)| h);
                (
                    Some(train.into_iter().map(|(&w, _)| w).collect::<Vec<f32>>()),
                    Some(test.into_iter().map(|(&w, _)| w).collect::<Vec<f32>>()),
                )
            }
        };
        let resuming = matches!(self.start, Some(StartFrom::Resume(_)));
        let fresh = Pass {
            features: (self.standardize && !resuming)
                .then(|| Standardizer::fit(x))
                .transpose()?,
            target: (self.standardize_target && !resuming)
                .then(|| TargetScaling::fit(y))
                .transpose()?,
            target_mean: y.iter().map(|&v| f64::from(v)).sum::<f64>() / y.len().max(1) as f64,
        };
        let data = InMemory::unchecked(x, y);
        let held_out = split
            .as_ref()
            .map(|s| InMemory::unchecked(s.x_test.view(), s.y_test.view()));
        let weighted = train_weights.map(|w| Weighted::new(&data, w)).transpose()?;
        let held_out_weighted = match (&held_out, test_weights) {
            (Some(rows), Some(weights)) => Some(Weighted::held_out(rows, weights)),
            _ => None,
        };
        let data: &dyn DataSource = match &weighted {
            Some(weighted) => weighted,
            None => &data,
        };
        let held_out: Option<&dyn DataSource> = match (&held_out_weighted, &held_out) {
            (Some(weighted), _) => Some(weighted),
            (None, Some(rows)) => Some(rows),
            (None, None) => None,
        };
        self.fit_prepared_together(members, data, held_out, fresh, together)
    }

    /// The fits of `members` to the rows of `source`, read block by block:
    /// one pass checks the targets and measures the scalings.
    pub(super) fn fit_source(
        &self,
        members: &[Checked<'_>],
        source: &dyn DataSource,
        together: Together,
    ) -> Result<Vec<Fitted>> {
        if self.validation_fraction.is_some() {
            return Err(Error::Estimator(EstimatorError::NotWithSource {
                setting: "validation_fraction",
            }));
        }
        let resuming = matches!(self.start, Some(StartFrom::Resume(_)));
        let (features, target) = (
            self.standardize && !resuming,
            self.standardize_target && !resuming,
        );
        let fresh = match self.ranks {
            None => one_pass(source, self.objective.loss, features, target)?,
            Some(ranks) => one_pass_of_ranks(ranks, source, self.objective.loss, features, target)?,
        };
        self.fit_prepared_together(members, source, None, fresh, together)
    }

    /// The engine of the fit: more classes than the GPU kernels hold run on
    /// the CPU, unless the GPU is asked for by name, and so do the
    /// mini-batches of a data-parallel fit (a GPU rank sums the full batch,
    /// or L-BFGS's points, for the ranks to add), and so do `sparse` rows
    /// (the CPU engine reads their stored entries; the GPU's would be the
    /// rows written out dense). Every rank agrees on it.
    pub(super) fn choose_engine(
        &self,
        margins: usize,
        sparse: bool,
    ) -> Result<Box<dyn crate::engine::Engine>> {
        let device = match self.device {
            Device::Auto if margins > GPU_MAX_CLASSES => Device::Cpu,
            Device::Auto if sparse => Device::Cpu,
            Device::Auto if self.ranks.is_some() && self.training.batch_size.is_some() => Device::Cpu,
            device => device,
        };
        self.check_sparse_adam(device, sparse)?;
        let engine = choice::choose(
            device,
            self.gpu_context,
            self.memory_budget,
            self.gpu_memory_budget,
        );
        match self.ranks {
            Some(ranks) => ranks.agree(engine),
            None => engine,
        }
    }

    /// Adam on sparse rows in mini-batches is PyTorch's `SparseAdam`
    /// (engine/cpu/sparse_steps.rs) wherever it runs: refused where that
    /// rule cannot be taken (another engine, ranks) or where its lazy
    /// form does not exist (an L1 penalty, averaging, centred rows), so
    /// that no setting silently switches to dense Adam.
    fn check_sparse_adam(&self, device: Device, sparse: bool) -> Result<()> {
        let sparse_adam = sparse
            && self.training.batch_size.is_some()
            && matches!(self.training.optimizer, crate::math::optim::Optimizer::Adam(_))
            && matches!(
                self.training.solver,
                crate::train::solver::Solver::GradientDescent
            );
        if !sparse_adam {
            return Ok(());
        }
        let refused = |engine| Err(crate::engine::error::EngineError::SparseAdamOnCpuOnly { engine }.into());
        let with = |setting| Err(crate::engine::error::EngineError::SparseAdamWith { setting }.into());
        if device == Device::Gpu {
            refused("the GPU engine")
        } else if self.ranks.is_some() {
            refused("a data-parallel fit")
        } else if self.objective.penalty.l1_strength() != 0.0 {
            with("an L1 penalty")
        } else if self.training.average_from.is_some() {
            with("averaging")
        } else if self.standardize {
            with("standardized rows (their centring touches every weight)")
        } else {
            Ok(())
        }
    }

    /// The features' standardization and the target's scaling the fit
    /// runs on: those of the fit it resumes (which must have asked for the
    /// same), else those measured on the data (`fresh`).
    fn scalings(
        &self,
        resumed: Option<&Resumed>,
        fresh: &Pass,
    ) -> Result<(Option<Standardizer>, Option<TargetScaling>)> {
        let target_scaling = match (self.standardize_target, self.start) {
            (false, _) => None,
            (true, Some(StartFrom::Resume(fitted))) => {
                Some(fitted.target_scaling.ok_or_else(|| Error::ResumeMismatch {
                    reason: "the fit resumed from did not standardize its target; this one does".into(),
                })?)
            }
            (true, _) => fresh.target,
        };
        let standardizer = match resumed {
            Some(fitted) if self.standardize => {
                Some(fitted.standardizer.clone().ok_or_else(|| Error::ResumeMismatch {
                    reason: "the fit resumed from did not standardize; this one does".into(),
                })?)
            }
            Some(fitted) if fitted.standardizer.is_some() => {
                return Err(Error::ResumeMismatch {
                    reason: "the fit resumed from standardized; this one does not".into(),
                })
            }
            _ => fresh.features.clone(),
        };
        Ok((standardizer, target_scaling))
    }

    /// Where the fit starts, on the scale the engine sees: zeros, the
    /// parameters of a warm start (checked, then scaled), or the state of
    /// the fit it resumes, which must be of the same model, loss,
    /// averaging, update rule and scaling.
    fn starting_point(
        &self,
        features: usize,
        margins: usize,
        standardizer: Option<&Standardizer>,
        target_scaling: Option<&TargetScaling>,
    ) -> Result<Start> {
        Ok(match self.start {
            None => Start::Fresh(vec![0.0; (features + 1) * margins]),
            Some(StartFrom::Parameters(..)) if margins > 1 => {
                return Err(Error::Estimator(EstimatorError::PerClass {
                    method: "warm_start",
                    classes: margins,
                    instead: "resume",
                }))
            }
            Some(StartFrom::Parameters(weights, bias)) => {
                validate_parameters(weights.view(), *bias, features)?;
                let (weights, bias) = match standardizer {
                    Some(s) => s.to_standardized(weights.view(), *bias)?,
                    None => (weights.clone(), *bias),
                };
                let (weights, bias) = match target_scaling {
                    Some(t) => t.to_scaled(weights.view(), bias),
                    None => (weights, bias),
                };
                Start::Fresh(weights.iter().copied().chain([bias]).collect())
            }
            Some(StartFrom::Resume(fitted)) => {
                if fitted.model != self.model {
                    return Err(Error::ResumeMismatch {
                        reason: format!(
                            "the fit resumed from is {}, this one {}",
                            fitted.model, self.model
                        ),
                    });
                }
                let (before, now) = (fitted.settings.loss_settings(), self.objective.loss);
                if before != now {
                    return Err(Error::ResumeMismatch {
                        reason: format!(
                            "the fit resumed from minimized the {before} loss, this one the {now}"
                        ),
                    });
                }
                if fitted.target_scaling.is_some() && target_scaling.is_none() {
                    return Err(Error::ResumeMismatch {
                        reason: "the fit resumed from standardized its target; this one does not".into(),
                    });
                }
                let average = self.training.average_from;
                if fitted.settings.average.is_some() && fitted.settings.average != average {
                    return Err(Error::ResumeMismatch {
                        reason: format!(
                            "the fit resumed from averaged from step {:?}, this one {:?}",
                            fitted.settings.average, average
                        ),
                    });
                }
                let (before, now) = (fitted.settings.optimizer.name(), self.training.optimizer.name());
                if before != now {
                    return Err(Error::ResumeMismatch {
                        reason: format!("the fit resumed from ran {before}, this one {now}"),
                    });
                }
                Start::Resume(Box::new(fitted.state.clone()))
            }
        })
    }

    /// The loss's curvature on `source` (over every rank's rows where
    /// `reducer` joins ranks), where a fit of `members` takes its learning
    /// rate or momentum from the data: measured once for all of them.
    /// `data` is the rows before scaling (to name a non-finite value).
    fn curvature(
        &self,
        members: &[Checked<'_>],
        engine: &dyn crate::engine::Engine,
        source: &dyn DataSource,
        data: &dyn DataSource,
        reducer: Option<&Reducer>,
    ) -> Result<Option<Curvature>> {
        if !members
            .iter()
            .any(|m| m.descent_rate_from_data || m.descent_momentum_from_data)
        {
            return Ok(None);
        }
        curvature::measure(engine, source, reducer)
            .map_err(|e| match e {
                // Non-finite X makes the curvature non-finite: name the value.
                Error::Train(TrainError::NoCurvature { .. }) => self.non_finite(data).err().unwrap_or(e),
                other => other,
            })
            .map(Some)
    }

    /// The learning rate and momentum the fit takes from the data, where
    /// asked for (gradient descent only: L-BFGS has no learning rate to
    /// choose), set in `plan` from the loss's `curvature`; the curvature
    /// the fit keeps. `global_rows` is every rank's rows.
    fn automatic_settings(
        &self,
        plan: &mut TrainingPlan,
        curvature: Option<Curvature>,
        fresh: &Pass,
        features: usize,
        global_rows: usize,
    ) -> Option<Curvature> {
        let momentum_from_data = self.descent_momentum_from_data;
        let curvature = curvature.filter(|_| self.descent_rate_from_data || momentum_from_data);
        // The rate and momentum are the penalized objective's; the model
        // keeps the loss's curvature.
        let l2 = self.objective.penalty.l2_strength();
        let penalized =
            curvature.map(|c| curvature::penalized(&c, l2, self.objective.loss, fresh.target_mean));
        if let (true, Some(curvature)) = (momentum_from_data, &penalized) {
            let beta = match (self.descent_rate_from_data, plan.optimizer) {
                // A rate given by hand: β for that rate.
                (false, Optimizer::Momentum(momentum)) => curvature::momentum_for_rate(
                    curvature,
                    self.objective.loss,
                    fresh.target_mean,
                    momentum.learning_rate,
                    momentum.nesterov,
                ),
                _ => curvature::automatic_momentum(curvature),
            };
            plan.optimizer = plan.optimizer.with_momentum(beta);
        }
        if let (true, Some(curvature)) = (self.descent_rate_from_data, &penalized) {
            let rate = curvature::automatic_rate(
                &plan.optimizer,
                self.objective.loss,
                fresh.target_mean,
                curvature,
                plan.batch_size.map(|b| b.min(global_rows)),
                features,
                momentum_from_data,
            );
            plan.optimizer = plan.optimizer.with_learning_rate(rate);
        }
        curvature
    }

    /// The fits of `members` (these settings, and others that differ from
    /// them only in what each model's training runs: [`GradientDescent::fit_many`]
    /// checked that) on `data`, with `held_out` rows where asked for and
    /// the statistics `fresh` measured on `data`: the rows prepared once
    /// (class weights, scalings, the engine, the curvature), then every
    /// member trained on them, in lockstep where there are many
    /// ([`crate::engine::lockstep`]).
    fn fit_prepared_together(
        &self,
        members: &[Checked<'_>],
        data: &dyn DataSource,
        held_out_data: Option<&dyn DataSource>,
        fresh: Pass,
        together: Together,
    ) -> Result<Vec<Fitted>> {
        // Class weights multiply the rows' own weights, on the held-out
        // rows too.
        let factors = self.class_factors(data)?;
        let class_weighted = factors.clone().map(|f| ClassWeighted::new(data, f));
        let held_out_class_weighted = factors
            .zip(held_out_data)
            .map(|(f, rows)| ClassWeighted::new(rows, f));
        let data: &dyn DataSource = match &class_weighted {
            Some(weighted) => weighted,
            None => data,
        };
        let held_out_data: Option<&dyn DataSource> = match &held_out_class_weighted {
            Some(weighted) => Some(weighted),
            None => held_out_data,
        };
        let (rows, features) = (data.rows(), data.features());
        let margins = self.objective.loss.margins();
        // A rank of a data-parallel fit learns where its rows lie (that
        // every rank has as many features, `Reducer::enter` checked).
        let shard = match self.ranks {
            Some(ranks) => {
                let shard = ranks.shard(rows)?;
                if shard.total > u32::MAX as usize {
                    return Err(Error::TooManyRows { rows: shard.total });
                }
                Some(shard)
            }
            None => None,
        };
        let global_rows = shard.map_or(rows, |s| s.total);
        let resumed = match self.start {
            Some(StartFrom::Resume(fitted)) => Some(fitted.as_ref()),
            _ => None,
        };
        let (standardizer, target_scaling) = self.scalings(resumed, &fresh)?;
        let chosen;
        let engine: &dyn crate::engine::Engine = match self.engine {
            Some(engine) => engine,
            None => {
                chosen = self.choose_engine(margins, data.sparse().is_some())?;
                chosen.as_ref()
            }
        };
        // Every member's rule must be one the engine runs alike (the
        // first's was checked choosing it).
        for member in &members[1..] {
            member.check_sparse_adam(engine.device(), data.sparse().is_some())?;
        }
        let standardized = (standardizer.is_some() || target_scaling.is_some())
            .then(|| Standardized::new(data, standardizer.as_ref(), target_scaling));
        let source: &dyn DataSource = match &standardized {
            Some(standardized) => standardized,
            None => data,
        };
        let held_out_standardized = held_out_data.and_then(|rows| {
            (standardizer.is_some() || target_scaling.is_some())
                .then(|| Standardized::new(rows, standardizer.as_ref(), target_scaling))
        });
        let held_out: Option<&dyn DataSource> = match (&held_out_standardized, held_out_data) {
            (Some(standardized), _) => Some(standardized),
            (None, rows) => rows,
        };
        // Many models' runs borrow the rows read once, where they fit the
        // memory budget (each would otherwise read its own copy).
        let read_whole = (members.len() > 1
            && self.ranks.is_none()
            && source.resident().is_none()
            && source.sparse().is_none()
            && 4 * (features as u64 + 1) * rows as u64
                <= self.memory_budget.unwrap_or_else(crate::memory::default_budget))
        .then(|| ReadWhole::new(source))
        .transpose()?;
        let source: &dyn DataSource = match &read_whole {
            Some(rows) => rows,
            None => source,
        };
        let curvature = self.curvature(members, engine, source, data, self.ranks)?;
        let prepared = Prepared {
            data,
            source,
            held_out,
            fresh: &fresh,
            standardizer: standardizer.as_ref(),
            target_scaling,
            shard,
            global_rows,
            resumed,
            features,
            margins,
            curvature,
            column_sums: Default::default(),
            last_evaluations: (together == Together::WarmStarted).then(Default::default),
        };
        if together == Together::WarmStarted {
            // Each model from the last one's parameters (on the engine's
            // scale, which they share), or from the start asked for where
            // none came before or the last diverged.
            let mut fits = Vec::with_capacity(members.len());
            let mut previous: Option<Vec<f32>> = None;
            for member in members {
                let fitted = member.train_prepared(engine, &prepared, previous.as_deref())?;
                let parameters = &fitted.training_state().parameters;
                if parameters.iter().all(|v| v.is_finite())
                    && !matches!(fitted.stop_reason(), StopReason::Diverged { .. })
                {
                    previous = Some(parameters.clone());
                }
                fits.push(fitted);
            }
            return Ok(fits);
        }
        // The ranks of a data-parallel fit join in every pass, one model
        // at a time; so do the models of rows too few for a shared pass to
        // repay the threads' hand-overs (a pass of a few microseconds).
        if members.len() == 1 || self.ranks.is_some() || rows * features.max(1) < LOCKSTEP_VALUES {
            return members
                .iter()
                .map(|member| member.train_prepared(engine, &prepared, None))
                .collect();
        }
        self.check_lockstep_memory(members.len(), rows, features, margins)?;
        let (fits, _) =
            crate::engine::lockstep::run(engine, source, self.objective.loss, members.len(), |k, engine| {
                members[k].train_prepared(engine, &prepared, None)
            })?;
        fits.into_iter().collect()
    }

    /// [`EstimatorError::TooManyModels`] where `models` models fitted
    /// together on `rows` rows of `features` features (`margins` margins a
    /// row) would take more than the memory budget besides the rows: each
    /// keeps the sums of every chunk of a pass (one per 128 or 1024 rows),
    /// its parameters, gradient and optimizer state (four copies at most)
    /// and a thread's stack (some 64 KiB in use).
    fn check_lockstep_memory(
        &self,
        models: usize,
        rows: usize,
        features: usize,
        margins: usize,
    ) -> Result<()> {
        let parameters = ((features + 1) * margins) as u64;
        // The CPU pass's chunks: 1024 rows from 65,536 rows, else 128.
        let chunk_rows = if rows >= 1 << 16 { 1024 } else { 128 };
        let chunks = rows.div_ceil(chunk_rows) as u64;
        let each = 4 * parameters * (chunks + 4) + 24 * chunks + (64 << 10);
        let bytes = each.saturating_mul(models as u64);
        let budget = self.memory_budget.unwrap_or_else(crate::memory::default_budget);
        match bytes > budget {
            true => Err(Error::Estimator(EstimatorError::TooManyModels {
                models,
                bytes,
                budget,
            })),
            false => Ok(()),
        }
    }

    /// One model's training on rows `prepared` for it (and perhaps for
    /// others) on `engine`: where it starts, its automatic settings, the
    /// driver's run, and the outcome as a [`Fitted`].
    /// The fit of these settings on the `prepared` rows, from `from` (the
    /// parameters on the engine's scale, with a fresh optimizer state)
    /// where given, else from the start they ask for.
    fn train_prepared(
        &self,
        engine: &dyn crate::engine::Engine,
        prepared: &Prepared<'_>,
        from: Option<&[f32]>,
    ) -> Result<Fitted> {
        let (features, margins) = (prepared.features, prepared.margins);
        let mut plan = self.training.clone();
        if let (Some(ranks), Some(shard)) = (self.ranks, prepared.shard) {
            plan.reducer = Some(ranks.clone());
            plan.shard = Some(shard);
        }
        plan.column_sums = Some(prepared.column_sums.clone());
        plan.last_evaluations = prepared.last_evaluations.clone();
        let start = match from {
            Some(parameters) => Start::Fresh(parameters.to_vec()),
            None => self.starting_point(
                features,
                margins,
                prepared.standardizer,
                prepared.target_scaling.as_ref(),
            )?,
        };
        let curvature = self.automatic_settings(
            &mut plan,
            prepared.curvature,
            prepared.fresh,
            features,
            prepared.global_rows,
        );
        let objective = self.objective;
        plan.wait_for_momentum_under_l1(objective.penalty.l1_strength(), prepared.global_rows);
        let assembly = Assembly {
            settings: self.settings,
            resumed: prepared.resumed,
            standardizer: prepared.standardizer,
            target_scaling: prepared.target_scaling,
            curvature,
            device: engine.device(),
            optimizer: plan.optimizer,
            features,
            margins,
        };
        let to_fitted = |outcome: Outcome| assembly.fitted(outcome);
        // Each checkpoint is the fit so far, saved as a model is.
        #[cfg(feature = "serde")]
        let write_checkpoint = |snapshot: &Outcome| -> Result<()> {
            let Some(checkpoint) = self.checkpoint else {
                return Ok(());
            };
            let write = || -> Result<()> {
                let fitted = to_fitted(snapshot.clone())?;
                match &checkpoint.encoding {
                    Some(encoding) => fitted.with_encoding(encoding.clone())?.save(&checkpoint.path),
                    None => fitted.save(&checkpoint.path),
                }
            };
            // Every rank holds the same fit: rank 0 writes it, and all
            // learn whether it could.
            match self.ranks {
                None => write(),
                Some(ranks) if ranks.0.rank() == 0 => ranks.agree(write()),
                Some(ranks) => ranks.agree(Ok(())),
            }
        };
        #[cfg(feature = "serde")]
        let checkpoint: Option<driver::WriteCheckpoint> = self
            .checkpoint
            .as_ref()
            .map(|_| &write_checkpoint as driver::WriteCheckpoint);
        #[cfg(not(feature = "serde"))]
        let checkpoint = None;
        let outcome = driver::train(
            engine,
            prepared.source,
            prepared.held_out,
            objective,
            &plan,
            start,
            checkpoint,
        )?;
        if outcome.records.first().is_some_and(|r| !r.loss.is_finite()) {
            self.non_finite(prepared.data)?;
        }

        to_fitted(outcome)
    }

    /// The first non-finite feature of `data` as the error naming it: on
    /// a rank of a data-parallel fit, every rank learns of it.
    fn non_finite(&self, data: &dyn DataSource) -> Result<()> {
        match self.ranks {
            Some(ranks) => ranks.agree(find_non_finite(data)),
            None => find_non_finite(data),
        }
    }

    /// The factor of each class's label (0, 1, …) that the class weights
    /// ask for, where they ask: `Balanced` counts the labels of `data` (one
    /// pass over its targets).
    fn class_factors(&self, data: &dyn DataSource) -> Result<Option<Vec<f32>>> {
        let classes = self.objective.loss.classes().unwrap_or(2);
        match self.class_weight {
            None => Ok(None),
            Some(ClassWeight::Given { negative, positive }) => Ok(Some(vec![negative, positive])),
            Some(ClassWeight::Balanced) => {
                let mut rows = data.rows();
                let count = || -> Result<Vec<usize>> {
                    let mut counts = vec![0usize; classes];
                    let block = 1 << 16;
                    for start in (0..rows).step_by(block) {
                        let targets = data.targets(start, block.min(rows - start))?;
                        for &y in targets.iter() {
                            if let Some(count) = counts.get_mut(y as usize) {
                                *count += 1;
                            }
                        }
                    }
                    Ok(counts)
                };
                let mut counts = match self.ranks {
                    Some(ranks) => ranks.agree(count())?,
                    None => count()?,
                };
                // A data-parallel fit weighs the classes of every rank's rows.
                if let Some(ranks) = self.ranks {
                    let mut totals: Vec<f64> =
                        counts.iter().map(|&c| c as f64).chain([rows as f64]).collect();
                    ranks.0.all_reduce_sum(&mut totals)?;
                    rows = totals.pop().unwrap_or_default() as usize;
                    counts = totals.into_iter().map(|c| c as usize).collect();
                }
                let balanced = |count: usize| match count {
                    0 => 0.0,
                    _ => (rows as f64 / (classes as f64 * count as f64)) as f32,
                };
                Ok(Some(counts.into_iter().map(balanced).collect()))
            }
        }
    }
}

/// `fit` of a rank's rows `x`, `y` in memory, weighted by `weights`
/// where given: every rank checks its rows and weights, and all learn of
/// any rank's bad ones.
pub(super) fn on_shard<T>(
    ranks: &Reducer,
    x: ArrayView2<f32>,
    y: ArrayView1<f32>,
    weights: Option<ArrayView1<f32>>,
    fit: impl FnOnce(&dyn DataSource) -> Result<T>,
) -> Result<T> {
    let rows = ranks.agree(InMemory::new(x, y))?;
    let weighted = ranks.agree(weights.map(|w| Weighted::new(&rows, w.to_vec())).transpose())?;
    match &weighted {
        None => fit(&rows),
        Some(weighted) => fit(weighted),
    }
}

/// How the models of one preparation of the rows are trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Together {
    /// In lockstep: one pass over the rows for every model still fitting,
    /// each model as it would be fitted alone.
    Lockstep,
    /// One after another, each from the parameters the one before reached
    /// (a path's warm starts).
    WarmStarted,
}

/// The fewest values (rows × features) whose models are fitted in
/// lockstep: a pass over 512 KiB of float32 rows takes some tens of
/// microseconds, against a few microseconds for each model's thread to
/// hand over its parameters and take back its sums.
pub(super) const LOCKSTEP_VALUES: usize = 1 << 17;

/// The rows as every model fitted on them sees them, and what was
/// measured on them.
struct Prepared<'p> {
    /// The rows before scaling (to name a non-finite value).
    data: &'p dyn DataSource,
    /// What the engine reads, and its held-out rows.
    source: &'p dyn DataSource,
    held_out: Option<&'p dyn DataSource>,
    /// The statistics measured on `data`.
    fresh: &'p Pass,
    standardizer: Option<&'p Standardizer>,
    target_scaling: Option<TargetScaling>,
    /// Where a rank's rows lie among every rank's.
    shard: Option<crate::reduce::Shard>,
    global_rows: usize,
    /// The fit resumed.
    resumed: Option<&'p Resumed>,
    features: usize,
    margins: usize,
    /// The loss's curvature, where a model takes its rate or momentum from it.
    curvature: Option<Curvature>,
    /// The columns' sums L-BFGS scales by, measured by the first model
    /// that needs them.
    column_sums: crate::train::lbfgs::memory::SharedColumnSums,
    /// In a warm-started path, the last evaluation of the model before
    /// (where the next starts).
    last_evaluations: Option<crate::train::lbfgs::memory::LastEvaluations>,
}

/// What turns the driver's outcome into a [`Fitted`]: the fit's settings
/// and what it learned besides its parameters.
struct Assembly<'a> {
    settings: &'a GradientDescent,
    /// The fit this one resumes, whose history it continues.
    resumed: Option<&'a Resumed>,
    standardizer: Option<&'a Standardizer>,
    target_scaling: Option<TargetScaling>,
    curvature: Option<Curvature>,
    device: Device,
    /// The update rule as the fit ran it (its rate and momentum chosen).
    optimizer: Optimizer,
    features: usize,
    margins: usize,
}

impl Assembly<'_> {
    /// One margin's weights and bias in the original units.
    fn margin_in_original_units(&self, weights: Array1<f32>, bias: f32) -> Result<(Array1<f32>, f32)> {
        let (weights, bias) = match &self.target_scaling {
            Some(t) => t.to_original(weights.view(), bias),
            None => (weights, bias),
        };
        match self.standardizer {
            Some(s) => s.to_original(weights.view(), bias),
            None => Ok((weights, bias)),
        }
    }

    /// The weights (features × margins) and the biases in the original
    /// units.
    fn original_units(&self, parameters: &[f32]) -> Result<(Array2<f32>, Array1<f32>)> {
        let (features, margins) = (self.features, self.margins);
        if parameters.len() != (features + 1) * margins {
            return Err(Error::FeatureCountMismatch {
                expected: (features + 1) * margins,
                found: parameters.len(),
            });
        }
        let (weights, biases) = parameters.split_at(features * margins);
        let weights = ArrayView2::from_shape((features, margins), weights).expect("features × margins");
        let mut original = Array2::zeros((features, margins));
        let mut original_biases = Array1::zeros(margins);
        for k in 0..margins {
            let (w, b) = self.margin_in_original_units(weights.column(k).to_owned(), biases[k])?;
            original.column_mut(k).assign(&w);
            original_biases[k] = b;
        }
        Ok((original, original_biases))
    }

    /// The fit, from the driver's outcome: the final one, or a
    /// checkpoint's snapshot.
    fn fitted(&self, outcome: Outcome) -> Result<Fitted> {
        let (weights, biases) = self.original_units(&outcome.parameters)?;
        // Finite parameters that overflow in the data's units would
        // print as ±inf, score NaN and save as nulls: an error, not a
        // model. (A diverged fit is reported as such.)
        if !matches!(outcome.stop_reason, StopReason::Diverged { .. }) {
            check_finite_coefficients(&weights, &biases, self.standardizer.is_some())?;
        }
        let resumed = self.resumed;
        // A resumed fit's history continues the earlier one's: its records,
        // its clock and its tracked parameters.
        let (mut records, mut parameters) = resumed.map_or_else(Default::default, |f| {
            (f.history.records.clone(), f.history.parameters.clone())
        });
        let seconds_before = records.last().map_or(0.0, |r| r.seconds);
        records.extend(outcome.records.into_iter().map(|r| EpochRecord {
            seconds: seconds_before + r.seconds,
            ..r
        }));
        // Tracked only with one margin (refused by `check` otherwise).
        for path in &outcome.parameter_path {
            let (weights, biases) = self.original_units(path)?;
            parameters.push((weights.column(0).to_owned(), biases[0]));
        }
        let history = History { records, parameters };
        let mut settings = self.settings.clone();
        settings.start = None;
        settings.gpu_context = None;
        settings.ranks = None;
        settings.on_epoch = None;
        settings.stop_flag = None;
        settings.checkpoint = None;
        settings.optimizer = self.optimizer;
        // Checked, and not saved: a loaded model's settings equal these.
        settings.l1_ratio = None;
        Ok(Fitted {
            weights,
            biases,
            history,
            stop_reason: outcome.stop_reason,
            best_epoch: outcome.best_epoch,
            gradient_evaluations: outcome.gradient_evaluations
                + resumed.map_or(0, |f| f.gradient_evaluations),
            work: outcome.work,
            device: self.device,
            standardizer: self.standardizer.cloned(),
            target_scaling: self.target_scaling,
            curvature: self.curvature,
            encoding: resumed.and_then(|f| f.encoding.clone()),
            feature_names: resumed.and_then(|f| f.feature_names.clone()),
            state: outcome.state,
            model: self.settings.model,
            settings,
        })
    }
}

/// The one fit of a fit of one member.
fn only(mut fits: Vec<Fitted>) -> Result<Fitted> {
    Ok(fits.pop().expect("one fit of one member"))
}

/// Evaluates the gradient and the loss of `model` over every row of `x` at
/// weights `w` and bias `b`, on `device`.
///
/// ```
/// use downhill::{gradient, Device, Model};
/// use ndarray::array;
/// let x = array![[1.0f32], [2.0]];
/// let y = array![1.0f32, 2.0];
/// // At w = 0, b = 0 the residuals are −y: ∂/∂w = (2/2)·(−1·1 − 2·2) = −5.
/// let g = gradient(&Device::Cpu, Model::Linear, x.view(), y.view(), array![0.0f32].view(), 0.0)?;
/// assert_eq!(g.weights[0], -5.0);
/// assert_eq!(g.bias, -3.0);
/// assert_eq!(g.loss, 2.5);
/// # Ok::<(), downhill::Error>(())
/// ```
pub fn gradient(
    device: &Device,
    model: Model,
    x: ArrayView2<f32>,
    y: ArrayView1<f32>,
    w: ArrayView1<f32>,
    b: f32,
) -> Result<Gradient> {
    gradient_on(
        choice::choose(*device, None, None, None)?.as_ref(),
        model,
        x,
        y,
        w,
        b,
    )
}

/// [`Error::CoefficientOverflow`] for the first weight (feature by
/// feature, margin by margin) or bias that is not finite in the data's
/// units; `standardized` says whether un-standardizing made it so.
fn check_finite_coefficients(weights: &Array2<f32>, biases: &Array1<f32>, standardized: bool) -> Result<()> {
    let margins = biases.len();
    let overflow = |feature, margin, value| Error::CoefficientOverflow {
        feature,
        margin,
        margins,
        value,
        standardized,
    };
    if let Some(((j, k), &value)) = weights.indexed_iter().find(|(_, w)| !w.is_finite()) {
        return Err(overflow(Some(j), k, value));
    }
    match biases.iter().position(|b| !b.is_finite()) {
        Some(k) => Err(overflow(None, k, biases[k])),
        None => Ok(()),
    }
}
