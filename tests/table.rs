//! Real tables: text columns one-hot encoded and named, labels mapped,
//! missing values under each policy, columns left out with their reasons.

use downhill::table::{read_table, Categorical, DropReason, Dropped, EncodedColumn, Missing, TableOptions};
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
        Error::MissingValues {
            rows: 2,
            columns: "age, income".into(),
            first_line: 3
        }
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
    assert_eq!(
        (labels.negative.as_str(), labels.positive.as_str()),
        ("No", "Yes")
    );
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
        Err(Error::TargetAsFeature { column }) if column == "default"
    ));
    assert!(matches!(
        read_table(&path, "default", Some(&["age", "age"]), &opts),
        Err(Error::RepeatedFeature { column }) if column == "age"
    ));
}

#[test]
fn labels_need_two_values_and_the_positive_class_can_be_named() {
    let path = messy("labels", MESSY);
    let three = read_table(&path, "city", Some(&["id"]), &options(Missing::Drop)).unwrap_err();
    assert!(
        matches!(&three, Error::NotTwoClasses { count: 3, values, .. } if values == "Lyon, Nice, Paris"),
        "{three}"
    );
    let flipped = TableOptions {
        positive_class: Some("No".into()),
        ..options(Missing::Drop)
    };
    // Only `id` is chosen, which misses nothing: all five rows, No → 1.
    let table = read_table(&path, "default", Some(&["id"]), &flipped).unwrap();
    assert_eq!(table.y.to_vec(), [1.0, 0.0, 1.0, 0.0, 1.0]);
    let unknown = TableOptions {
        positive_class: Some("Maybe".into()),
        ..options(Missing::Drop)
    };
    assert!(matches!(
        read_table(&path, "default", Some(&["id"]), &unknown),
        Err(Error::UnknownPositiveClass { .. })
    ));
    // Numbers 1 and 2 sort numerically: 2 is the positive class.
    let numeric = messy("numeric-labels", "x,y\n1,2\n2,1\n3,2\n10,1\n");
    let table = read_table(&numeric, "y", None, &options(Missing::Error)).unwrap();
    assert_eq!(table.y.to_vec(), [1.0, 0.0, 1.0, 0.0]);
}

#[test]
fn applying_an_encoding_counts_unseen_values_and_fills_missing_numbers() {
    let path = messy("apply", MESSY);
    let table = read_table(&path, "default", Some(&["age", "city"]), &options(Missing::Mean)).unwrap();
    let later = messy("later", "city,extra,age\nRome,1,30\nParis,2,\nLyon,3,40\n");
    let (x, counts, lines) = table.encoding.apply(&later).unwrap();
    assert_eq!(counts.unseen, 1);
    assert_eq!(counts.filled, 1);
    assert_eq!(lines, [2, 3, 4]);
    // Columns: age, city=Lyon, city=Nice, city=Paris.
    assert_eq!(x.row(0).to_vec(), [30.0, 0.0, 0.0, 0.0]);
    assert_eq!(x.row(1).to_vec(), [39.75, 0.0, 0.0, 1.0]);
    assert_eq!(x.row(2).to_vec(), [40.0, 1.0, 0.0, 0.0]);
    let without = messy("without", "age\n30\n");
    assert!(matches!(
        table.encoding.apply(&without),
        Err(Error::MissingColumn { .. })
    ));
}

#[test]
fn a_stray_word_in_a_numeric_column_is_an_error_not_a_category() {
    let path = messy("typo", "a,b,y\n1,2,3\n2,three,5\n3,5,8\n");
    assert_eq!(
        read_table(&path, "y", None, &TableOptions::default()).unwrap_err(),
        Error::NonNumericCell {
            line: 3,
            column: "b".into(),
            value: "three".into()
        }
    );
}

/// A messy table of 10,000 rows (text columns, Yes/No labels, missing
/// cells in features and target, raw scales), written as CSV and, through
/// pyarrow-free means, read back block by block: `TableData` learns the
/// same encoding as `read_table` and every block of rows equals the whole
/// table's rows, for each policy, across the CSV index's 4096-row steps.
#[test]
fn a_table_streamed_block_by_block_equals_the_table_read_whole() {
    use downhill::source::DataSource;
    use downhill::table::TableData;
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
    assert!(matches!(error, Error::MissingValues { .. }), "{error}");
    let error = TableData::open(&path, "city", None, &options(Missing::Drop)).unwrap_err();
    assert!(matches!(error, Error::NotTwoClasses { count: 4, .. }), "{error}");
}
