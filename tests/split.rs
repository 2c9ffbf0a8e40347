//! Held-out rows: a seeded split, stratified on request.

use downhill::data::train_test_split;
use downhill::DataError;
use downhill::Error;
use ndarray::{Array1, Array2};

#[test]
fn a_seeded_split_keeps_every_row_once_and_repeats_for_its_seed() {
    let x = Array2::from_shape_fn((100, 2), |(i, j)| (i * 2 + j) as f32);
    let y = Array1::from_shape_fn(100, |i| i as f32);
    let split = train_test_split(x.view(), y.view(), 0.25, 3, false).unwrap();
    assert_eq!(split.x_test.nrows(), 25);
    assert_eq!(split.x_train.nrows(), 75);
    let mut all: Vec<f32> = split.y_train.iter().chain(split.y_test.iter()).copied().collect();
    all.sort_by(f32::total_cmp);
    assert_eq!(all, y.to_vec());
    // Rows stay whole: x's first column is twice y.
    for (row, &target) in split.x_test.rows().into_iter().zip(&split.y_test) {
        assert_eq!(row[0], 2.0 * target);
    }
    assert_eq!(
        split,
        train_test_split(x.view(), y.view(), 0.25, 3, false).unwrap()
    );
    assert_ne!(
        split.test_rows,
        train_test_split(x.view(), y.view(), 0.25, 4, false)
            .unwrap()
            .test_rows
    );
}

#[test]
fn stratification_keeps_the_class_proportions() {
    // 90 of class 0, 10 of class 1: a fifth of each is held out.
    let x = Array2::<f32>::zeros((100, 1));
    let y = Array1::from_shape_fn(100, |i| if i < 10 { 1.0 } else { 0.0 });
    for seed in 0..5 {
        let split = train_test_split(x.view(), y.view(), 0.2, seed, true).unwrap();
        assert_eq!(split.y_test.iter().filter(|&&v| v == 1.0).count(), 2);
        assert_eq!(split.y_test.len(), 20);
    }
}

#[test]
fn bad_fractions_and_shapes_are_errors() {
    let x = Array2::<f32>::zeros((4, 1));
    let y = Array1::<f32>::zeros(4);
    for fraction in [0.0, 1.0, -0.5, f64::NAN] {
        assert!(matches!(
            train_test_split(x.view(), y.view(), fraction, 0, false),
            Err(Error::Data(DataError::InvalidTestFraction { .. }))
        ));
    }
    assert!(matches!(
        train_test_split(x.view(), Array1::<f32>::zeros(3).view(), 0.5, 0, false),
        Err(Error::ShapeMismatch { .. })
    ));
    // A tiny fraction still holds out one row, and one is always left.
    assert_eq!(
        train_test_split(x.view(), y.view(), 0.01, 0, false)
            .unwrap()
            .y_test
            .len(),
        1
    );
    assert_eq!(
        train_test_split(x.view(), y.view(), 0.99, 0, false)
            .unwrap()
            .y_train
            .len(),
        1
    );
}

#[test]
fn a_stratified_split_that_leaves_a_class_out_of_a_part_is_refused() {
    // One row of class 1: rounding holds it out, and training lacks it.
    let x = Array2::<f32>::zeros((4, 1));
    let y = Array1::from(vec![0.0f32, 0.0, 0.0, 1.0]);
    match train_test_split(x.view(), y.view(), 0.5, 0, true) {
        Err(Error::Data(DataError::ClassMissingFromSplit {
            class,
            part,
            rows: 4,
            train_rows: 1,
            test_rows: 3,
            class_rows: 1,
        })) => assert_eq!((class, part), (1.0, "training")),
        other => panic!("{other:?}"),
    }
    // Two rows of class 1 in 40: a tenth of them rounds to none held out.
    let x = Array2::<f32>::zeros((40, 1));
    let y = Array1::from_shape_fn(40, |i| if i < 2 { 1.0 } else { 0.0 });
    match train_test_split(x.view(), y.view(), 0.1, 0, true) {
        Err(Error::Data(DataError::ClassMissingFromSplit { class, part, .. })) => {
            assert_eq!((class, part), (1.0, "held-out"))
        }
        other => panic!("{other:?}"),
    }
    // Unstratified (a regression's) splits keep their rows as before.
    assert!(train_test_split(x.view(), y.view(), 0.1, 0, false).is_ok());
}
