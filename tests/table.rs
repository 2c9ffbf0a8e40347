//! Real tables: text columns one-hot encoded and named, labels mapped to
//! class codes (two or more classes), missing values under each policy,
//! columns left out with their reasons.

use downhill::data::source::DataSource;
use downhill::data::table::{
    read_table, Categorical, DropReason, Dropped, EncodedColumn, Missing, TableData, TableOptions,
    MAX_CLASSES,
};
use downhill::DataError;
use downhill::Error;

const MESSY: &str = "\
id,name,age,income,student,city,constant,empty,default
1,Ann,34,52000,No,Paris,x,,No
2,Bob,,61000,Yes,Lyon,x,,Yes
3,Cid,45,NA,No,Paris,x,,No
4,Dee,29,48000,Yes,Nice,x,,Yes
5,Eve,51,75000,No,Lyon,x,?,No
";

fn messy(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("downhill-table-{}-{name}.csv", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

fn options(missing: Missing) -> TableOptions {
    TableOptions {
        missing,
        labels: true,
        ..TableOptions::default()
    }
}

#[test]
fn missing_cells_are_an_error_that_counts_them_by_default() {
    let path = messy("error", MESSY);
    let err = read_table(&path, "default", None, &options(Missing::Error)).unwrap_err();
    assert_eq!(
        err,
        Error::Data(DataError::MissingValues {
            rows: 2,
            columns: "age, income".into(),
            first_line: 3
        })
    );
    assert!(err.to_string().contains("--missing drop") && err.to_string().contains("--missing mean"));
}

#[test]
fn dropping_rows_one_hot_text_and_named_reasons() {
    let path = messy("drop", MESSY);
    let table = read_table(&path, "default", None, &options(Missing::Drop)).unwrap();
    assert_eq!(table.rows_dropped, 2);
    assert_eq!(table.lines, [2, 5, 6]);
    assert_eq!(
        table.feature_names,
        [
            "id",
            "name=Ann",
            "name=Bob",
            "name=Cid",
            "name=Dee",
            "name=Eve",
            "age",
            "income",
            "student=No",
            "student=Yes",
            "city=Lyon",
            "city=Nice",
            "city=Paris"
        ]
    );
    assert_eq!(
        table.dropped,
        [
            Dropped {
                column: "constant".into(),
                reason: DropReason::Constant
            },
            Dropped {
                column: "empty".into(),
                reason: DropReason::AllMissing
            },
        ]
    );
    // Ann, Dee, Eve: labels No → 0, Yes → 1.
    assert_eq!(table.y.to_vec(), [0.0, 1.0, 0.0]);
    // Dee's row: id 4, name=Dee, age 29, income 48000, student=Yes, city=Nice.
    assert_eq!(
        table.x.row(1).to_vec(),
        [4.0, 0.0, 0.0, 0.0, 1.0, 0.0, 29.0, 48000.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    );
    let labels = table.encoding.labels.as_ref().unwrap();
    assert_eq!(labels.classes, ["No", "Yes"]);
    assert_eq!((labels.negative(), labels.positive()), (Some("No"), Some("Yes")));
}

#[test]
fn filling_with_means_keeps_every_row() {
    let path = messy("mean", MESSY);
    let table = read_table(
        &path,
        "default",
        Some(&["age", "income", "city"]),
        &options(Missing::Mean),
    )
    .unwrap();
    assert_eq!(table.rows_dropped, 0);
    assert_eq!(table.cells_filled, 2);
    // Bob's age: the mean of 34, 45, 29, 51; Cid's income: of 52000, 61000, 48000, 75000.
    assert_eq!(table.x[[1, 0]], 39.75);
    assert_eq!(table.x[[2, 1]], 59000.0);
    assert_eq!(
        table.encoding.columns[0],
        EncodedColumn::Numeric {
            name: "age".into(),
            mean: 39.75
        }
    );
}

#[test]
fn caps_and_policies_leave_text_columns_out_by_name() {
    let path = messy("caps", MESSY);
    let capped = TableOptions {
        max_categories: 4,
        ..options(Missing::Drop)
    };
    let table = read_table(&path, "default", None, &capped).unwrap();
    assert!(table.dropped.contains(&Dropped {
        column: "name".into(),
        reason: DropReason::TooManyCategories { values: 5, cap: 4 }
    }));
    let text_dropped = TableOptions {
        categorical: Categorical::Drop,
        ..options(Missing::Drop)
    };
    let table = read_table(&path, "default", None, &text_dropped).unwrap();
    assert_eq!(table.feature_names, ["id", "age", "income"]);
    for column in ["name", "student", "city"] {
        assert!(table.dropped.contains(&Dropped {
            column: column.into(),
            reason: DropReason::Text
        }));
    }
}

#[test]
fn the_target_among_the_features_and_a_repeated_feature_are_errors() {
    let path = messy("names", MESSY);
    let opts = options(Missing::Drop);
    assert!(matches!(
        read_table(&path, "default", Some(&["age", "default"]), &opts),
        Err(Error::Data(DataError::TargetAsFeature { column })) if column == "default"
    ));
    assert!(matches!(
        read_table(&path, "default", Some(&["age", "age"]), &opts),
        Err(Error::Data(DataError::RepeatedFeature { column })) if column == "age"
    ));
}

#[test]
fn labels_map_every_class_and_the_positive_class_can_be_named() {
    let path = messy("labels", MESSY);
    // Only `id` is chosen, which misses nothing: all five rows. The cities
    // Paris, Lyon, Paris, Nice, Lyon sort as Lyon 0, Nice 1, Paris 2.
    let three = read_table(&path, "city", Some(&["id"]), &options(Missing::Drop)).unwrap();
    assert_eq!(three.y.to_vec(), [2.0, 0.0, 2.0, 1.0, 0.0]);
    let labels = three.encoding.labels.as_ref().unwrap();
    assert_eq!(labels.classes, ["Lyon", "Nice", "Paris"]);
    assert_eq!(labels.count(), 3);
    assert_eq!((labels.negative(), labels.positive()), (None, None));
    // A positive class picks one of two; of three it is an error naming
    // the class and the count.
    let named = TableOptions {
        positive_class: Some("Paris".into()),
        ..options(Missing::Drop)
    };
    let error = read_table(&path, "city", Some(&["id"]), &named).unwrap_err();
    assert_eq!(
        error,
        Error::Data(DataError::PositiveClassOfClasses {
            value: "Paris".into(),
            count: 3
        })
    );
    assert!(
        error.to_string().contains("\"Paris\"") && error.to_string().contains("3 classes"),
        "{error}"
    );
    let flipped = TableOptions {
        positive_class: Some("No".into()),
        ..options(Missing::Drop)
    };
    // No → 1.
    let table = read_table(&path, "default", Some(&["id"]), &flipped).unwrap();
    assert_eq!(table.y.to_vec(), [1.0, 0.0, 1.0, 0.0, 1.0]);
    assert_eq!(table.encoding.labels.unwrap().classes, ["Yes", "No"]);
    let unknown = TableOptions {
        positive_class: Some("Maybe".into()),
        ..options(Missing::Drop)
    };
    assert!(matches!(
        read_table(&path, "default", Some(&["id"]), &unknown),
        Err(Error::Data(DataError::UnknownPositiveClass { .. }))
    ));
    // Numbers 1 and 2 sort numerically: 2 is the positive class.
    let numeric = messy("numeric-labels", "x,y\n1,2\n2,1\n3,2\n10,1\n");
    let table = read_table(&numeric, "y", None, &options(Missing::Error)).unwrap();
    assert_eq!(table.y.to_vec(), [1.0, 0.0, 1.0, 0.0]);
    // And 10, 2, 1 as 2, 1, 0: numeric order, not the text's.
    let numeric = messy("numeric-classes", "x,y\n1,10\n2,2\n3,1\n4,2\n");
    let table = read_table(&numeric, "y", None, &options(Missing::Error)).unwrap();
    assert_eq!(table.y.to_vec(), [2.0, 1.0, 0.0, 1.0]);
    assert_eq!(table.encoding.labels.unwrap().classes, ["1", "2", "10"]);
}

#[test]
fn a_target_of_fewer_than_two_classes_is_an_error_naming_it() {
    let path = messy("one-class", MESSY);
    // `constant` holds x on every row.
    let error = read_table(&path, "constant", Some(&["id"]), &options(Missing::Drop)).unwrap_err();
    assert_eq!(
        error,
        Error::Data(DataError::TooFewClasses {
            column: "constant".into(),
            values: "x".into(),
            count: 1,
            line: 2
        })
    );
    assert!(error.to_string().contains("at least two"), "{error}");
    // `empty` holds nothing but missing cells.
    let error = read_table(&path, "empty", Some(&["id"]), &options(Missing::Drop)).unwrap_err();
    assert_eq!(
        error,
        Error::Data(DataError::TooFewClasses {
            column: "empty".into(),
            values: String::new(),
            count: 0,
            line: 2
        })
    );
    assert_eq!(
        TableData::open(&path, "constant", Some(&["id"]), &options(Missing::Drop)).unwrap_err(),
        read_table(&path, "constant", Some(&["id"]), &options(Missing::Drop)).unwrap_err()
    );
}

/// A target of more distinct values than the survey counts is refused
/// rather than read as the first ones counted; one of exactly that many is
/// read.
#[test]
fn a_target_of_more_classes_than_are_counted_is_an_error() {
    let table_of = |name: &str, values: usize| {
        let mut text = String::from("x,y\n");
        for i in 0..values {
            text.push_str(&format!("{},c{i}\n", i % 7));
        }
        messy(name, &text)
    };
    let beyond = table_of("too-many-classes", MAX_CLASSES + 1);
    let error = read_table(&beyond, "y", None, &options(Missing::Error)).unwrap_err();
    assert_eq!(
        error,
        Error::Data(DataError::TooManyClasses {
            column: "y".into(),
            limit: MAX_CLASSES
        })
    );
    assert_eq!(
        TableData::open(&beyond, "y", None, &options(Missing::Error)).unwrap_err(),
        error
    );
    // One class fewer is read, every row its own class.
    let at = table_of("most-classes", MAX_CLASSES);
    let table = read_table(&at, "y", None, &options(Missing::Error)).unwrap();
    let labels = table.encoding.labels.as_ref().unwrap();
    assert_eq!(labels.count(), MAX_CLASSES);
    // Sorted as text: c0, c1, c10, c100, c1000, c1001, …
    assert_eq!(&labels.classes[..4], ["c0", "c1", "c10", "c100"]);
    for (row, &code) in table.y.iter().enumerate() {
        assert_eq!(labels.label(code), Some(format!("c{row}").as_str()));
    }
}

/// Three species, one target cell empty: read whole and streamed under
/// each missing-value policy, the codes are 0, 1, 2 in sorted label order,
/// and the encoding maps codes back to labels and labels to codes.
#[test]
fn three_classes_read_as_codes_in_sorted_order_and_back() {
    let path = messy(
        "species",
        "length,species\n1.5,virginica\n2.0,setosa\n3.0,\n4.5,versicolor\n5.0,setosa\n6.0,virginica\n",
    );
    let error = read_table(&path, "species", None, &options(Missing::Error)).unwrap_err();
    // The only missing cell is a target: said so (issue 23).
    assert_eq!(
        error,
        Error::Data(DataError::MissingTargets {
            rows: 1,
            column: "species".into(),
            first_line: 4
        })
    );
    assert_eq!(
        TableData::open(&path, "species", None, &options(Missing::Error)).unwrap_err(),
        error
    );
    for missing in [Missing::Drop, Missing::Mean] {
        let table = read_table(&path, "species", None, &options(missing)).unwrap();
        // setosa 0, versicolor 1, virginica 2; the row of line 4 left out.
        assert_eq!(table.y.to_vec(), [2.0, 0.0, 1.0, 0.0, 2.0], "{missing:?}");
        assert_eq!(table.lines, [2, 3, 5, 6, 7]);
        assert_eq!(table.rows_dropped, 1);
        let encoding = &table.encoding;
        let labels = encoding.labels.as_ref().unwrap();
        assert_eq!(labels.classes, ["setosa", "versicolor", "virginica"]);
        let back: Vec<String> = table.y.iter().map(|&code| encoding.label(code)).collect();
        assert_eq!(back, ["virginica", "setosa", "versicolor", "setosa", "virginica"]);
        // A code that is no class reads as its number.
        assert_eq!(encoding.label(3.0), "3");
        assert_eq!(encoding.label(0.5), "0.5");
        assert_eq!(encoding.target_value("versicolor"), Some(1.0));
        assert_eq!(encoding.target_value(" setosa "), Some(0.0));
        assert_eq!(encoding.target_value("rose"), None);
        assert_eq!(encoding.target_value("NA"), None);
        assert_eq!(labels.code("virginica"), Some(2.0));
        assert_eq!(labels.code("rose"), None);
        assert_eq!(labels.label(1.0), Some("versicolor"));
        for code in [-1.0, 1.5, 3.0, f32::NAN, f32::INFINITY] {
            assert_eq!(labels.label(code), None, "{code}");
        }
        // Streamed, block by block: the same encoding and codes.
        let streamed = TableData::open(&path, "species", None, &options(missing)).unwrap();
        assert_eq!(streamed.encoding(), encoding);
        assert_eq!(streamed.rows(), 5);
        let block = streamed.block(0, 5).unwrap();
        assert_eq!(block.y.as_ref(), table.y.as_slice().unwrap());
        let block = streamed.block(2, 3).unwrap();
        assert_eq!(block.y.as_ref(), [1.0, 0.0, 2.0]);
    }
}

/// Labels saved with a model read back; so do the labels of files written
/// before there could be more than two classes, `{"negative", "positive"}`.
#[cfg(feature = "serde")]
#[test]
fn labels_are_saved_as_classes_and_the_older_shape_still_reads() {
    use downhill::data::table::Labels;
    let three = Labels {
        classes: vec!["setosa".into(), "versicolor".into(), "virginica".into()],
    };
    let json = serde_json::to_value(&three).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"classes": ["setosa", "versicolor", "virginica"]})
    );
    assert_eq!(serde_json::from_value::<Labels>(json).unwrap(), three);
    let old: Labels = serde_json::from_str(r#"{"negative": "No", "positive": "Yes"}"#).unwrap();
    assert_eq!(old.classes, ["No", "Yes"]);
    assert_eq!((old.code("No"), old.code("Yes")), (Some(0.0), Some(1.0)));
    for malformed in [
        r#"{"classes": ["a"]}"#,
        r#"{"classes": ["a", "b", "a"]}"#,
        r#"{"negative": "No"}"#,
        r#"{"classes": ["a", "b"], "negative": "a", "positive": "b"}"#,
        r#"{"classes": ["a", "b"], "other": 1}"#,
        r#"{}"#,
    ] {
        assert!(serde_json::from_str::<Labels>(malformed).is_err(), "{malformed}");
    }

    // A model saved with a two-class table's encoding, written in the
    // older shape, loads with the same labels.
    use downhill::{Device, Fitted, GradientDescent};
    let path = messy("saved-labels", MESSY);
    let table = read_table(&path, "default", Some(&["id"]), &options(Missing::Drop)).unwrap();
    let fitted = GradientDescent::logistic()
        .max_epochs(3)
        .device(Device::Cpu)
        .fit(table.x.view(), table.y.view())
        .unwrap()
        .with_encoding(table.encoding.clone())
        .unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&fitted.to_json().unwrap()).unwrap();
    assert_eq!(
        json["encoding"]["labels"],
        serde_json::json!({"classes": ["No", "Yes"]})
    );
    json["encoding"]["labels"] = serde_json::json!({"negative": "No", "positive": "Yes"});
    let old = Fitted::from_json(&json.to_string(), "old.json").unwrap();
    assert_eq!(old, fitted);
    assert_eq!(old.encoding().unwrap().label(1.0), "Yes");
}

#[test]
fn applying_an_encoding_counts_unseen_values_and_fills_missing_numbers() {
    let path = messy("apply", MESSY);
    let table = read_table(&path, "default", Some(&["age", "city"]), &options(Missing::Mean)).unwrap();
    let later = messy(
        "later",
        "city,extra,age\nRome,1,30\nParis,2,\nLyon,3,40\nNA,4,50\n",
    );
    let (x, counts, lines) = table.encoding.apply(&later).unwrap();
    assert_eq!(counts.unseen, 1);
    assert_eq!(counts.first_unseen, Some((2, "city".into(), "Rome".into())));
    assert_eq!(counts.filled, 1);
    assert_eq!(counts.blank, 1);
    assert_eq!(lines, [2, 3, 4, 5]);
    // Columns: age, city=Lyon, city=Nice, city=Paris.
    assert_eq!(x.row(0).to_vec(), [30.0, 0.0, 0.0, 0.0]);
    assert_eq!(x.row(1).to_vec(), [39.75, 0.0, 0.0, 1.0]);
    assert_eq!(x.row(2).to_vec(), [40.0, 1.0, 0.0, 0.0]);
    assert_eq!(x.row(3).to_vec(), [50.0, 0.0, 0.0, 0.0]);
    let without = messy("without", "age\n30\n");
    assert!(matches!(
        table.encoding.apply(&without),
        Err(Error::Data(DataError::MissingColumn { .. }))
    ));
}

#[test]
fn a_stray_word_in_a_numeric_column_is_an_error_not_a_category() {
    let path = messy("typo", "a,b,y\n1,2,3\n2,three,5\n3,5,8\n");
    assert_eq!(
        read_table(&path, "y", None, &TableOptions::default()).unwrap_err(),
        Error::Data(DataError::NonNumericCell {
            line: 3,
            column: "b".into(),
            value: "three".into()
        })
    );
}

/// A messy table of 10,000 rows (text columns, Yes/No labels, missing
/// cells in features and target, raw scales), written as CSV and, through
/// pyarrow-free means, read back block by block: `TableData` learns the
/// same encoding as `read_table` and every block of rows equals the whole
/// table's rows, for each policy, across the CSV index's 4096-row steps.
#[test]
fn a_table_streamed_block_by_block_equals_the_table_read_whole() {
    let mut text = String::from("city,size,rooms,note,owner,sold\n");
    let cities = ["Lyon", "Nice", "Paris", "Brest"];
    for i in 0..10_000usize {
        let city = if i % 97 == 5 { "" } else { cities[(i * 7) % 4] };
        let size = if i % 211 == 3 {
            "NA".to_string()
        } else {
            format!("{}", 20 + (i * 37) % 180)
        };
        let rooms = (i * 13) % 6 + 1;
        let owner = if i % 3 == 0 { "Yes" } else { "No" };
        let sold = match i % 389 {
            7 => "",
            _ if (i * 31) % 5 < 2 => "Yes",
            _ => "No",
        };
        text.push_str(&format!(
            "{city},{size},{rooms},\"a, b {}\",{owner},{sold}\n",
            i % 300
        ));
    }
    let path = messy("streamed", &text);
    for missing in [Missing::Drop, Missing::Mean] {
        let options = TableOptions {
            max_categories: 10,
            ..options(missing)
        };
        let whole = read_table(&path, "sold", None, &options).unwrap();
        let streamed = TableData::open(&path, "sold", None, &options).unwrap();
        assert_eq!(streamed.encoding(), &whole.encoding);
        assert_eq!(streamed.feature_names(), whole.feature_names);
        assert_eq!(streamed.dropped(), whole.dropped.as_slice());
        assert_eq!(streamed.rows_dropped(), whole.rows_dropped);
        assert_eq!(streamed.cells_filled(), whole.cells_filled);
        assert_eq!(streamed.text_cells_blank(), whole.text_cells_blank);
        assert_eq!(streamed.rows(), whole.y.len());
        let d = streamed.features();
        let rows = streamed.rows();
        for (start, len) in [
            (0, rows),
            (0, 1),
            (4090, 20),
            (4095, 4097),
            (rows - 3, 3),
            (8191, 1),
        ] {
            let block = streamed.block(start, len).unwrap();
            let x = whole.x.slice(ndarray::s![start..start + len, ..]);
            assert_eq!(
                block.x.as_ref(),
                x.as_standard_layout().as_slice().unwrap(),
                "{missing:?} {start}"
            );
            assert_eq!(block.y.as_ref(), &whole.y.as_slice().unwrap()[start..start + len]);
            assert_eq!(block.x.len(), len * d);
        }
    }
    // The same errors as the whole table's.
    let error = TableData::open(&path, "sold", None, &options(Missing::Error)).unwrap_err();
    assert_eq!(
        error,
        read_table(&path, "sold", None, &options(Missing::Error)).unwrap_err()
    );
    assert!(
        matches!(error, Error::Data(DataError::MissingValues { .. })),
        "{error}"
    );
    // The city as the target: four classes, Brest 0, Lyon 1, Nice 2,
    // Paris 3, the same whole and streamed; rows with a missing city,
    // size or sold left out.
    let options = options(Missing::Drop);
    let whole = read_table(&path, "city", None, &options).unwrap();
    let streamed = TableData::open(&path, "city", None, &options).unwrap();
    assert_eq!(
        whole.encoding.labels.as_ref().unwrap().classes,
        ["Brest", "Lyon", "Nice", "Paris"]
    );
    assert_eq!(streamed.encoding(), &whole.encoding);
    let codes = [1.0, 2.0, 3.0, 0.0];
    let expected: Vec<f32> = (0..10_000usize)
        .filter(|i| i % 97 != 5 && i % 211 != 3 && i % 389 != 7)
        .map(|i| codes[(i * 7) % 4])
        .collect();
    assert_eq!(whole.y.to_vec(), expected);
    let rows = streamed.rows();
    assert_eq!(rows, expected.len());
    for (start, len) in [(0, rows), (4090, 20), (rows - 3, 3)] {
        let block = streamed.block(start, len).unwrap();
        assert_eq!(block.y.as_ref(), &expected[start..start + len]);
    }
}

#[test]
fn missing_text_cells_filled_under_mean_are_counted_apart_from_numbers() {
    // Bob's age and Cid's income are numbers; Eve's empty city is text.
    let text = MESSY.replace("5,Eve,51,75000,No,Lyon", "5,Eve,51,75000,No,");
    let path = messy("text-missing", &text);
    let table = read_table(
        &path,
        "default",
        Some(&["age", "income", "city"]),
        &options(Missing::Mean),
    )
    .unwrap();
    assert_eq!((table.cells_filled, table.text_cells_blank), (2, 1));
    // Columns: age, income, city=Lyon, city=Nice, city=Paris.
    assert_eq!(table.x.row(4).to_vec()[2..], [0.0, 0.0, 0.0]);
    let streamed = TableData::open(
        &path,
        "default",
        Some(&["age", "income", "city"]),
        &options(Missing::Mean),
    )
    .unwrap();
    assert_eq!((streamed.cells_filled(), streamed.text_cells_blank()), (2, 1));
}

#[test]
fn a_header_that_names_a_column_twice_is_an_error_naming_both() {
    let path = messy("twice", "income,age,income,y\n1,2,3,4\n5,6,7,8\n9,1,2,3\n");
    let repeated = Error::Data(DataError::RepeatedColumn {
        column: "income".into(),
        first: 1,
        second: 3,
    });
    // Every column a feature, or the one named: either could be meant.
    assert_eq!(
        read_table(&path, "y", None, &TableOptions::default()).unwrap_err(),
        repeated
    );
    assert_eq!(
        read_table(&path, "y", Some(&["income"]), &TableOptions::default()).unwrap_err(),
        repeated
    );
    assert_eq!(
        TableData::open(&path, "y", None, &TableOptions::default()).unwrap_err(),
        repeated
    );
    // A column of another name is read.
    let table = read_table(&path, "y", Some(&["age"]), &TableOptions::default()).unwrap();
    assert_eq!(table.x.column(0).to_vec(), [2.0, 6.0, 1.0]);
    // Unnamed columns, as trailing delimiters leave, are empty and left
    // out, not a repeated name.
    let trailing = messy("trailing", "a,b,y,,\n1,2,3,,\n4,5,7,,\n2,9,1,,\n");
    let table = read_table(&trailing, "y", None, &TableOptions::default()).unwrap();
    assert_eq!(table.feature_names, ["a", "b"]);
}

#[test]
fn a_named_text_column_past_the_cap_is_an_error_not_left_out() {
    let mut text = String::from("income,age,y\n");
    for i in 0..60 {
        // Thousands separators make the numbers text.
        text.push_str(&format!("\"{},{:03}\",{},{}\n", 10 + i, i * 7, 20 + i % 9, i % 5));
    }
    let path = messy("separators", &text);
    let err = read_table(&path, "y", Some(&["income", "age"]), &TableOptions::default()).unwrap_err();
    assert_eq!(
        err,
        Error::Data(DataError::TooManyCategories {
            column: "income".into(),
            values: 60,
            cap: 50,
            line: 2,
            value: "10,000".into(),
        })
    );
    assert!(err.to_string().contains("thousands separators"), "{err}");
    // Not named, it is left out with its reason.
    let table = read_table(&path, "y", None, &TableOptions::default()).unwrap();
    assert_eq!(table.feature_names, ["age"]);
    assert_eq!(
        table.dropped,
        [Dropped {
            column: "income".into(),
            reason: DropReason::TooManyCategories { values: 60, cap: 50 },
        }]
    );
}

#[test]
fn features_that_are_all_left_out_are_an_error_naming_each_reason() {
    let path = messy("none-left", MESSY);
    let err = read_table(
        &path,
        "default",
        Some(&["constant", "empty"]),
        &options(Missing::Mean),
    )
    .unwrap_err();
    assert_eq!(
        err,
        Error::Data(DataError::NoFeatureLeft {
            dropped: "left out \"constant\" (constant), \"empty\" (every cell is missing)".into()
        })
    );
}

#[test]
fn numeric_labels_are_compared_as_numbers() {
    let path = messy("numeric-labels", "x,y\n1,0.0\n2,1.0\n3,1\n4, 0 \n5,1.00\n");
    let table = read_table(&path, "y", None, &options(Missing::Error)).unwrap();
    let labels = table.encoding.labels.as_ref().unwrap();
    assert_eq!(labels.classes, ["0", "1"]);
    assert_eq!(table.y.to_vec(), [0.0, 1.0, 1.0, 0.0, 1.0]);
    assert_eq!(labels.code("1.0"), Some(1.0));
    // The positive class named in another spelling of the number.
    let options = TableOptions {
        positive_class: Some("0.0".into()),
        ..options(Missing::Error)
    };
    let flipped = read_table(&path, "y", None, &options).unwrap();
    assert_eq!(flipped.y.to_vec(), [1.0, 0.0, 0.0, 1.0, 0.0]);
}

#[test]
fn semicolons_and_tabs_separate_cells_where_the_header_has_no_comma() {
    for (name, separator) in [("semicolons", ";"), ("tabs", "\t")] {
        // A quoted comma in the header does not make it comma-separated.
        let text = [
            "\"city, town\";age;y",
            "New York, NY;30;1.5",
            "Paris;41;2.5",
            "Lyon;52;3.5",
        ]
        .map(|line| line.replace(';', separator))
        .join("\n");
        let path = messy(name, &text);
        let table = read_table(&path, "y", None, &TableOptions::default()).unwrap();
        assert_eq!(
            table.feature_names,
            [
                "city, town=Lyon",
                "city, town=New York, NY",
                "city, town=Paris",
                "age"
            ],
            "{name}"
        );
        assert_eq!(table.y.to_vec(), [1.5, 2.5, 3.5], "{name}");
    }
    // A decimal comma is not read as a number, and the error says why.
    let path = messy("decimal-comma", "age;y\n30;1,5\n41;2,5\n");
    let err = read_table(&path, "y", None, &TableOptions::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("\"1,5\", not a number (a decimal comma?"),
        "{err}"
    );
}

#[test]
fn a_text_target_of_a_regression_is_an_error_that_points_to_the_classifier() {
    let path = messy("text-target", "x,kind\n1,setosa\n2,virginica\n");
    let err = read_table(&path, "kind", None, &TableOptions::default()).unwrap_err();
    assert_eq!(
        err,
        Error::Data(DataError::TextTarget {
            line: 2,
            column: "kind".into(),
            value: "setosa".into()
        })
    );
    assert!(err.to_string().contains("reads labels"), "{err}");
}

#[test]
fn a_positive_class_of_a_target_read_as_numbers_is_an_error() {
    let path = messy("positive-numbers", MESSY);
    let options = TableOptions {
        positive_class: Some("Yes".into()),
        ..TableOptions::default()
    };
    assert_eq!(
        read_table(&path, "age", Some(&["income"]), &options).unwrap_err(),
        Error::Data(DataError::PositiveClassOfNumbers { value: "Yes".into() })
    );
}

/// Columns named as text (a data frame's text columns) are read as text
/// whatever their cells hold: postal codes are categories, not numbers, and
/// "NA" (Namibia) or "?" are values, only an empty cell missing; the
/// encoding keeps the names, so rows applied to it read alike. Unnamed,
/// the codes are numbers and the country's "NA" and "?" missing cells.
#[test]
fn columns_named_as_text_keep_their_values() {
    let path = messy(
        "text_columns",
        "code,country,y\n01000,NA,1.0\n75001,?,2.0\n01000,FR,3.0\n75001,NA,4.0\n",
    );
    let as_text = TableOptions {
        text_columns: vec!["code".into(), "country".into()],
        ..options(Missing::Error)
    };
    let table = read_table(&path, "y", None, &as_text).unwrap();
    assert_eq!(
        table.feature_names,
        [
            "code=01000",
            "code=75001",
            "country=?",
            "country=FR",
            "country=NA"
        ]
    );
    assert_eq!(table.x.row(0).to_vec(), [1.0, 0.0, 0.0, 0.0, 1.0]);
    assert_eq!(table.x.row(1).to_vec(), [0.0, 1.0, 1.0, 0.0, 0.0]);
    let (applied, counts, _) = table.encoding.apply(&path).unwrap();
    assert_eq!(applied, table.x);
    assert_eq!((counts.blank, counts.unseen), (0, 0));
    // Read as its cells say: the codes are numbers (01000 is 1000), and
    // "NA" and "?" missing, which leaves the country one value: left out.
    let read = read_table(&path, "y", None, &options(Missing::Error)).unwrap();
    assert_eq!(read.feature_names, ["code"]);
    assert_eq!(read.x.column(0).to_vec(), [1000.0, 75001.0, 1000.0, 75001.0]);
    assert_eq!(read.dropped[0].column, "country");
}
