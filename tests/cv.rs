//! Cross-validation of a penalty's strength against scikit-learn's
//! `LogisticRegressionCV` on the same folds (tests/data/make_cv.py), the
//! folds' own rules, and each kind of bad input's error.

mod common;

use common::{assert_near, parameters};
use downhill::data::source::{Block, DataSource, InMemory, Weighted};
use downhill::{
    Choice, CvOptions, CvScoring, Device, Error, EstimatorError, Folds, GradientDescent, PathFitting,
    Penalty, Solver,
};
use ndarray::{Array1, Array2};

/// logistic.csv's x0..x4 and y.
fn logistic() -> (Array2<f32>, Array1<f32>) {
    let (x, y, _) = common::logistic_table();
    (x, y)
}

/// The fold of each row, as scikit-learn's StratifiedKFold gave it.
fn sklearn_folds() -> Folds {
    let text = std::fs::read_to_string(common::repository().join("tests/data/cv_folds.csv")).unwrap();
    let folds = text
        .lines()
        .skip(1)
        .map(|line| line.trim().parse().unwrap())
        .collect();
    Folds::from_assignment(folds).unwrap()
}

/// The expected rows of cv_logistic_expected.csv: (alpha, mean score,
/// chosen) of each C, then the final model's intercept and weights.
fn expected() -> (Vec<(f32, f64, bool)>, Vec<f64>) {
    let text =
        std::fs::read_to_string(common::repository().join("tests/data/cv_logistic_expected.csv")).unwrap();
    let (mut path, mut finals) = (Vec::new(), Vec::new());
    for line in text.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        match cells[0].starts_with("final") {
            true => finals.push(cells[1].parse().unwrap()),
            false => path.push((
                cells[1].parse().unwrap(),
                cells[2].parse().unwrap(),
                cells[3] == "1",
            )),
        }
    }
    (path, finals)
}

/// On scikit-learn's folds and strengths, every strength's mean log-loss
/// over the held-out folds is scikit-learn's (to 1e-5: both fits reach
/// their optima, ours from float32 rows), the same strength is chosen,
/// and the final model, refitted on every row at it, is scikit-learn's
/// optimum there (1e-4 of the largest weight).
#[test]
fn cross_validation_chooses_scikit_learns_strength() {
    let (x, y) = logistic();
    let (path, finals) = expected();
    let strengths: Vec<f32> = path.iter().map(|&(alpha, _, _)| alpha).collect();
    let settings = GradientDescent::logistic()
        .solver(Solver::lbfgs())
        .max_epochs(500)
        .device(Device::Cpu);
    let found = settings
        .cross_validate(
            x.view(),
            y.view(),
            &strengths,
            &sklearn_folds(),
            CvOptions {
                scoring: Some(CvScoring::NegLogLoss),
                choice: Choice::BestMean,
                ..CvOptions::default()
            },
        )
        .unwrap();
    assert_eq!(found.scores.dim(), (5, strengths.len()));
    for (k, &(alpha, mean, _)) in path.iter().enumerate() {
        let ours = found.mean_scores[k];
        assert!(
            (ours - mean).abs() <= 1e-5,
            "alpha {alpha}: {ours} against {mean}"
        );
    }
    let chosen = path.iter().position(|&(_, _, chosen)| chosen).unwrap();
    assert_eq!(found.chosen, chosen);
    assert_eq!(found.strength(), strengths[chosen]);
    assert_near(&parameters(&found.fitted), &finals, 1e-4, "the final model");
    // The one-standard-error rule takes a stronger penalty within reach.
    let simpler = settings
        .cross_validate(
            x.view(),
            y.view(),
            &strengths,
            &sklearn_folds(),
            CvOptions {
                scoring: Some(CvScoring::NegLogLoss),
                choice: Choice::OneStandardError,
                ..CvOptions::default()
            },
        )
        .unwrap();
    let errors = simpler.standard_errors();
    assert!(simpler.strength() >= found.strength());
    assert!(simpler.mean_scores[simpler.chosen] >= found.mean_scores[chosen] - errors[chosen]);
}

/// diabetes_scaled.csv (tests/data/make_lasso_cv.py): the ten features,
/// the target and each row's fold.
fn diabetes() -> (Array2<f32>, Array1<f32>, Folds) {
    let text = std::fs::read_to_string(common::repository().join("tests/data/diabetes_scaled.csv")).unwrap();
    let rows: Vec<Vec<f64>> = text
        .lines()
        .skip(1)
        .map(|line| line.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    let x = Array2::from_shape_fn((rows.len(), 10), |(i, j)| rows[i][j] as f32);
    let y = Array1::from_iter(rows.iter().map(|r| r[10] as f32));
    let folds = Folds::from_assignment(rows.iter().map(|r| r[11] as usize).collect()).unwrap();
    (x, y, folds)
}

/// LassoCV and ElasticNetCV (l1_ratio 0.5) on the same folds and alphas
/// (tests/data/make_lasso_cv.py): every alpha's mean held-out squared
/// error within 1e-4 of scikit-learn's (relative), the same alpha chosen
/// (or one whose mean error is within 1e-4 of the chosen one's), and the
/// refitted model scikit-learn's to 1e-4 of the largest weight. Strengths
/// are 2α in downhill's units (the script says why); the fits are
/// full-batch proximal Nesterov steps at the rate and momentum of the
/// loss's curvature, each fold's twelve strengths a warm-started path.
#[test]
fn lasso_and_elastic_net_cross_validation_choose_scikit_learns_alpha() {
    let (x, y, folds) = diabetes();
    let text =
        std::fs::read_to_string(common::repository().join("tests/data/lasso_cv_expected.csv")).unwrap();
    for (kind, penalty) in [
        ("lasso", Penalty::L1(0.0)),
        (
            "enet",
            Penalty::ElasticNet {
                alpha: 0.0,
                l1_ratio: 0.5,
            },
        ),
    ] {
        let mut path: Vec<(f64, f64, bool)> = Vec::new();
        let mut finals: Vec<f64> = Vec::new();
        for line in text.lines().skip(1) {
            let cells: Vec<&str> = line.split(',').collect();
            if cells[0] == kind {
                path.push((
                    cells[1].parse().unwrap(),
                    cells[2].parse().unwrap(),
                    cells[3] == "1",
                ));
            } else if cells[0] == format!("{kind}_final") {
                finals = cells[1..].iter().map(|v| v.parse().unwrap()).collect();
            }
        }
        let strengths: Vec<f32> = path.iter().map(|&(alpha, _, _)| (2.0 * alpha) as f32).collect();
        let settings = GradientDescent::linear()
            .penalty(penalty)
            .optimizer(downhill::Optimizer::nesterov(1.0, 0.0))
            .auto_learning_rate(true)
            .auto_momentum(true)
            .parameter_tolerance(1e-9)
            .max_epochs(50_000)
            .device(Device::Cpu);
        let found = settings
            .cross_validate(x.view(), y.view(), &strengths, &folds, CvOptions::default())
            .unwrap();
        for (k, &(alpha, mse, _)) in path.iter().enumerate() {
            let ours = -found.mean_scores[k];
            assert!(
                (ours - mse).abs() <= 1e-4 * mse,
                "{kind} alpha {alpha}: mean squared error {ours} against {mse}"
            );
        }
        let chosen = path.iter().position(|&(_, _, chosen)| chosen).unwrap();
        let their_best = path[chosen].1;
        assert!(
            -found.mean_scores[found.chosen] <= their_best * (1.0 + 1e-4),
            "{kind}: chose alpha {} (mean error {}), scikit-learn {} ({their_best})",
            found.strength() / 2.0,
            -found.mean_scores[found.chosen],
            path[chosen].0
        );
        if found.chosen == chosen {
            assert_near(
                &parameters(&found.fitted),
                &finals,
                1e-4,
                &format!("{kind}: the final model"),
            );
        }
    }
}

/// Folds are as even as the rows allow, stratified ones spread each class
/// evenly, both seeded; bad folds and strengths are each their own error.
#[test]
fn folds_are_even_and_bad_input_is_named() {
    let folds = Folds::new(103, 5, 7).unwrap();
    assert_eq!(folds, Folds::new(103, 5, 7).unwrap());
    assert_ne!(folds, Folds::new(103, 5, 8).unwrap());
    for fold in 0..5 {
        let (held_out, training) = folds.split(fold);
        assert!((20..=21).contains(&held_out.len()), "{}", held_out.len());
        assert_eq!(held_out.len() + training.len(), 103);
    }
    let labels = Array1::from_iter((0..100).map(|i| f32::from(u8::from(i % 10 == 0))));
    let stratified = Folds::stratified(labels.view(), 5, 1).unwrap();
    for fold in 0..5 {
        let (held_out, _) = stratified.split(fold);
        assert_eq!(held_out.iter().filter(|&&i| labels[i] == 1.0).count(), 2);
    }
    let estimator = |e: Error| match e {
        Error::Estimator(e) => e,
        other => panic!("{other}"),
    };
    assert!(matches!(
        estimator(Folds::new(10, 1, 0).unwrap_err()),
        EstimatorError::InvalidFoldCount { folds: 1, rows: 10 }
    ));
    assert!(matches!(
        estimator(Folds::new(3, 4, 0).unwrap_err()),
        EstimatorError::InvalidFoldCount { folds: 4, rows: 3 }
    ));
    assert!(matches!(
        estimator(Folds::from_assignment(vec![0, 2, 0, 2]).unwrap_err()),
        EstimatorError::EmptyFold { fold: 1 }
    ));
    let (x, y) = logistic();
    let settings = GradientDescent::logistic()
        .penalty(Penalty::L2(0.0))
        .max_epochs(5);
    let folds = Folds::new(x.nrows(), 3, 0).unwrap();
    let cv = |strengths: &[f32], folds: &Folds, y: ndarray::ArrayView1<f32>| {
        settings
            .cross_validate(x.view(), y, strengths, folds, CvOptions::default())
            .unwrap_err()
    };
    assert!(matches!(
        estimator(cv(&[], &folds, y.view())),
        EstimatorError::NoStrengths
    ));
    assert!(matches!(
        estimator(cv(&[0.1, -1.0], &folds, y.view())),
        EstimatorError::InvalidStrength { value } if value == -1.0
    ));
    assert!(matches!(
        estimator(cv(&[0.1], &Folds::new(10, 2, 0).unwrap(), y.view())),
        EstimatorError::FoldsOfOtherRows { folds: 10, rows: 500 }
    ));
    // One class in a fold's training rows: every other fold holds one.
    let mut one_class = y.clone();
    one_class.fill(0.0);
    let (held_out, _) = folds.split(0);
    for &i in &held_out {
        one_class[i] = 1.0;
    }
    assert!(matches!(
        estimator(cv(&[0.1], &folds, one_class.view())),
        EstimatorError::FoldWithOneClass { fold: 0, label } if label == 0.0
    ));
}

/// A fold's fit that diverges has no score (NaN) and its strength is not
/// chosen; where every strength's does, the error says so. One feature of
/// variance v (about 1 in each fold's training rows) has the weight's
/// Hessian 2v + α: at the rate 0.5 a step scales its error by
/// 1 − 0.5 (2v + α), about 0 at α = 0 (it converges) and −1.5 at α = 3 (it
/// diverges). A scoring of the other kind of model is refused.
#[test]
fn diverged_strengths_are_not_chosen() {
    let x = ndarray::Array2::from_shape_fn((40, 1), |(i, _)| ((i % 8) as f32 - 3.5) / 2.29);
    let y = x.column(0).mapv(|v| 3.0 * v + 1.0);
    let folds = Folds::new(40, 4, 1).unwrap();
    let settings = GradientDescent::linear()
        .optimizer(downhill::Optimizer::sgd(0.5))
        .max_epochs(200)
        .device(Device::Cpu);
    let found = settings
        .cross_validate(x.view(), y.view(), &[3.0, 0.0], &folds, CvOptions::default())
        .unwrap();
    assert!(found.mean_scores[0].is_nan(), "{:?}", found.mean_scores);
    assert!(found.mean_scores[1].is_finite());
    assert_eq!(found.chosen, 1);
    let error = settings
        .cross_validate(x.view(), y.view(), &[3.0, 4.0], &folds, CvOptions::default())
        .unwrap_err();
    assert!(
        matches!(error, Error::Estimator(EstimatorError::EveryStrengthDiverged)),
        "{error}"
    );
    let error = settings
        .cross_validate(
            x.view(),
            y.view(),
            &[0.0],
            &folds,
            CvOptions {
                scoring: Some(CvScoring::Accuracy),
                choice: Choice::BestMean,
                ..CvOptions::default()
            },
        )
        .unwrap_err();
    assert!(
        matches!(error, Error::Estimator(EstimatorError::ScoringOfModel { .. })),
        "{error}"
    );
    let error = Folds::from_assignment(vec![0; 10]).unwrap_err();
    assert!(matches!(
        error,
        Error::Estimator(EstimatorError::InvalidFoldCount { folds: 1, rows: 10 })
    ));
}

/// The strengths from the data are scikit-learn's alpha grid
/// (tests/data/make_lasso_cv.py: α_max = max|Xcᵀ(y − ȳ)|/n, down to a
/// thousandth) in downhill's units (2α for the squared error), to float32
/// rounding; and each kind of bad grid is its own error.
#[test]
fn strengths_from_the_data_are_scikit_learns_alphas() {
    let (x, y, _) = diabetes();
    let text =
        std::fs::read_to_string(common::repository().join("tests/data/lasso_cv_expected.csv")).unwrap();
    let alphas: Vec<f64> = text
        .lines()
        .filter(|line| line.starts_with("lasso,"))
        .map(|line| line.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    let lasso = GradientDescent::linear().penalty(Penalty::L1(0.0));
    let strengths = lasso
        .strengths_from_data(x.view(), y.view(), alphas.len(), 1e-3)
        .unwrap();
    for (&ours, &alpha) in strengths.iter().zip(&alphas) {
        assert!(
            (f64::from(ours) - 2.0 * alpha).abs() <= 1e-6 * 2.0 * alpha,
            "{ours} against 2 × {alpha}"
        );
    }
    // Rows read block by block give the same grid, as do a classifier's.
    let rows = InMemory::new(x.view(), y.view()).unwrap();
    let streamed = lasso
        .strengths_from_source(&NotResident(&rows), alphas.len(), 1e-3)
        .unwrap();
    for (a, b) in streamed.iter().zip(&strengths) {
        assert!((a - b).abs() <= 1e-6 * b, "{a} against {b}");
    }
    let (lx, ly) = logistic();
    let classifier = GradientDescent::logistic()
        .penalty(Penalty::L1(0.0))
        .standardize(true);
    let in_memory = classifier
        .strengths_from_data(lx.view(), ly.view(), 4, 1e-2)
        .unwrap();
    let logistic_rows = InMemory::new(lx.view(), ly.view()).unwrap();
    let streamed = classifier
        .strengths_from_source(&NotResident(&logistic_rows), 4, 1e-2)
        .unwrap();
    for (a, b) in streamed.iter().zip(&in_memory) {
        assert!((a - b).abs() <= 1e-6 * b, "{a} against {b}");
    }
    // The elastic net's grid is the lasso's over its L1 share.
    let net = GradientDescent::linear().penalty(Penalty::ElasticNet {
        alpha: 0.0,
        l1_ratio: 0.5,
    });
    let wider = net.strengths_from_data(x.view(), y.view(), 3, 1e-3).unwrap();
    assert!((wider[0] / strengths[0] - 2.0).abs() < 1e-6);
    let estimator = |e: Error| match e {
        Error::Estimator(e) => e,
        other => panic!("{other}"),
    };
    assert!(matches!(
        estimator(
            lasso
                .strengths_from_data(x.view(), y.view(), 0, 1e-3)
                .unwrap_err()
        ),
        EstimatorError::InvalidStrengthGrid { count: 0, .. }
    ));
    assert!(matches!(
        estimator(lasso.strengths_from_data(x.view(), y.view(), 5, 0.0).unwrap_err()),
        EstimatorError::InvalidStrengthGrid { .. }
    ));
    let huber = GradientDescent::linear().loss(downhill::Loss::Huber { epsilon: 1.0 });
    assert!(matches!(
        estimator(
            huber
                .strengths_from_data(x.view(), y.view(), 5, 1e-3)
                .unwrap_err()
        ),
        EstimatorError::StrengthGridOfLoss { .. }
    ));
    let flat = Array1::from_elem(y.len(), 3.0f32);
    assert_eq!(
        estimator(
            lasso
                .strengths_from_data(x.view(), flat.view(), 5, 1e-3)
                .unwrap_err()
        ),
        EstimatorError::NoStrengthFromData
    );
}

/// Rows in memory that do not say so: engines and the cross-validation
/// read them block by block, as they read a file streamed.
struct NotResident<'a>(&'a dyn DataSource);

impl DataSource for NotResident<'_> {
    fn rows(&self) -> usize {
        self.0.rows()
    }
    fn features(&self) -> usize {
        self.0.features()
    }
    fn block(&self, start: usize, rows: usize) -> downhill::Result<Block<'_>> {
        self.0.block(start, rows)
    }
    fn weights(&self, start: usize, rows: usize) -> downhill::Result<Option<std::borrow::Cow<'_, [f32]>>> {
        self.0.weights(start, rows)
    }
}

/// Each fold's fit alone (its training rows copied out) and its score on
/// the held-out rows: the definition the cross-validation must meet.
fn scores_alone(
    settings: &GradientDescent,
    x: &Array2<f32>,
    y: &Array1<f32>,
    strengths: &[f32],
    folds: &Folds,
    score: impl Fn(&downhill::Fitted, Array2<f32>, Array1<f32>) -> f64,
) -> Array2<f64> {
    Array2::from_shape_fn((folds.count(), strengths.len()), |(fold, k)| {
        let (held_out, training) = folds.split(fold);
        let select = |rows: &[usize]| (x.select(ndarray::Axis(0), rows), y.select(ndarray::Axis(0), rows));
        let (train_x, train_y) = select(&training);
        let fitted = settings
            .clone()
            .penalty(Penalty::L2(strengths[k]))
            .fit(train_x.view(), train_y.view())
            .unwrap();
        let (test_x, test_y) = select(&held_out);
        score(&fitted, test_x, test_y)
    })
}

/// Lockstep fold fits are each fold's fit alone, bit for bit, so every
/// score, here the area under the ROC curve of the held-out margins, is
/// the score of the fit alone, exactly; warm-started paths reach the same
/// optima (L-BFGS to its end) and the same scores within 1e-6.
#[test]
fn fold_scores_are_the_fits_alone_and_the_roc_auc_scores() {
    let (x, y) = logistic();
    let folds = Folds::stratified(y.view(), 4, 3).unwrap();
    let strengths = [1.0f32, 0.1, 1e-3];
    let settings = GradientDescent::logistic()
        .solver(Solver::lbfgs())
        .max_epochs(500)
        .device(Device::Cpu);
    let expected = scores_alone(&settings, &x, &y, &strengths, &folds, |fitted, x, y| {
        downhill::metrics::roc_auc(y.view(), fitted.margins(x.view()).unwrap().view()).unwrap()
    });
    for fitting in [
        PathFitting::Lockstep,
        PathFitting::WarmStarted,
        PathFitting::FoldsTogether,
    ] {
        let options = CvOptions {
            scoring: Some(CvScoring::RocAuc),
            fitting,
            ..CvOptions::default()
        };
        let found = settings
            .cross_validate(x.view(), y.view(), &strengths, &folds, options)
            .unwrap();
        for ((fold, k), &score) in found.scores.indexed_iter() {
            let want = expected[[fold, k]];
            match fitting {
                PathFitting::Lockstep => assert_eq!(score, want, "fold {fold}, strength {k}"),
                PathFitting::WarmStarted | PathFitting::FoldsTogether => {
                    assert!(
                        (score - want).abs() <= 1e-6,
                        "fold {fold}, strength {k}: {score} vs {want}"
                    )
                }
            }
        }
    }
    // The area needs one margin: a three-class model is refused.
    let error = GradientDescent::logistic()
        .loss(downhill::Loss::Multinomial { classes: 3 })
        .cross_validate(
            x.view(),
            y.view(),
            &strengths,
            &folds,
            CvOptions {
                scoring: Some(CvScoring::RocAuc),
                ..CvOptions::default()
            },
        )
        .unwrap_err();
    assert!(
        matches!(error, Error::Estimator(EstimatorError::ScoringOfModel { .. })),
        "{error}"
    );
}

/// Rows that are not in memory (read block by block through a view of
/// each fold's rows, as a streamed file is) cross-validate as the same
/// rows in memory do: the same folds' fits to the same optima, so every
/// score within 1e-6 (the blocks' sums round otherwise), the same choice
/// and the same final model; so do weighted rows, each weighing 1.
#[test]
fn rows_not_in_memory_cross_validate_as_rows_in_memory() {
    let (x, y, folds) = diabetes();
    let strengths = [1.0f32, 0.1, 0.01, 1e-3];
    let settings = GradientDescent::linear()
        .standardize(true)
        .solver(Solver::lbfgs())
        .max_epochs(500)
        .device(Device::Cpu);
    let options = CvOptions {
        scoring: Some(CvScoring::R2),
        ..CvOptions::default()
    };
    let in_memory = settings
        .cross_validate(x.view(), y.view(), &strengths, &folds, options)
        .unwrap();
    let rows = InMemory::new(x.view(), y.view()).unwrap();
    let ones = vec![1.0f32; y.len()];
    let weighted = Weighted::new(&rows, ones).unwrap();
    for (what, source) in [
        ("streamed", &NotResident(&rows) as &dyn DataSource),
        ("weighted", &weighted),
        ("weighted and streamed", &NotResident(&weighted)),
    ] {
        let found = settings
            .cross_validate_source(source, &strengths, &folds, options)
            .unwrap();
        for ((fold, k), &score) in found.scores.indexed_iter() {
            let want = in_memory.scores[[fold, k]];
            assert!(
                (score - want).abs() <= 1e-6,
                "{what}: fold {fold}, strength {k}: {score} vs {want}"
            );
        }
        assert_eq!(found.chosen, in_memory.chosen, "{what}");
        assert_near(
            &parameters(&found.fitted),
            &parameters(&in_memory.fitted),
            1e-5,
            &format!("{what}: the final model"),
        );
    }
    let wrong = Folds::new(y.len() - 1, 5, 0).unwrap();
    let error = settings
        .cross_validate_source(&NotResident(&rows), &strengths, &wrong, options)
        .unwrap_err();
    assert!(
        matches!(error, Error::Estimator(EstimatorError::FoldsOfOtherRows { .. })),
        "{error}"
    );
}

/// A warm-started path reaches each strength's optimum (its fit alone, to
/// 1e-4 of the largest weight), each model its fit alone from the one
/// before's parameters (one pass fewer), in fewer L-BFGS passes in all than the
/// lockstep path, whose models each start from zero; the fits come back in
/// the order of the strengths given, whatever order they were fitted in.
#[test]
fn a_warm_started_path_reaches_each_optimum_in_fewer_passes() {
    let (x, y) = logistic();
    let strengths = [1e-3f32, 1.0, 1e-2, 0.1];
    let settings = GradientDescent::logistic()
        .solver(Solver::lbfgs())
        .max_epochs(500)
        .device(Device::Cpu);
    let warm = settings
        .path_warm_started(x.view(), y.view(), &strengths)
        .unwrap();
    let cold = settings.path(x.view(), y.view(), &strengths).unwrap();
    for (k, &strength) in strengths.iter().enumerate() {
        let alone = settings.clone().l2(strength).fit(x.view(), y.view()).unwrap();
        assert_near(
            &parameters(&warm[k]),
            &parameters(&alone),
            1e-4,
            &format!("strength {strength}"),
        );
    }
    // Each model after the strongest is its fit alone from the parameters
    // of the one before, bit for bit, in one pass fewer: its first
    // evaluation is the sums the one before left at that point.
    let strongest_first = [1, 3, 2, 0];
    for pair in strongest_first.windows(2) {
        let (before, k) = (&warm[pair[0]], pair[1]);
        let alone = settings
            .clone()
            .l2(strengths[k])
            .warm_start(before.weights().to_owned(), before.bias())
            .fit(x.view(), y.view())
            .unwrap();
        assert_eq!(
            parameters(&warm[k]),
            parameters(&alone),
            "strength {}",
            strengths[k]
        );
        assert_eq!(
            warm[k].gradient_evaluations() + 1,
            alone.gradient_evaluations(),
            "strength {}",
            strengths[k]
        );
    }
    let passes = |fits: &[downhill::Fitted]| fits.iter().map(|f| f.gradient_evaluations()).sum::<u64>();
    assert!(
        passes(&warm) < passes(&cold),
        "warm-started {} passes, from zero {}",
        passes(&warm),
        passes(&cold)
    );
}

/// Sparse rows (CSR) cross-validate as the same rows dense do: each fold's
/// training and held-out rows stay sparse (their entries copied out), the
/// fits reach the same optima, so every score within 1e-6, the same
/// choice and the same final model.
#[test]
fn sparse_rows_cross_validate_as_the_same_rows_dense() {
    let (mut x, y) = logistic();
    // Small values become zeros, left out of the CSR arrays.
    x.mapv_inplace(|v| if v.abs() < 0.6 { 0.0 } else { v });
    let (mut indptr, mut indices, mut values) = (vec![0usize], Vec::new(), Vec::new());
    for row in x.rows() {
        for (j, &v) in row.iter().enumerate() {
            if v != 0.0 {
                indices.push(j as u32);
                values.push(v);
            }
        }
        indptr.push(indices.len());
    }
    let sparse =
        downhill::data::sparse::CsrData::new(x.ncols(), indptr, indices, values, y.to_vec()).unwrap();
    let folds = Folds::stratified(y.view(), 5, 1).unwrap();
    let strengths = [0.3f32, 0.03, 0.003, 0.0003];
    let settings = GradientDescent::logistic()
        .solver(Solver::lbfgs())
        .max_epochs(500)
        .device(Device::Cpu);
    let options = CvOptions {
        scoring: Some(CvScoring::NegLogLoss),
        ..CvOptions::default()
    };
    let dense = settings
        .cross_validate(x.view(), y.view(), &strengths, &folds, options)
        .unwrap();
    let found = settings
        .cross_validate_source(&sparse, &strengths, &folds, options)
        .unwrap();
    for ((fold, k), &score) in found.scores.indexed_iter() {
        let want = dense.scores[[fold, k]];
        assert!(
            (score - want).abs() <= 1e-6,
            "fold {fold}, strength {k}: {score} vs {want}"
        );
    }
    assert_eq!(found.chosen, dense.chosen);
    assert_near(
        &parameters(&found.fitted),
        &parameters(&dense.fitted),
        1e-5,
        "the final model",
    );
}

/// `PathFitting::FoldsTogether` gives `WarmStarted`'s scores, choice and
/// final model bit for bit: where the folds run side by side (rows in
/// memory, each fold's rows prepared alike; weighted rows too), and where
/// they cannot and run one after another (standardized rows, rows not in
/// memory).
#[test]
fn folds_together_score_as_folds_one_after_another() {
    let data = downhill::Synthetic::generate(downhill::Model::Logistic, 24_000, 7, 0.5, 41).unwrap();
    let (x, y) = (data.x.view(), data.y.view());
    let folds = Folds::stratified(y, 4, 2).unwrap();
    let strengths = [1e-2f32, 1e-3, 1e-4, 1e-5];
    let options = |fitting| CvOptions {
        scoring: Some(CvScoring::NegLogLoss),
        fitting,
        ..CvOptions::default()
    };
    let lbfgs = GradientDescent::logistic()
        .solver(Solver::lbfgs())
        .tolerance(1e-4)
        .max_epochs(100)
        .device(Device::Cpu);
    let rows = InMemory::new(x, y).unwrap();
    let weights: Vec<f32> = (0..y.len()).map(|i| 0.5 + (i % 3) as f32).collect();
    let weighted = Weighted::new(&rows, weights).unwrap();
    let standardized = lbfgs.clone().standardize(true);
    for (what, settings, source) in [
        ("in memory", &lbfgs, &rows as &dyn DataSource),
        ("weighted", &lbfgs, &weighted),
        ("standardized", &standardized, &rows),
        ("not in memory", &lbfgs, &NotResident(&rows)),
    ] {
        let apart = settings
            .cross_validate_source(source, &strengths, &folds, options(PathFitting::WarmStarted))
            .unwrap();
        let together = settings
            .cross_validate_source(source, &strengths, &folds, options(PathFitting::FoldsTogether))
            .unwrap();
        assert_eq!(together.scores, apart.scores, "{what}");
        assert_eq!(together.chosen, apart.chosen, "{what}");
        assert_eq!(parameters(&together.fitted), parameters(&apart.fitted), "{what}");
    }
}

/// On the GPU the folds side by side (each pass one read of the rows for
/// every fold's model, its rows marked by a word a row) score as the CPU's
/// folds one after another, to float32 rounding carried through L-BFGS,
/// and choose the same strength.
#[test]
fn gpu_folds_together_score_as_the_cpu_engine() {
    let Some(context) = common::gpu("the folds side by side on the GPU") else {
        return;
    };
    let data = downhill::Synthetic::generate(downhill::Model::Logistic, 24_000, 7, 0.5, 43).unwrap();
    let (x, y) = (data.x.view(), data.y.view());
    let folds = Folds::stratified(y, 4, 5).unwrap();
    let strengths = [1e-2f32, 1e-3, 1e-4];
    let settings = GradientDescent::logistic()
        .solver(Solver::lbfgs())
        .tolerance(1e-4)
        .max_epochs(100);
    let options = |fitting| CvOptions {
        scoring: Some(CvScoring::NegLogLoss),
        fitting,
        ..CvOptions::default()
    };
    let on_cpu = settings
        .clone()
        .device(Device::Cpu)
        .cross_validate(x, y, &strengths, &folds, options(PathFitting::WarmStarted))
        .unwrap();
    let on_gpu = settings
        .device(Device::Gpu)
        .gpu_context(context)
        .cross_validate(x, y, &strengths, &folds, options(PathFitting::FoldsTogether))
        .unwrap();
    assert_eq!(on_gpu.chosen, on_cpu.chosen);
    for ((fold, k), &score) in on_gpu.scores.indexed_iter() {
        let want = on_cpu.scores[[fold, k]];
        // Mean log-losses near 0.5: float32 sums (~1e-6 of their terms)
        // move each fit's optimum, and its score, by far less than 1e-4.
        assert!(
            (score - want).abs() <= 1e-4 * want.abs(),
            "fold {fold}, strength {k}: {score} on the GPU, {want} on the CPU"
        );
    }
}
