//! A test-only engine written straight from the formulas in float64: one
//! row at a time, no chunks, no SIMD. Driven by the same driver as the real
//! engines, it proves the engine trait and is an independent reference for
//! the fast CPU engine.

use crate::data::source::{all_rows, DataSource};
use crate::engine::device::Device;
use crate::engine::{Engine, EngineRun, EpochStats, RunSpec, StepPlan, SumsRun};
use crate::error::Result;
use crate::math::objective::{Objective, RawSums};
use crate::math::optim::{Optimizer, OptimizerState};

pub(crate) struct ReferenceEngine;

struct ReferenceRun {
    x: Vec<f64>,
    y: Vec<f64>,
    /// The rows' sample weights (1 where they have none).
    s: Vec<f64>,
    features: usize,
    spec: RunSpec,
    theta: Vec<f64>,
    first: Vec<f64>,
    second: Vec<f64>,
    steps: u64,
    average: Vec<f64>,
}

/// The weighted loss and gradient (weights, then biases) of `rows` at
/// `theta`, the rows weighing `s`, their sums divided by `divisor` (the
/// rows' own weight Σ sᵢ where `None`: the weighted mean): K margins per
/// row for a loss with K (wⱼₖ at j·K + k, then the K biases), one
/// otherwise.
#[allow(clippy::too_many_arguments)]
fn batch(
    objective: &Objective,
    x: &[f64],
    y: &[f64],
    s: &[f64],
    d: usize,
    rows: &[usize],
    theta: &[f64],
    divisor: Option<f64>,
) -> (f64, Vec<f64>) {
    let k = objective.loss.margins();
    let (weights, biases) = theta.split_at(d * k);
    let mut gradient = vec![0.0; (d + 1) * k];
    let (mut z, mut slopes) = (vec![0.0; k], vec![0.0; k]);
    let (mut loss, mut n) = (0.0, 0.0);
    for &i in rows {
        let row = &x[i * d..(i + 1) * d];
        for (c, z) in z.iter_mut().enumerate() {
            *z = biases[c]
                + row
                    .iter()
                    .enumerate()
                    .map(|(j, xj)| xj * weights[j * k + c])
                    .sum::<f64>();
        }
        objective.loss.row_derivatives(&z, y[i], &mut slopes);
        for (c, &slope) in slopes.iter().enumerate() {
            let derivative = s[i] * slope;
            for (j, &xj) in row.iter().enumerate() {
                gradient[j * k + c] += derivative * xj;
            }
            gradient[d * k + c] += derivative;
        }
        loss += s[i] * objective.loss.row_value(&z, y[i]);
        n += s[i];
    }
    let (l2, l1) = (
        f64::from(objective.penalty.l2_strength()),
        f64::from(objective.penalty.l1_strength()),
    );
    let squares: f64 = weights.iter().map(|w| w * w).sum();
    let magnitudes: f64 = weights.iter().map(|w| w.abs()).sum();
    // A batch whose rows all weigh 0 moves nothing.
    let n = divisor.unwrap_or(n);
    let n = if n > 0.0 { n } else { f64::INFINITY };
    for (j, g) in gradient.iter_mut().enumerate() {
        *g /= n;
        if j < d * k {
            *g += l2 * theta[j];
        }
    }
    (loss / n + 0.5 * l2 * squares + l1 * magnitudes, gradient)
}

impl ReferenceRun {
    /// One update of every parameter, as PyTorch's rules read.
    fn update(&mut self, gradient: &[f64], lr: f64) {
        self.steps += 1;
        let t = self.steps as i32;
        for (j, &g) in gradient.iter().enumerate() {
            let theta = &mut self.theta[j];
            match self.spec.optimizer {
                Optimizer::Sgd(_) => *theta -= lr * g,
                Optimizer::Momentum(o) => {
                    let beta = f64::from(o.beta);
                    self.first[j] = beta * self.first[j] + g;
                    let direction = if o.nesterov {
                        g + beta * self.first[j]
                    } else {
                        self.first[j]
                    };
                    *theta -= lr * direction;
                }
                Optimizer::AdaGrad(o) => {
                    self.second[j] += g * g;
                    *theta -= lr * g / (self.second[j].sqrt() + f64::from(o.eps));
                }
                Optimizer::RmsProp(o) => {
                    let alpha = f64::from(o.alpha);
                    self.second[j] = alpha * self.second[j] + (1.0 - alpha) * g * g;
                    *theta -= lr * g / (self.second[j].sqrt() + f64::from(o.eps));
                }
                Optimizer::Adam(o) => {
                    let (b1, b2) = (f64::from(o.beta1), f64::from(o.beta2));
                    self.first[j] = b1 * self.first[j] + (1.0 - b1) * g;
                    self.second[j] = b2 * self.second[j] + (1.0 - b2) * g * g;
                    let m_hat = self.first[j] / (1.0 - b1.powi(t));
                    let v_hat = self.second[j] / (1.0 - b2.powi(t));
                    *theta -= lr * m_hat / (v_hat.sqrt() + f64::from(o.eps));
                }
            }
        }
        // The L1 part's proximal step, written from its definition: the
        // threshold is λ₁ times the rule's settled step per unit gradient.
        let l1 = f64::from(self.spec.objective.penalty.l1_strength());
        let d = self.theta.len() - self.spec.objective.loss.margins();
        for j in 0..d {
            let unit_step = match self.spec.optimizer {
                Optimizer::Sgd(_) => lr,
                Optimizer::Momentum(o) => lr / (1.0 - f64::from(o.beta)),
                Optimizer::AdaGrad(o) => lr / (self.second[j].sqrt() + f64::from(o.eps)),
                Optimizer::RmsProp(o) => lr / (self.second[j].sqrt() + f64::from(o.eps)),
                Optimizer::Adam(o) => {
                    let v_hat = self.second[j] / (1.0 - f64::from(o.beta2).powi(t));
                    lr / (v_hat.sqrt() + f64::from(o.eps))
                }
            };
            let w = &mut self.theta[j];
            *w = w.signum() * (w.abs() - l1 * unit_step).max(0.0);
        }
        // Polyak–Ruppert averaging, from its definition: the mean of the
        // parameters after steps from, …, steps.
        if let Some(from) = self.spec.average_from.filter(|&from| self.steps >= from) {
            let k = (self.steps - from + 1) as f64;
            self.average.resize(self.theta.len(), 0.0);
            for (mean, &theta) in self.average.iter_mut().zip(&self.theta) {
                *mean += (theta - *mean) / k;
            }
        }
    }
}

impl EngineRun for ReferenceRun {
    fn run_epoch(&mut self, order: Option<&[u32]>, learning_rate: f32) -> Result<EpochStats> {
        let StepPlan { rows, batch_rows, .. } = self.spec.steps;
        let order: Vec<usize> = match order {
            Some(order) => order.iter().map(|&i| i as usize).collect(),
            None => (0..rows).collect(),
        };
        let mut loss_sum = 0.0;
        let mut steps = 0;
        // Mini-batches weigh their rows against the mean weight of all.
        let mean_weight = self.s.iter().sum::<f64>() / self.s.len() as f64;
        for batch_rows in order.chunks(batch_rows) {
            let (loss, gradient) = batch(
                &self.spec.objective,
                &self.x,
                &self.y,
                &self.s,
                self.features,
                batch_rows,
                &self.theta,
                self.spec
                    .steps
                    .shuffled
                    .then_some(batch_rows.len() as f64 * mean_weight),
            );
            self.update(&gradient, f64::from(learning_rate));
            loss_sum += loss;
            steps += 1;
        }
        Ok(EpochStats {
            loss_sum,
            steps,
            parameters: self.theta.iter().map(|&v| v as f32).collect(),
            work: crate::engine::WorkCounts::epoch(steps),
        })
    }

    fn optimizer_state(&mut self) -> Result<OptimizerState> {
        let narrow = |v: &[f64]| v.iter().map(|&v| v as f32).collect();
        Ok(OptimizerState {
            steps: self.steps,
            first_moment: narrow(&self.first),
            second_moment: narrow(&self.second),
            average: narrow(&self.average),
        })
    }
}

struct ReferenceSums {
    x: Vec<f64>,
    y: Vec<f64>,
    s: Vec<f64>,
    features: usize,
    objective: Objective,
}

impl SumsRun for ReferenceSums {
    fn raw_sums(&mut self, parameters: &[f32]) -> Result<RawSums> {
        let n = self.y.len();
        let theta: Vec<f64> = parameters.iter().map(|&v| f64::from(v)).collect();
        let rows: Vec<usize> = (0..n).collect();
        let (loss, gradient) = batch(
            &self.objective,
            &self.x,
            &self.y,
            &self.s,
            self.features,
            &rows,
            &theta,
            None,
        );
        let weight: f64 = self.s.iter().sum();
        Ok(RawSums {
            derivative: gradient.iter().map(|g| g * weight).collect(),
            loss: loss * weight,
            rows: n,
            weight,
        })
    }
}

/// The sample weights of every row of `source`, 1 where it has none.
fn weights_of(source: &dyn DataSource) -> Result<Vec<f64>> {
    Ok(match source.weights(0, source.rows())? {
        Some(weights) => weights.iter().map(|&w| f64::from(w)).collect(),
        None => vec![1.0; source.rows()],
    })
}

impl Engine for ReferenceEngine {
    fn device(&self) -> Device {
        Device::Cpu
    }

    fn open<'s>(&'s self, source: &'s dyn DataSource, spec: RunSpec) -> Result<Box<dyn EngineRun + 's>> {
        if spec.reducer.is_some() {
            return Err(crate::error::Error::Distributed {
                reason: "the float64 engine runs one process".into(),
            });
        }
        let block = all_rows(source)?;
        let widen = |v: &[f32]| v.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>();
        let count = spec.parameters.len();
        Ok(Box::new(ReferenceRun {
            x: widen(&block.x),
            y: widen(&block.y),
            s: weights_of(source)?,
            features: source.features(),
            theta: widen(&spec.parameters),
            first: if spec.state.first_moment.is_empty() {
                vec![0.0; count]
            } else {
                widen(&spec.state.first_moment)
            },
            second: if spec.state.second_moment.is_empty() {
                vec![0.0; count]
            } else {
                widen(&spec.state.second_moment)
            },
            steps: spec.state.steps,
            average: widen(&spec.state.average),
            spec,
        }))
    }

    fn open_sums<'s>(
        &'s self,
        source: &'s dyn DataSource,
        objective: Objective,
    ) -> Result<Box<dyn SumsRun + 's>> {
        let block = all_rows(source)?;
        let widen = |v: &[f32]| v.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>();
        Ok(Box::new(ReferenceSums {
            x: widen(&block.x),
            y: widen(&block.y),
            s: weights_of(source)?,
            features: source.features(),
            objective: Objective::unpenalized(objective.loss),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::source::InMemory;
    use crate::data::synthetic::Synthetic;
    use crate::engine::cpu::CpuEngine;
    use crate::estimator::settings::{GradientDescent, Variant};
    use crate::math::model::Model;
    use crate::math::objective::Penalty;
    use crate::math::optim::Rule;
    use crate::train::driver::{train, Outcome};
    use crate::train::plan::TrainingPlan;
    use crate::train::state::Start;

    /// The same fit from zero (3 features) on the CPU engine and on the
    /// float64 engine.
    fn run_both(source: &dyn DataSource, objective: Objective, plan: &TrainingPlan) -> (Outcome, Outcome) {
        let run = |engine: &dyn Engine| {
            train(
                engine,
                source,
                None,
                objective,
                plan,
                Start::Fresh(vec![0.0; 4]),
                None,
            )
            .unwrap()
        };
        (run(&CpuEngine::default()), run(&ReferenceEngine))
    }

    /// Epoch losses within 1e-4 and parameters within 1e-3 of the float64
    /// engine's.
    fn assert_agree(fast: &Outcome, reference: &Outcome, what: &str) {
        for (a, b) in fast.records.iter().zip(&reference.records) {
            assert!(
                (a.loss - b.loss).abs() <= 1e-4 * b.loss.abs() + 1e-6,
                "{what}: {a:?} vs {b:?}"
            );
        }
        for (a, b) in fast.parameters.iter().zip(&reference.parameters) {
            assert!(
                (a - b).abs() <= 1e-3 * b.abs() + 1e-4,
                "{what}: {:?} vs {:?}",
                fast.parameters,
                reference.parameters
            );
        }
    }

    /// Another source's rows, never resident: the CPU engine streams them.
    struct NotResident<'a>(&'a dyn DataSource);

    impl DataSource for NotResident<'_> {
        fn rows(&self) -> usize {
            self.0.rows()
        }
        fn features(&self) -> usize {
            self.0.features()
        }
        fn block(&self, start: usize, rows: usize) -> Result<crate::data::source::Block<'_>> {
            self.0.block(start, rows)
        }
        fn weights(&self, start: usize, rows: usize) -> Result<Option<std::borrow::Cow<'_, [f32]>>> {
            self.0.weights(start, rows)
        }
    }

    /// The multinomial loss over three classes agrees with the float64
    /// engine written from its formula: every rule, full batch and
    /// mini-batches, with sample weights (0 among them) and the elastic
    /// net, resident and streamed.
    #[test]
    fn multinomial_runs_match_the_float64_engine() {
        use crate::data::source::Weighted;
        use crate::math::loss::Loss;
        let data = Synthetic::generate(Model::Linear, 240, 3, 0.5, 5).unwrap();
        // Three classes of 50, 70 and 120 rows, by the target's quantiles.
        // (A class of a third of the rows would start its bias's gradient
        // at zero, where AdaGrad's normalized step follows the rounding.)
        let mut sorted = data.y.to_vec();
        sorted.sort_by(f32::total_cmp);
        let (low, high) = (sorted[50], sorted[120]);
        let y = data
            .y
            .mapv(|v| f32::from(u8::from(v >= low) + u8::from(v >= high)));
        let weights: Vec<f32> = (0..240).map(|i| [0.0, 0.5, 1.0, 3.0][i % 4]).collect();
        let rows = InMemory::unchecked(data.x.view(), y.view());
        let weighted = Weighted::new(&rows, weights.as_slice()).unwrap();
        let loss = Loss::Multinomial { classes: 3 };
        let objective = Objective {
            loss,
            penalty: Penalty::ElasticNet {
                alpha: 0.02,
                l1_ratio: 0.5,
            },
        };
        let start = || Start::Fresh(vec![0.0; 4 * 3]);
        for rule in Rule::ALL {
            for variant in [Variant::Full, Variant::MiniBatch(16)] {
                let plan = GradientDescent::logistic()
                    .loss(loss)
                    .variant(variant)
                    .shuffle(crate::data::shuffle::Shuffle::Blocks { rows: 40 })
                    .optimizer(rule.with(0.05, 0.9))
                    .max_epochs(10)
                    .seed(3)
                    .check()
                    .unwrap()
                    .training;
                for (source, what) in [(&rows as &dyn DataSource, "unweighted"), (&weighted, "weighted")] {
                    let run = |engine: &dyn Engine, source: &dyn DataSource| {
                        train(engine, source, None, objective, &plan, start(), None).unwrap()
                    };
                    let reference = run(&ReferenceEngine, source);
                    let what = format!("multinomial {what} {rule:?} {variant}");
                    assert_agree(&run(&CpuEngine::default(), source), &reference, &what);
                    let streamed = run(
                        &CpuEngine {
                            memory_budget: 3 * 40 * 16,
                        },
                        &NotResident(source),
                    );
                    assert_agree(&streamed, &reference, &format!("streamed {what}"));
                }
            }
        }
    }

    /// The averaged parameters (Polyak–Ruppert) agree with the float64
    /// engine's, full batch and mini-batches.
    #[test]
    fn averaged_parameters_match_the_float64_engine() {
        let data = Synthetic::generate(Model::Logistic, 240, 3, 0.0, 4).unwrap();
        let source = InMemory::unchecked(data.x.view(), data.y.view());
        for variant in [Variant::Full, Variant::MiniBatch(16)] {
            let plan = GradientDescent::logistic()
                .variant(variant)
                .optimizer(Rule::Momentum.with(0.05, 0.9))
                .average(9)
                .max_epochs(15)
                .seed(3)
                .check()
                .unwrap()
                .training;
            let objective = Objective::unpenalized(crate::math::loss::Loss::Log);
            let (fast, reference) = run_both(&source, objective, &plan);
            assert_agree(&fast, &reference, &format!("averaged {variant}"));
            assert_eq!(
                fast.parameters, fast.state.optimizer.average,
                "{variant}: the average is returned"
            );
        }
    }

    /// Sample weights (0 among them) weigh every loss alike on both engines,
    /// full batch and mini-batches, resident and streamed.
    #[test]
    fn weighted_rows_match_the_float64_engine() {
        use crate::data::source::Weighted;
        use crate::math::loss::Loss;
        for loss in [
            Loss::Squared,
            Loss::Log,
            Loss::Huber { epsilon: 0.5 },
            Loss::Poisson,
        ] {
            let model = loss.model();
            let mut data = Synthetic::generate(model, 240, 3, 0.1, 9).unwrap();
            if loss == Loss::Poisson {
                data.y.mapv_inplace(|v| (0.3 * v).exp().round());
            }
            let weights: Vec<f32> = (0..240).map(|i| [0.0, 0.5, 1.0, 3.0][i % 4]).collect();
            let rows = InMemory::unchecked(data.x.view(), data.y.view());
            let source = Weighted::new(&rows, weights.as_slice()).unwrap();
            for variant in [Variant::Full, Variant::MiniBatch(16)] {
                let plan = GradientDescent::new(model)
                    .variant(variant)
                    .shuffle(crate::data::shuffle::Shuffle::Blocks { rows: 40 })
                    .loss(loss)
                    .optimizer(Rule::Adam.with(0.02, 0.9))
                    .max_epochs(15)
                    .seed(3)
                    .check()
                    .unwrap()
                    .training;
                let objective = Objective {
                    loss,
                    penalty: Penalty::L2(0.01),
                };
                let (fast, reference) = run_both(&source, objective, &plan);
                assert_agree(&fast, &reference, &format!("weighted {loss} {variant}"));
                // Streamed through a budget of 40 rows a block.
                let streamed = train(
                    &CpuEngine {
                        memory_budget: 3 * 40 * 16,
                    },
                    &NotResident(&source),
                    None,
                    objective,
                    &plan,
                    Start::Fresh(vec![0.0; 4]),
                    None,
                )
                .unwrap();
                assert_agree(
                    &streamed,
                    &reference,
                    &format!("weighted, streamed {loss} {variant}"),
                );
            }
            // Unweighted, the weighted rows' engine differs from the plain
            // one: the weights are used.
            let plan = GradientDescent::new(model)
                .loss(loss)
                .max_epochs(5)
                .check()
                .unwrap()
                .training;
            let objective = Objective::unpenalized(loss);
            let (weighted, _) = run_both(&source, objective, &plan);
            let (plain, _) = run_both(&rows, objective, &plan);
            assert_ne!(weighted.parameters, plain.parameters, "{loss}");
        }
    }

    /// Every loss, written once (src/loss.rs) and evaluated in float64 by
    /// the reference engine, gives the CPU engine's epochs.
    #[test]
    fn every_loss_matches_the_float64_engine() {
        use crate::math::loss::Loss;
        let losses = [
            Loss::Huber { epsilon: 0.5 },
            Loss::EpsilonInsensitive { epsilon: 0.2 },
            Loss::SquaredEpsilonInsensitive { epsilon: 0.2 },
            Loss::Poisson,
            Loss::Hinge,
            Loss::SquaredHinge,
            Loss::ModifiedHuber,
        ];
        for loss in losses {
            let model = loss.model();
            let mut data = Synthetic::generate(model, 240, 3, 0.1, 7).unwrap();
            if loss == Loss::Poisson {
                data.y.mapv_inplace(|v| (0.3 * v).exp().round());
            }
            let source = InMemory::unchecked(data.x.view(), data.y.view());
            for variant in [Variant::Full, Variant::MiniBatch(16)] {
                let plan = GradientDescent::new(model)
                    .variant(variant)
                    .loss(loss)
                    .optimizer(Rule::Nesterov.with(0.02, 0.9))
                    .max_epochs(15)
                    .seed(3)
                    .check()
                    .unwrap()
                    .training;
                let objective = Objective {
                    loss,
                    penalty: Penalty::L2(0.01),
                };
                let (fast, reference) = run_both(&source, objective, &plan);
                assert_agree(&fast, &reference, &format!("{loss} {variant}"));
            }
        }
    }

    #[test]
    fn the_float64_engine_matches_the_cpu_engine_under_the_same_driver() {
        for model in [Model::Linear, Model::Logistic] {
            let data = Synthetic::generate(model, 240, 3, 0.1, 7).unwrap();
            let source = InMemory::unchecked(data.x.view(), data.y.view());
            let penalties = [
                Penalty::L2(0.01),
                Penalty::L1(0.02),
                Penalty::ElasticNet {
                    alpha: 0.03,
                    l1_ratio: 0.5,
                },
            ];
            for (variant, penalty) in [Variant::Full, Variant::MiniBatch(16), Variant::Stochastic]
                .into_iter()
                .flat_map(|variant| penalties.map(|penalty| (variant, penalty)))
            {
                for rule in Rule::ALL {
                    let lr = match (rule, variant) {
                        (Rule::Sgd | Rule::Momentum | Rule::Nesterov, Variant::Stochastic) => 0.005,
                        (Rule::Sgd | Rule::Momentum | Rule::Nesterov, _) => 0.05,
                        _ => 0.01,
                    };
                    let plan = GradientDescent::new(model)
                        .variant(variant)
                        .optimizer(rule.with(lr, 0.9))
                        .penalty(penalty)
                        .max_epochs(15)
                        .seed(3)
                        .check()
                        .unwrap()
                        .training;
                    let objective = Objective {
                        loss: crate::math::loss::Loss::default_for(model),
                        penalty,
                    };
                    let (fast, reference) = run_both(&source, objective, &plan);
                    let what = format!("{model} {variant} {rule} {penalty:?}");
                    assert_eq!(fast.stop_reason, reference.stop_reason, "{what}");
                    assert_agree(&fast, &reference, &what);
                }
            }
        }
    }
}
