//! The same table as CSV, Parquet and NumPy `.npy` (written by pandas,
//! pyarrow and NumPy: tests/data/make_formats.py) gives the same rows and
//! bit-identical fits; each kind of broken or unsupported file has its own
//! error naming the file (and the column).
#![cfg(all(feature = "npy", feature = "parquet"))]

use downhill::DataError;
use std::path::{Path, PathBuf};

use downhill::data::npy::NpyData;
use downhill::data::table::{read_table, Format, TableOptions};
use downhill::{Device, Error, Fitted, GradientDescent, Optimizer};
use ndarray::{Array1, Array2, ShapeBuilder};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn fit(x: &Array2<f32>, y: &Array1<f32>) -> Fitted {
    GradientDescent::linear()
        .optimizer(Optimizer::nesterov(1.0, 0.0))
        .standardize(true)
        .standardize_target(true)
        .auto_learning_rate(true)
        .auto_momentum(true)
        .parameter_tolerance(1e-7)
        .max_epochs(500)
        .device(Device::Cpu)
        .fit(x.view(), y.view())
        .unwrap()
}

fn bits(fitted: &Fitted) -> Vec<u32> {
    fitted
        .weights()
        .iter()
        .chain([&fitted.bias()])
        .map(|v| v.to_bits())
        .collect()
}

#[test]
fn formats_are_told_by_their_extension() {
    assert_eq!(Format::of("a/b.csv"), Format::Csv);
    assert_eq!(Format::of("b.PARQUET"), Format::Parquet);
    assert_eq!(Format::of("b.pq"), Format::Parquet);
    assert_eq!(Format::of("b.npy"), Format::Npy);
    assert_eq!(Format::of("b.txt"), Format::Csv);
}

#[test]
fn csv_and_parquet_give_the_same_table_and_the_same_fit() {
    let options = TableOptions::default();
    let csv = read_table(data("formats.csv"), "y", None, &options).unwrap();
    let parquet = read_table(data("formats.parquet"), "y", None, &options).unwrap();
    // The text column is one-hot encoded from either file (dictionary
    // encoded in the Parquet file), float32 and int64 columns read exactly.
    assert_eq!(
        parquet.feature_names,
        ["x1", "x2", "count", "city=Lyon", "city=Nice", "city=Paris"]
    );
    assert_eq!(csv.feature_names, parquet.feature_names);
    assert_eq!(csv.x, parquet.x);
    assert_eq!(csv.y, parquet.y);
    assert_eq!(csv.encoding, parquet.encoding);
    assert_eq!(bits(&fit(&csv.x, &csv.y)), bits(&fit(&parquet.x, &parquet.y)));
    // A projection: only the columns asked for are read.
    let some = read_table(data("formats.parquet"), "y", Some(&["count", "x1"]), &options).unwrap();
    assert_eq!(some.feature_names, ["count", "x1"]);
    assert_eq!(some.x.column(0), csv.x.column(2));
}

#[test]
fn npy_files_give_the_csv_s_rows_and_the_same_fit() {
    let options = TableOptions::default();
    let csv = read_table(data("formats.csv"), "y", Some(&["x1", "x2", "count"]), &options).unwrap();
    let reference = bits(&fit(&csv.x, &csv.y));
    let pairs = [
        NpyData::open(data("formats_x64.npy"), data("formats_y.npy")).unwrap(),
        NpyData::open(data("formats_x32.npy"), data("formats_y.npy")).unwrap(),
        NpyData::open_matrix(data("formats_xy.npy"), 3).unwrap(),
        // As np.save writes a DataFrame's values: Fortran order.
        NpyData::open(data("formats_fortran.npy"), data("formats_y.npy")).unwrap(),
    ];
    for npy in &pairs {
        let (x, y) = (npy.x().unwrap().into_owned(), npy.y().unwrap().into_owned());
        assert_eq!(x, csv.x);
        assert_eq!(y, csv.y);
        assert_eq!(bits(&fit(&x, &y)), reference);
        assert_eq!(npy.feature_names().unwrap(), ["x0", "x1", "x2"]);
    }
    assert_eq!(pairs[0].target_name(), "formats_y");
    assert_eq!(pairs[2].target_name(), "x3");
    // float32 in C order is used in place, not copied.
    assert!(pairs[1].x().unwrap().is_view());
}

/// Files in Fortran order, float32 or float64, with the target a file or
/// a column, give the blocks of rows that the same file in C order gives,
/// and a fit streamed through a small budget equals the fit in memory.
#[test]
fn npy_files_in_fortran_order_read_row_blocks_like_c_order() {
    use downhill::data::source::DataSource;
    let dir = std::env::temp_dir().join(format!("downhill-fortran-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (rows, columns) = (1000, 4);
    let c_order = Array2::from_shape_fn((rows, columns), |(i, j)| {
        ((i * 7 + j * 13) % 29) as f32 / 7.0 - 1.5
    });
    let mut fortran = Array2::zeros((rows, columns).f());
    fortran.assign(&c_order);
    assert!(!fortran.is_standard_layout() && fortran == c_order);
    let y = Array1::from_shape_fn(rows, |i| c_order.row(i).sum() + 0.25 * ((i % 5) as f32));
    let write = |name: &str, array: &Array2<f32>| {
        let path = dir.join(name);
        ndarray_npy::write_npy(&path, array).unwrap();
        path
    };
    let (c32, f32_path) = (write("c32.npy", &c_order), write("f32.npy", &fortran));
    let f64_path = dir.join("f64.npy");
    ndarray_npy::write_npy(&f64_path, &fortran.mapv(f64::from)).unwrap();
    let y_path = dir.join("y.npy");
    ndarray_npy::write_npy(&y_path, &y).unwrap();
    // The target as the last column of a Fortran-order matrix.
    let mut with_target = Array2::zeros((rows, columns + 1).f());
    with_target.slice_mut(ndarray::s![.., ..columns]).assign(&c_order);
    with_target.column_mut(columns).assign(&y);
    let matrix = write("matrix.npy", &with_target);

    let reference = NpyData::open(&c32, &y_path).unwrap();
    for file in [
        NpyData::open(&f32_path, &y_path).unwrap(),
        NpyData::open(&f64_path, &y_path).unwrap(),
        NpyData::open_matrix(&matrix, columns).unwrap(),
    ] {
        assert_eq!((file.rows(), file.features()), (rows, columns));
        for (start, length) in [(0, rows), (0, 1), (333, 250), (999, 1)] {
            let (a, b) = (
                file.block(start, length).unwrap(),
                reference.block(start, length).unwrap(),
            );
            assert_eq!((&a.x, &a.y), (&b.x, &b.y), "rows {start}..+{length}");
            let (mut x, mut targets) = (Vec::new(), Vec::new());
            file.read_into(start, length, &mut x, &mut targets).unwrap();
            assert_eq!((x.as_slice(), targets.as_slice()), (&b.x[..], &b.y[..]));
        }
        assert_eq!(file.x().unwrap(), c_order);
        let settings = GradientDescent::linear()
            .standardize(true)
            .max_epochs(20)
            .device(Device::Cpu);
        let streamed = settings.clone().memory_budget(4 << 10).fit_source(&file).unwrap();
        let resident = settings.fit(c_order.view(), y.view()).unwrap();
        for (a, b) in bits(&streamed).iter().zip(bits(&resident)) {
            let (a, b) = (f32::from_bits(*a), f32::from_bits(b));
            assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} vs {b}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A copy of `name` cut to its first `keep` bytes.
fn truncated(name: &str, keep: usize) -> PathBuf {
    let bytes = std::fs::read(data(name)).unwrap();
    let dir = std::env::temp_dir().join(format!("downhill-formats-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, &bytes[..keep]).unwrap();
    path
}

#[test]
fn broken_and_unsupported_files_have_their_own_errors() {
    let options = TableOptions::default();
    let cut = truncated("formats.parquet", 3000);
    match read_table(&cut, "y", None, &options) {
        Err(Error::Data(DataError::TruncatedFile { path, .. })) => assert!(path.ends_with("formats.parquet")),
        other => panic!("{other:?}"),
    }
    let cut = truncated("formats_x64.npy", 1000);
    match NpyData::open(&cut, data("formats_y.npy")) {
        Err(Error::Data(DataError::TruncatedFile { path, reason })) => {
            assert!(path.ends_with("formats_x64.npy"));
            assert!(reason.contains("568 bytes"), "{reason}");
        }
        other => panic!("{:?}", other.err()),
    }
    match NpyData::open(data("formats_int.npy"), data("formats_y.npy")) {
        Err(Error::Data(DataError::UnsupportedNpy { found, .. })) => {
            assert!(found.contains("<i8"), "{found}")
        }
        other => panic!("{:?}", other.err()),
    }
    // A 1-D file where a matrix belongs.
    match NpyData::open(data("formats_y.npy"), data("formats_y.npy")) {
        Err(Error::Data(DataError::UnsupportedNpy { found, .. })) => {
            assert!(found.contains("1 dimensions"), "{found}")
        }
        other => panic!("{:?}", other.err()),
    }
    match NpyData::open_matrix(data("formats_xy.npy"), 4) {
        Err(Error::Data(DataError::TargetColumnOutOfRange {
            index: 4, columns: 4, ..
        })) => {}
        other => panic!("{:?}", other.err()),
    }
    match read_table(data("formats_dates.parquet"), "y", None, &options) {
        Err(Error::Data(DataError::UnsupportedColumnType {
            path,
            column,
            data_type,
        })) => {
            assert!(path.ends_with("formats_dates.parquet"));
            assert_eq!(column, "day");
            assert!(data_type.starts_with("Timestamp"), "{data_type}");
        }
        other => panic!("{other:?}"),
    }
    // Leaving the dates out of the projection reads the rest.
    let kept = read_table(data("formats_dates.parquet"), "y", Some(&["x1"]), &options).unwrap();
    assert_eq!(kept.feature_names, ["x1"]);
    // Rows where columns of another length belong.
    match NpyData::open(data("formats_x64.npy"), data("formats_int.npy")) {
        Err(Error::Data(DataError::UnsupportedNpy { .. })) => {}
        other => panic!("{:?}", other.err()),
    }
}

/// A Parquet file of numbers read block by block (`ParquetData`): any
/// range of rows, across row groups of 16, equals the table reader's rows;
/// a fit from it equals the `.npy` file's bit for bit; streamed through a
/// budget of a few rows, the full batch matches within float32 rounding
/// and mini-batches over blocks bit for bit.
#[test]
fn a_parquet_file_of_numbers_streams_block_by_block() {
    use downhill::data::parquet_source::ParquetData;
    use downhill::data::source::DataSource;
    use downhill::{Shuffle, Variant};
    let options = TableOptions::default();
    let features = ["x1", "x2", "count"];
    let csv = read_table(data("formats.csv"), "y", Some(&features), &options).unwrap();
    let file = ParquetData::open(data("formats.parquet"), "y", Some(&features)).unwrap();
    assert_eq!((file.rows(), file.features()), (60, 3));
    assert_eq!(file.feature_names(), features);
    assert_eq!(file.target_name(), "y");
    for (start, rows) in [(0, 60), (10, 30), (16, 16), (47, 13), (59, 1)] {
        let block = file.block(start, rows).unwrap();
        let x = csv.x.slice(ndarray::s![start..start + rows, ..]);
        assert_eq!(block.x.as_ref(), x.as_standard_layout().as_slice().unwrap());
        assert_eq!(block.y.as_ref(), &csv.y.as_slice().unwrap()[start..start + rows]);
    }
    // Features in another order than the file's columns.
    let reordered = ParquetData::open(data("formats.parquet"), "y", Some(&["count", "x1"])).unwrap();
    let block = reordered.block(0, 2).unwrap();
    assert_eq!(
        block.x.as_ref(),
        &[csv.x[[0, 2]], csv.x[[0, 0]], csv.x[[1, 2]], csv.x[[1, 0]]]
    );

    let settings = GradientDescent::linear()
        .optimizer(Optimizer::nesterov(1.0, 0.0))
        .standardize(true)
        .standardize_target(true)
        .auto_learning_rate(true)
        .auto_momentum(true)
        .parameter_tolerance(1e-7)
        .max_epochs(500)
        .device(Device::Cpu);
    let npy = NpyData::open(data("formats_x64.npy"), data("formats_y.npy")).unwrap();
    let from_npy = settings.fit_source(&npy).unwrap();
    let from_parquet = settings.fit_source(&file).unwrap();
    assert_eq!(bits(&from_parquet), bits(&from_npy));
    // 256 bytes over three buffers of 16-byte rows: blocks of 5 rows.
    let streamed = settings.clone().memory_budget(256).fit_source(&file).unwrap();
    for (a, b) in bits(&from_parquet).iter().zip(bits(&streamed)) {
        let (a, b) = (f32::from_bits(*a), f32::from_bits(b));
        assert!((a - b).abs() <= 1e-4 * a.abs().max(1.0), "{a} {b}");
    }
    let batches = GradientDescent::linear()
        .standardize(true)
        .variant(Variant::MiniBatch(4))
        .shuffle(Shuffle::Blocks { rows: 7 })
        .max_epochs(5)
        .device(Device::Cpu);
    let resident = batches.fit_source(&file).unwrap();
    // Blocks of 10 rows: room for the shuffle's blocks of 7.
    let streamed = batches.memory_budget(512).fit_source(&file).unwrap();
    assert_eq!(bits(&resident), bits(&streamed));
}

#[test]
fn a_parquet_file_streamed_as_numbers_refuses_text_and_empty_cells() {
    use downhill::data::parquet_source::ParquetData;
    match ParquetData::open(data("formats.parquet"), "y", None) {
        Err(Error::Data(DataError::TextInStreamedColumn { path, column, .. })) => {
            assert!(path.ends_with("formats.parquet"));
            assert_eq!(column, "city");
        }
        other => panic!("{other:?}"),
    }
    match ParquetData::open(data("formats_dates.parquet"), "y", None) {
        Err(Error::Data(DataError::UnsupportedColumnType { column, .. })) => assert_eq!(column, "day"),
        other => panic!("{other:?}"),
    }
    match ParquetData::open(data("formats_nulls.parquet"), "y", None) {
        Err(Error::Data(DataError::NullInStreamedColumn { path, column, row })) => {
            assert!(path.ends_with("formats_nulls.parquet"));
            assert_eq!((column.as_str(), row), ("x1", 38));
        }
        other => panic!("{other:?}"),
    }
    // Without the column that has empty cells, the file opens.
    assert!(ParquetData::open(data("formats_nulls.parquet"), "y", Some(&["x2", "count"])).is_ok());
    match ParquetData::open(truncated("formats.parquet", 3000), "y", None) {
        Err(Error::Data(DataError::TruncatedFile { .. })) => {}
        other => panic!("{other:?}"),
    }
    match ParquetData::open(data("formats.parquet"), "price", None) {
        Err(Error::Data(DataError::MissingColumn { name, .. })) => assert_eq!(name, "price"),
        other => panic!("{other:?}"),
    }
}

/// The Parquet table with its text column, streamed as a table
/// (`TableData`): the same encoding and rows as the table read whole, any
/// range across row groups; fitted through a budget of a few rows, the
/// same fit within float32 rounding.
#[test]
fn a_parquet_table_with_text_streams_encoded_block_by_block() {
    use downhill::data::source::DataSource;
    use downhill::data::table::TableData;
    let options = TableOptions::default();
    let whole = read_table(data("formats.parquet"), "y", None, &options).unwrap();
    let streamed = TableData::open(data("formats.parquet"), "y", None, &options).unwrap();
    assert_eq!(streamed.encoding(), &whole.encoding);
    for (start, rows) in [(0, 60), (15, 18), (33, 27)] {
        let block = streamed.block(start, rows).unwrap();
        let x = whole.x.slice(ndarray::s![start..start + rows, ..]);
        assert_eq!(block.x.as_ref(), x.as_standard_layout().as_slice().unwrap());
        assert_eq!(
            block.y.as_ref(),
            &whole.y.as_slice().unwrap()[start..start + rows]
        );
    }
    let settings = GradientDescent::linear()
        .optimizer(Optimizer::nesterov(1.0, 0.0))
        .standardize(true)
        .standardize_target(true)
        .auto_learning_rate(true)
        .auto_momentum(true)
        .parameter_tolerance(1e-7)
        .max_epochs(500)
        .device(Device::Cpu);
    let in_memory = settings.fit(whole.x.view(), whole.y.view()).unwrap();
    let from_file = settings.memory_budget(512).fit_source(&streamed).unwrap();
    for (a, b) in bits(&in_memory).iter().zip(bits(&from_file)) {
        let (a, b) = (f32::from_bits(*a), f32::from_bits(b));
        assert!((a - b).abs() <= 1e-4 * a.abs().max(1.0), "{a} {b}");
    }
}

/// The library chooses between reading a table whole and streaming it
/// from the survey that opening it took: within the bytes its rows take
/// read whole (read_table's table), a byte short of them streamed (the
/// same rows, block by block), CSV and Parquet alike.
#[test]
fn a_table_is_read_whole_within_the_budget_and_streamed_beyond_it() {
    use downhill::data::source::DataSource;
    use downhill::data::table::{Opened, TableData};
    let options = TableOptions {
        missing: downhill::data::table::Missing::Mean,
        ..TableOptions::default()
    };
    for name in ["formats.csv", "formats.parquet"] {
        let whole = read_table(data(name), "y", None, &options).unwrap();
        let open = || TableData::open(data(name), "y", None, &options).unwrap();
        let bytes = open().whole_bytes();
        match open().read_within(bytes).unwrap() {
            Opened::Whole(table) => assert_eq!(table, whole, "{name}"),
            Opened::Streamed(_) => panic!("{name} streamed within the bytes of its rows"),
            Opened::Sparse(_) => panic!("{name} is narrow, yet read as sparse rows"),
        }
        match open().read_within(bytes - 1).unwrap() {
            Opened::Streamed(table) => {
                assert_eq!(table.rows(), whole.x.nrows(), "{name}");
                let block = table.block(0, table.rows()).unwrap();
                assert_eq!(block.x.as_ref(), whole.x.as_slice().unwrap(), "{name}");
                assert_eq!(block.y.as_ref(), whole.y.as_slice().unwrap(), "{name}");
            }
            Opened::Whole(_) => panic!("{name} read whole beyond the bytes of its rows"),
            Opened::Sparse(_) => panic!("{name} is narrow, yet read as sparse rows"),
        }
    }
}

/// A Parquet table of number columns streams a decoded batch at a time:
/// blocks that start inside a row group, cross from one group to the
/// next, or hold rows left out for missing cells (NaN, under
/// `Missing::Drop`) equal the rows the table read whole holds.
#[test]
fn a_parquet_table_of_numbers_streams_the_rows_it_reads_whole() {
    use downhill::data::source::{DataSource, InMemory};
    use downhill::data::table::{write_source, Missing, Opened, TableData};
    let n = 150_000;
    let mut x = Array2::<f32>::zeros((n, 3));
    for i in 0..n {
        x[[i, 0]] = (i % 7) as f32;
        x[[i, 1]] = ((i * 3) % 11) as f32;
        x[[i, 2]] = i as f32 * 1e-3;
    }
    x[[70_000, 0]] = f32::NAN;
    x[[140_001, 0]] = f32::NAN;
    let y = Array1::from_iter((0..n).map(|i| (i % 5) as f32));
    let source = InMemory::new(x.view(), y.view()).unwrap();
    let dir = std::env::temp_dir().join(format!("downhill-formats-{}-numbers", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("numbers.parquet");
    let names = ["a", "b", "c"].map(String::from);
    write_source(&source, &names, "y", &path).unwrap();
    let options = TableOptions {
        missing: Missing::Drop,
        ..TableOptions::default()
    };
    let whole = read_table(&path, "y", None, &options).unwrap();
    assert_eq!(whole.x.nrows(), n - 2);
    let table = TableData::open(&path, "y", None, &options).unwrap();
    let Opened::Streamed(table) = table.read_within(1).unwrap() else {
        panic!("read whole within a budget of one byte");
    };
    let rows = table.rows();
    for (start, len) in [
        (0, rows),
        (65_000, 1_000),
        (69_990, 30),
        (139_990, 30),
        (rows - 5, 5),
    ] {
        let block = table.block(start, len).unwrap();
        let expected_x = whole.x.slice(ndarray::s![start..start + len, ..]);
        assert_eq!(
            block.x.as_ref(),
            expected_x.as_standard_layout().as_slice().unwrap(),
            "{start}+{len}"
        );
        assert_eq!(
            block.y.as_ref(),
            whole.y.slice(ndarray::s![start..start + len]).to_vec().as_slice(),
            "{start}+{len}"
        );
    }
}
