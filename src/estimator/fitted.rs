//! What a fit returns: [`Fitted`], the model with its history and state.

use crate::estimator::error::EstimatorError;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

use crate::data::scaling::{Standardizer, TargetScaling};
use crate::data::source::DataSource;
use crate::data::table::Encoding;
use crate::data::{validate_features, validate_targets_of};
use crate::engine::device::Device;
use crate::engine::WorkCounts;
use crate::error::{Error, Result};
use crate::estimator::settings::{GradientDescent, Resumed, StartFrom};
use crate::math::model::Model;
use crate::metrics;
use crate::train::curvature::Curvature;
use crate::train::history::{History, StopReason};
use crate::train::state::TrainingState;

/// A fitted model: its parameters in the units of the data it was given,
/// how the fit went, and what a resumed fit continues from.
#[derive(Debug, Clone)]
pub struct Fitted {
    pub(crate) model: Model,
    /// features × margins (one column but for the multinomial loss).
    pub(crate) weights: Array2<f32>,
    /// One per margin.
    pub(crate) biases: Array1<f32>,
    pub(crate) history: History,
    pub(crate) stop_reason: StopReason,
    pub(crate) best_epoch: Option<usize>,
    pub(crate) gradient_evaluations: u64,
    pub(crate) work: WorkCounts,
    pub(crate) device: Device,
    pub(crate) standardizer: Option<Standardizer>,
    pub(crate) target_scaling: Option<TargetScaling>,
    pub(crate) curvature: Option<Curvature>,
    pub(crate) encoding: Option<Encoding>,
    pub(crate) feature_names: Option<Vec<String>>,
    pub(crate) settings: GradientDescent,
    pub(crate) state: TrainingState,
}

impl GradientDescent {
    /// Continues exactly where `fitted` stopped: its parameters, optimizer
    /// state, schedule position, shuffling position and stop-rule memory
    /// (under L-BFGS, its curvature pairs, on the same rows), and its
    /// standardization. `max_epochs` counts the epochs of this fit;
    /// the history continues `fitted`'s. With the same settings and data,
    /// a fit of 10 epochs resumed for 10 more equals one fit of 20 (bit for
    /// bit on the CPU).
    ///
    /// (The one setter written here, beside the [`Fitted`] it takes, so
    /// that the settings never name the fitted model.)
    pub fn resume(mut self, fitted: &Fitted) -> Self {
        self.start = Some(StartFrom::Resume(Box::new(Resumed {
            model: fitted.model,
            settings: fitted.settings.clone(),
            standardizer: fitted.standardizer.clone(),
            target_scaling: fitted.target_scaling,
            state: fitted.state.clone(),
            history: fitted.history.clone(),
            gradient_evaluations: fitted.gradient_evaluations,
            encoding: fitted.encoding.clone(),
            feature_names: fitted.feature_names.clone(),
        })));
        self
    }
}

/// Two fits are equal when their models, histories and states are: what
/// the engine did to run them ([`Fitted::work`]) belongs to the run, is not
/// saved, and is not compared (a saved model reads back equal).
impl PartialEq for Fitted {
    fn eq(&self, other: &Self) -> bool {
        // Every field named, so that a new one is not left out unseen.
        let Fitted {
            model,
            weights,
            biases,
            history,
            stop_reason,
            best_epoch,
            gradient_evaluations,
            work: _,
            device,
            standardizer,
            target_scaling,
            curvature,
            encoding,
            feature_names,
            settings,
            state,
        } = self;
        *model == other.model
            && *weights == other.weights
            && *biases == other.biases
            && *history == other.history
            && *stop_reason == other.stop_reason
            && *best_epoch == other.best_epoch
            && *gradient_evaluations == other.gradient_evaluations
            && *device == other.device
            && *standardizer == other.standardizer
            && *target_scaling == other.target_scaling
            && *curvature == other.curvature
            && *encoding == other.encoding
            && *feature_names == other.feature_names
            && *settings == other.settings
            && *state == other.state
    }
}

impl Fitted {
    /// Linear or logistic.
    pub fn model(&self) -> Model {
        self.model
    }
    /// One weight per feature, in the original units: the weights of the
    /// model's one margin (of class 0's for a multinomial model, whose
    /// weights are [`Fitted::coefficients`]).
    pub fn weights(&self) -> ArrayView1<'_, f32> {
        self.weights.column(0)
    }
    /// The intercept, in the original units (class 0's for a multinomial
    /// model, whose intercepts are [`Fitted::intercepts`]).
    pub fn bias(&self) -> f32 {
        self.biases[0]
    }
    /// The weights as features × margins, in the original units: one
    /// column, or one per class for a multinomial model (scikit-learn's
    /// `coef_`, transposed).
    pub fn coefficients(&self) -> ArrayView2<'_, f32> {
        self.weights.view()
    }
    /// The intercepts, one per margin: one, or one per class for a
    /// multinomial model (scikit-learn's `intercept_`).
    pub fn intercepts(&self) -> ArrayView1<'_, f32> {
        self.biases.view()
    }
    /// The classes of a classification model (2 for a binary one), `None`
    /// for a regression.
    pub fn classes(&self) -> Option<usize> {
        self.settings.loss_settings().classes()
    }
    /// The loss per epoch.
    pub fn history(&self) -> &History {
        &self.history
    }
    /// Why the fit stopped.
    pub fn stop_reason(&self) -> StopReason {
        self.stop_reason
    }
    /// The epoch whose parameters the fit returned, when early stopping
    /// chose them (the one with the lowest loss); `None` when they are
    /// those of the last epoch, or the last finite ones of a diverged run.
    pub fn best_epoch(&self) -> Option<usize> {
        self.best_epoch
    }
    /// Batch gradients evaluated (one per step).
    pub fn gradient_evaluations(&self) -> u64 {
        self.gradient_evaluations
    }
    /// What the engine did to run this fit's epochs (not those of the fit
    /// it resumed): dispatches, submissions and readbacks on the GPU, bytes
    /// of X read, seconds spent shuffling.
    pub fn work(&self) -> WorkCounts {
        self.work
    }
    /// The device that ran the fit: `Cpu` or `Gpu`.
    pub fn device(&self) -> Device {
        self.device
    }
    /// The standardization the fit ran on, if it standardized.
    pub fn standardizer(&self) -> Option<&Standardizer> {
        self.standardizer.as_ref()
    }
    /// The scaling of the target the fit ran on, if it scaled it.
    pub fn target_scaling(&self) -> Option<TargetScaling> {
        self.target_scaling
    }
    /// The extreme curvatures of the loss measured for the automatic
    /// learning rate or momentum, where the fit chose either.
    pub fn curvature(&self) -> Option<Curvature> {
        self.curvature
    }
    /// The settings that produced this fit, with the learning rate it ran
    /// with (the one chosen, where it was chosen).
    pub fn settings(&self) -> &GradientDescent {
        &self.settings
    }
    /// scikit-learn's `partial_fit`: `epochs` more epochs over new rows
    /// `x` and `y` (one pass each), continuing exactly where this fit
    /// stood: its parameters, optimizer state (Adam's step count, the
    /// velocities), schedule position and shuffling position. The new rows
    /// are standardized as this fit's rows were (the statistics are not
    /// measured again), the rate and momentum are the ones this fit ran
    /// with, and no tolerance ends the epochs early (a divergence still
    /// does). The history continues this fit's.
    ///
    /// ```
    /// use downhill::{GradientDescent, Optimizer, Synthetic, Variant, Model};
    /// let data = Synthetic::generate(Model::Linear, 2000, 3, 0.1, 1)?;
    /// let (first, second) = (0..1000, 1000..2000);
    /// let slice = |rows: std::ops::Range<usize>| {
    ///     (data.x.slice(ndarray::s![rows.clone(), ..]).to_owned(), data.y.slice(ndarray::s![rows]).to_owned())
    /// };
    /// let (x1, y1) = slice(first);
    /// let fitted = GradientDescent::linear()
    ///     .variant(Variant::MiniBatch(32))
    ///     .optimizer(Optimizer::adam(0.01))
    ///     .max_epochs(1)
    ///     .fit(x1.view(), y1.view())?;
    /// let (x2, y2) = slice(second);
    /// let online = fitted.partial_fit(x2.view(), y2.view(), 1)?;
    /// assert_eq!(online.history().len(), 2);
    /// # Ok::<(), downhill::Error>(())
    /// ```
    pub fn partial_fit(&self, x: ArrayView2<f32>, y: ArrayView1<f32>, epochs: usize) -> Result<Fitted> {
        self.continuation(epochs).fit(x, y)
    }

    /// [`Fitted::partial_fit`] over the rows of `source`.
    pub fn partial_fit_source(&self, source: &dyn DataSource, epochs: usize) -> Result<Fitted> {
        self.continuation(epochs).fit_source(source)
    }

    /// The settings that continue this fit for `epochs` epochs over new
    /// rows: resumed, with the rate and momentum it ran with, no
    /// tolerance and no held-out rows: what [`Fitted::partial_fit`] runs,
    /// for settings to add to (a data-parallel continuation,
    /// [`GradientDescent::distributed`]).
    pub fn continuation(&self, epochs: usize) -> GradientDescent {
        let mut settings = self
            .settings
            .clone()
            .resume(self)
            .max_epochs(epochs)
            .auto_learning_rate(false)
            .auto_momentum(false);
        settings.tolerance = None;
        settings.parameter_tolerance = None;
        settings.validation_fraction = None;
        settings
    }

    /// What [`GradientDescent::resume`] continues from.
    pub fn training_state(&self) -> &TrainingState {
        &self.state
    }
    /// How a table's columns became this model's features, where the
    /// model was fitted to a table read by [`crate::data::table::read_table`].
    pub fn encoding(&self) -> Option<&Encoding> {
        self.encoding.as_ref()
    }
    /// Keeps `encoding` with the model (saved with it), and names the
    /// features by it; an error unless it yields one feature per weight.
    pub fn with_encoding(mut self, encoding: Encoding) -> Result<Self> {
        self = self.with_feature_names(encoding.feature_names())?;
        self.encoding = Some(encoding);
        Ok(self)
    }
    /// The names of the features, where they were given.
    pub fn feature_names(&self) -> Option<&[String]> {
        self.feature_names.as_deref()
    }
    /// Names the features (saved with the model; `predict` on a table
    /// matches columns by them); an error unless there is one per weight.
    pub fn with_feature_names(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Result<Self> {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        if names.len() != self.weights.nrows() {
            return Err(Error::FeatureCountMismatch {
                expected: self.weights.nrows(),
                found: names.len(),
            });
        }
        self.feature_names = Some(names);
        Ok(self)
    }

    /// The margins x·w + b (scikit-learn's `decision_function`), after
    /// checking the shape and the values; a multinomial model has one per
    /// class ([`Fitted::class_margins`]).
    pub fn margins(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        self.one_margin("margins", "class_margins")?;
        Ok(self.class_margins(x)?.column(0).to_owned())
    }

    /// The margins of every row, one column per margin: x·Wₖ + bₖ for each
    /// class k of a multinomial model, the one margin otherwise.
    pub fn class_margins(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        if x.ncols() != self.weights.nrows() {
            return Err(Error::FeatureCountMismatch {
                expected: self.weights.nrows(),
                found: x.ncols(),
            });
        }
        validate_features(x)?;
        if self.weights.ncols() == 1 {
            // One margin: a dot product per row, rows in parallel (a matrix
            // product of one column would first copy x into packed panels).
            // Rows made contiguous first, so that every layout of the same
            // values sums in the same order.
            let (w, b) = (self.weights.column(0), self.biases[0]);
            let x = x.as_standard_layout();
            let z = ndarray::Zip::from(x.rows()).par_map_collect(|row| row.dot(&w) + b);
            return Ok(z.insert_axis(ndarray::Axis(1)));
        }
        Ok(x.dot(&self.weights) + &self.biases)
    }

    /// An error unless the model has one margin per row (`method` asked;
    /// `instead` answers per class).
    fn one_margin(&self, method: &'static str, instead: &'static str) -> Result<()> {
        match self.weights.ncols() {
            1 => Ok(()),
            classes => Err(Error::Estimator(EstimatorError::PerClass {
                method,
                classes,
                instead,
            })),
        }
    }

    /// Predictions: x·w + b for the linear model (e^(x·w + b) under the
    /// Poisson loss), the class for the logistic model: 1 where the margin
    /// is positive (the probability exceeds 0.5), else 0 (as scikit-learn);
    /// for a multinomial model the class of the largest margin (the first
    /// of equal ones).
    pub fn predict(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        Ok(self.predictions(self.class_margins(x)?))
    }

    /// The margins of every row of `source`, a column per margin, as
    /// [`Fitted::class_margins`] gives them: from a source's sparse rows
    /// ([`DataSource::sparse`]) their stored entries alone, from any other
    /// source a block of rows at a time (at most 64 MiB of them).
    pub fn class_margins_of_source(&self, source: &dyn DataSource) -> Result<Array2<f32>> {
        let (d, k) = (self.weights.nrows(), self.weights.ncols());
        if source.features() != d {
            return Err(Error::FeatureCountMismatch {
                expected: d,
                found: source.features(),
            });
        }
        let n = source.rows();
        if let Some(sparse) = source.sparse() {
            // Standardized rows: the weights over the scales, the centring
            // in the biases.
            let mut folded: Vec<f64> = self
                .weights
                .iter()
                .chain(self.biases.iter())
                .map(|&v| f64::from(v))
                .collect();
            sparse.fold(&mut folded, k);
            let folded: Vec<f32> = folded.into_iter().map(|v| v as f32).collect();
            let (weights, biases) = folded.split_at(d * k);
            let weights = ArrayView2::from_shape((d, k), weights).map_err(|_| Error::ShapeMismatch {
                x_rows: d,
                y_len: weights.len() / k.max(1),
            })?;
            let biases = ArrayView1::from(biases);
            let csr = sparse.csr;
            let mut z = Array2::zeros((n, k));
            for (i, mut margins) in z.rows_mut().into_iter().enumerate() {
                margins.assign(&biases);
                let (indices, values) = csr.row(i);
                for (&j, &v) in indices.iter().zip(values) {
                    margins.scaled_add(v, &weights.row(j as usize));
                }
            }
            return Ok(z);
        }
        let rows = ((64 << 20) / (4 * d.max(1))).clamp(1, 1 << 16);
        let mut z = Array2::zeros((n, k));
        for start in (0..n).step_by(rows) {
            let block = source.block(start, rows.min(n - start))?;
            let x =
                ArrayView2::from_shape((block.rows(), d), &block.x).map_err(|_| Error::ShapeMismatch {
                    x_rows: block.rows(),
                    y_len: block.x.len() / d.max(1),
                })?;
            z.slice_mut(ndarray::s![start..start + block.rows(), ..])
                .assign(&self.class_margins(x)?);
        }
        Ok(z)
    }

    /// The predictions of every row of `source` ([`Fitted::predict`]),
    /// read as [`Fitted::class_margins_of_source`] reads it.
    pub fn predict_source(&self, source: &dyn DataSource) -> Result<Array1<f32>> {
        Ok(self.predictions(self.class_margins_of_source(source)?))
    }

    /// The predictions of the margins `z`.
    pub(crate) fn predictions(&self, z: Array2<f32>) -> Array1<f32> {
        let loss = self.settings.loss_settings();
        match (self.model, z.ncols()) {
            (Model::Linear, _) => z.column(0).mapv(|z| loss.prediction(z).unwrap_or(z)),
            (Model::Logistic, 1) => z.column(0).mapv(|z| if z > 0.0 { 1.0 } else { 0.0 }),
            (Model::Logistic, _) => z
                .rows()
                .into_iter()
                .map(|margins| {
                    let best = margins
                        .iter()
                        .enumerate()
                        .fold(
                            (0, f32::NEG_INFINITY),
                            |(k, m), (j, &z)| if z > m { (j, z) } else { (k, m) },
                        );
                    best.0 as f32
                })
                .collect(),
        }
    }

    /// The probability of class 1: σ(z) under the log loss, and
    /// (clamp(z, −1, 1) + 1)/2 under the modified Huber loss (as
    /// scikit-learn); an error for the linear model and the hinge losses,
    /// and for a multinomial model ([`Fitted::class_probabilities`]).
    pub fn predict_proba(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        self.probability_check()?;
        self.one_margin("predict_proba", "class_probabilities")?;
        Ok(self.class_probabilities(x)?.column(1).to_owned())
    }

    /// The probability of every class, one column per class (scikit-learn's
    /// `predict_proba`): the softmax of the margins for a multinomial
    /// model, (1 − p, p) for a binary one with probabilities.
    pub fn class_probabilities(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        self.probabilities_of_margins(self.class_margins(x)?.view())
    }

    /// [`Fitted::class_probabilities`] of rows whose margins
    /// ([`Fitted::class_margins`]) are at hand.
    pub fn probabilities_of_margins(&self, margins: ArrayView2<f32>) -> Result<Array2<f32>> {
        self.probability_check()?;
        let loss = self.settings.loss_settings();
        if margins.ncols() != self.biases.len() {
            return Err(Error::FeatureCountMismatch {
                expected: self.biases.len(),
                found: margins.ncols(),
            });
        }
        let mut probabilities = Array2::zeros((margins.nrows(), loss.classes().unwrap_or(2)));
        for (z, mut row) in margins.rows().into_iter().zip(probabilities.rows_mut()) {
            let row = row.as_slice_mut().expect("a row of a new array is contiguous");
            match z.as_slice() {
                Some(z) => loss.class_probabilities(z, row),
                None => loss.class_probabilities(&z.to_vec(), row),
            };
        }
        Ok(probabilities)
    }

    /// An error unless the model gives probabilities.
    fn probability_check(&self) -> Result<()> {
        if self.model != Model::Logistic {
            return Err(Error::Estimator(EstimatorError::NotLogistic));
        }
        let loss = self.settings.loss_settings();
        if loss.margins() == 1 && loss.prediction(0.0f32).is_none() {
            return Err(Error::Estimator(EstimatorError::NoProbability {
                loss: loss.name(),
            }));
        }
        Ok(())
    }

    /// R² for the linear model, accuracy for the logistic model.
    pub fn score(&self, x: ArrayView2<f32>, y: ArrayView1<f32>) -> Result<f64> {
        validate_targets_of(self.settings.loss_settings(), x, y)?;
        let predicted = self.predict(x)?;
        match self.model {
            Model::Linear => metrics::r2(y, predicted.view()),
            Model::Logistic => metrics::accuracy(y, predicted.view()),
        }
    }
}
