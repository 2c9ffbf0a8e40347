//! Hostile files for every reader (issue 23): random bytes, valid files
//! cut short, with bytes flipped, inserted, deleted or duplicated, with
//! hostile cells (huge numbers, NaN and inf as text, quotes, BOMs, ragged
//! rows, empty lines, very long cells) and headers that lie about the
//! data. Each reader must answer `Ok` or `Err`: a panic fails the case,
//! and an allocation above [`ALLOCATION_LIMIT`] aborts the test binary (a
//! reader that believes a header's size instead of refusing it).
//!
//! The case counts keep the whole file near a minute in release mode (CI
//! runs it with `cargo test --release`); BENCHMARKS.md records them.
//! `PROPTEST_CASES=N` runs N cases of each reader instead, and
//! `PROPTEST_RNG_SEED=S` repeats a run. Each reader's latest case is left
//! at `target/tmp/fuzz_readers/<reader>/`, so that the file that aborted a
//! run can be read afterwards. Failures proptest finds are kept in
//! `proptest-regressions/fuzz_readers.txt` and tried first on every run.
#![cfg(all(feature = "npy", feature = "parquet", feature = "serde"))]

use downhill::DataError;
use std::alloc::{GlobalAlloc, Layout, System};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use downhill::data::npy::{read_features, NpyData};
use downhill::data::parquet_source::{parquet_shape, ParquetData};
use downhill::data::source::{DataSource, InMemory};
use downhill::data::table::{
    read_columns, read_table, write_source, Categorical, Encoding, Missing, Opened, TableData, TableOptions,
};
use downhill::{Device, Error, Fitted, GradientDescent};
use ndarray::{Array1, Array2};
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, RngSeed, TestCaseError};

/// The largest single allocation a reader may ask for on these files,
/// which are all under a megabyte: anything near it comes from a size the
/// file claims, not from its contents.
const ALLOCATION_LIMIT: usize = 1 << 30;

/// The system allocator, refusing allocations above [`ALLOCATION_LIMIT`]:
/// the refusal aborts the process ("memory allocation of N bytes failed")
/// at once, where the allocation itself might succeed lazily, or be killed
/// by the kernel only on a smaller machine.
struct Bounded;

// SAFETY: every call is forwarded to `System` unchanged, except that
// oversized requests return null, which `GlobalAlloc` allows.
unsafe impl GlobalAlloc for Bounded {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match layout.size() > ALLOCATION_LIMIT {
            true => std::ptr::null_mut(),
            false => unsafe { System.alloc(layout) },
        }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match layout.size() > ALLOCATION_LIMIT {
            true => std::ptr::null_mut(),
            false => unsafe { System.alloc_zeroed(layout) },
        }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        match new_size > ALLOCATION_LIMIT {
            true => std::ptr::null_mut(),
            false => unsafe { System.realloc(ptr, layout, new_size) },
        }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Bounded = Bounded;

/// The longest one case may take: the files are small, so a reader
/// slower than this is looping on what a header claims.
const CASE_TIME_LIMIT: Duration = Duration::from_secs(10);

/// Rows read per block when a source is streamed, and the blocks read: a
/// header may claim billions of rows of nothing, which the harness must
/// not walk through (the reader's answer to the first blocks is what is
/// tested).
const BLOCK_ROWS: usize = 7;
const BLOCKS_READ: usize = 4;

fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    // The same cases every run (CI's run is reproducible and cannot turn
    // red by chance); FUZZ_SEED=N runs other ones, FUZZ_SEED=random new
    // ones each run, to look for more.
    let rng_seed = match std::env::var("FUZZ_SEED").ok().as_deref() {
        Some("random") => RngSeed::Random,
        Some(seed) => RngSeed::Fixed(seed.parse().expect("FUZZ_SEED is a number or random")),
        None => RngSeed::Fixed(20_261_207),
    };
    ProptestConfig {
        cases,
        rng_seed,
        // Shrinking a failure is worth a while, not forever.
        max_shrink_time: 60_000,
        // Beside Cargo.toml (the default looks for the source's lib.rs,
        // which an integration test lacks).
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/fuzz_readers.txt",
        ))),
        ..ProptestConfig::default()
    }
}

/// The folder of one reader's cases.
fn case_dir(reader: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("fuzz_readers")
        .join(reader);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes a case's file under the reader's folder, replacing the last.
fn write_case(reader: &str, name: &str, bytes: &[u8]) -> PathBuf {
    let path = case_dir(reader).join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Runs `read` on the case `files`: a panic, or a case slower than
/// [`CASE_TIME_LIMIT`], fails it with what happened, and each file is
/// copied to `failed-<name>` beside it (shrinking leaves the smallest
/// failing case there).
fn never_panics(what: &str, files: &[&Path], read: impl FnOnce()) -> Result<(), TestCaseError> {
    let start = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(read));
    let took = start.elapsed();
    if outcome.is_err() || took >= CASE_TIME_LIMIT {
        for file in files {
            let name = file.file_name().unwrap().to_string_lossy();
            std::fs::copy(file, file.with_file_name(format!("failed-{name}"))).unwrap();
        }
    }
    if let Err(panic) = outcome {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "(no message)".into());
        return Err(TestCaseError::fail(format!("{what} panicked: {message}")));
    }
    prop_assert!(took < CASE_TIME_LIMIT, "{what} took {took:?}");
    Ok(())
}

/// Reads the first blocks of a source and its last, as a streaming engine
/// would: the errors are the reader's to give, the result is unused.
fn stream(source: &dyn DataSource) {
    let rows = source.rows();
    let mut starts: Vec<usize> = (0..BLOCKS_READ)
        .map(|k| k * BLOCK_ROWS)
        .filter(|&s| s < rows)
        .collect();
    starts.push(rows.saturating_sub(BLOCK_ROWS));
    for start in starts {
        let take = BLOCK_ROWS.min(rows - start);
        let _ = source.block(start, take);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        let _ = source.read_into(start, take, &mut x, &mut y);
        let _ = source.targets(start, take);
        let _ = source.weights(start, take);
    }
}

// ---------------------------------------------------------------------
// Mutations of a valid file's bytes.

/// One change to a file's bytes; positions are taken modulo its length.
#[derive(Debug, Clone)]
enum Mutation {
    /// Cut the file at a point.
    Truncate(usize),
    /// XOR one byte.
    Flip(usize, u8),
    /// Insert bytes.
    Insert(usize, Vec<u8>),
    /// Delete a run of bytes.
    Delete(usize, usize),
    /// Overwrite bytes in place.
    Overwrite(usize, Vec<u8>),
    /// Repeat a run of bytes (a header line, a row, a footer).
    Duplicate(usize, usize),
}

fn apply(mutations: &[Mutation], mut bytes: Vec<u8>) -> Vec<u8> {
    for mutation in mutations {
        let n = bytes.len().max(1);
        match mutation {
            Mutation::Truncate(at) => bytes.truncate(at % (n + 1)),
            Mutation::Flip(at, mask) => {
                if let Some(byte) = bytes.get_mut(at % n) {
                    *byte ^= mask.max(&1);
                }
            }
            Mutation::Insert(at, inserted) => {
                let at = (at % (n + 1)).min(bytes.len());
                bytes.splice(at..at, inserted.iter().copied());
            }
            Mutation::Delete(at, len) => {
                let at = (at % n).min(bytes.len());
                let end = (at + len).min(bytes.len());
                bytes.drain(at..end);
            }
            Mutation::Overwrite(at, written) => {
                let at = at % n;
                for (k, &byte) in written.iter().enumerate() {
                    if let Some(slot) = bytes.get_mut(at + k) {
                        *slot = byte;
                    }
                }
            }
            Mutation::Duplicate(at, len) => {
                let at = (at % n).min(bytes.len());
                let end = (at + len).min(bytes.len());
                let run = bytes[at..end].to_vec();
                bytes.splice(end..end, run);
            }
        }
    }
    bytes
}

/// Byte strings that readers of text trip on.
const HOSTILE_TEXT: &[&str] = &[
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "1e999",
    "-1e39",
    "3.4028236e38",
    "1e-46",
    "-0",
    "0x10",
    "1,000",
    "1e",
    ".",
    "+",
    "",
    "\"",
    "\"\"",
    "\"a,b\"",
    "\"unterminated",
    "\u{feff}",
    "\r\n",
    "\r",
    "\n",
    "\n\n",
    ",",
    ",,,,",
    ";",
    "\t",
    "NA",
    "?",
    "null",
    "true",
    "\0",
    "\u{1F600}",
    "٣",
    "18446744073709551616",
    "-9223372036854775809",
];

/// Bytes to insert or write over: a hostile token, raw bytes (invalid
/// UTF-8 among them), or a very long run of one byte.
fn hostile_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::sample::select(HOSTILE_TEXT).prop_map(|t| t.as_bytes().to_vec()),
        3 => prop::collection::vec(any::<u8>(), 1..16),
        1 => (any::<u8>(), 1000usize..80_000).prop_map(|(b, n)| vec![b; n]),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        2 => any::<usize>().prop_map(Mutation::Truncate),
        4 => (any::<usize>(), any::<u8>()).prop_map(|(at, mask)| Mutation::Flip(at, mask)),
        3 => (any::<usize>(), hostile_bytes()).prop_map(|(at, b)| Mutation::Insert(at, b)),
        2 => (any::<usize>(), 1usize..64).prop_map(|(at, len)| Mutation::Delete(at, len)),
        3 => (any::<usize>(), hostile_bytes()).prop_map(|(at, b)| Mutation::Overwrite(at, b)),
        1 => (any::<usize>(), 1usize..256).prop_map(|(at, len)| Mutation::Duplicate(at, len)),
    ]
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(mutation(), 1..5)
}

/// Random bytes, sometimes behind a format's magic so that the reader
/// gets past its first check.
fn random_bytes(magic: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    (any::<bool>(), prop::collection::vec(any::<u8>(), 0..2048)).prop_map(move |(with_magic, rest)| {
        match with_magic {
            true => magic.iter().copied().chain(rest).collect(),
            false => rest,
        }
    })
}

fn test_data(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name),
    )
    .unwrap()
}

// ---------------------------------------------------------------------
// CSV tables.

/// Valid tables to mutate: numbers only, text and labels with missing
/// cells, a semicolon-separated one, and a real file.
fn csv_seeds() -> Vec<Vec<u8>> {
    vec![
        b"x1,x2,y\n1,2,3\n4,5,6\n7,8,9.5\n-1,0,2\n".to_vec(),
        b"colour,size,weight,y\nred,1.5,2,yes\nblue,,1,no\nred,2.5,NA,yes\ngreen,3,1,no\n".to_vec(),
        b"x1;x2;y\n1.5;2;3\n4;5.25;6\n".to_vec(),
        b"\xef\xbb\xbf\"x 1\",\"x,2\",y\r\n\"1\",\"2\",\"3\"\r\n4,5,6\r\n".to_vec(),
        test_data("formats.csv"),
    ]
}

/// A table built cell by cell from hostile pieces: a random header (BOM,
/// repeated, empty and very long names), ragged rows, quotes, any of the
/// three delimiters and line endings, empty lines.
fn generated_csv() -> impl Strategy<Value = Vec<u8>> {
    let name = prop_oneof![
        4 => prop::sample::select(&["x1", "x2", "y", "colour", "label"][..]).prop_map(String::from),
        1 => prop::sample::select(HOSTILE_TEXT).prop_map(String::from),
        1 => Just("\u{feff}y".to_string()),
        1 => (1usize..70_000).prop_map(|n| "n".repeat(n)),
    ];
    let cell = prop_oneof![
        4 => any::<f64>().prop_map(|v| v.to_string()),
        3 => (-1000i64..1000).prop_map(|v| v.to_string()),
        3 => prop::sample::select(HOSTILE_TEXT).prop_map(String::from),
        2 => prop::sample::select(&["red", "blue", "yes", "no", "a b", "NA"][..]).prop_map(String::from),
        1 => (1usize..100_000).prop_map(|n| "9".repeat(n)),
    ];
    let quoted = (cell, 0u8..4).prop_map(|(cell, how)| match how {
        0 => format!("\"{}\"", cell.replace('"', "\"\"")),
        1 => format!("\"{cell}"),
        _ => cell,
    });
    let row = prop::collection::vec(quoted, 0..6);
    (
        any::<bool>(),
        prop::collection::vec(name, 0..6),
        prop::collection::vec(row, 0..12),
        prop::sample::select(&[",", ";", "\t"][..]),
        prop::sample::select(&["\n", "\r\n", "\r", "\n\n"][..]),
    )
        .prop_map(|(bom, header, rows, delimiter, end)| {
            let mut text = String::new();
            if bom {
                text.push('\u{feff}');
            }
            text.push_str(&header.join(delimiter));
            for row in rows {
                text.push_str(end);
                text.push_str(&row.join(delimiter));
            }
            text.into_bytes()
        })
}

fn csv_file() -> impl Strategy<Value = Vec<u8>> {
    let seeds = csv_seeds();
    prop_oneof![
        1 => random_bytes(b"x,y\n"),
        3 => (0..seeds.len(), mutations()).prop_map(move |(k, m)| apply(&m, seeds[k].clone())),
        3 => generated_csv(),
        1 => (generated_csv(), mutations()).prop_map(|(file, m)| apply(&m, file)),
    ]
}

/// The table readers' options worth varying: each decides differently
/// about text, labels and missing cells.
fn table_options() -> impl Strategy<Value = TableOptions> {
    (
        any::<bool>(),
        prop::sample::select(vec![Missing::Error, Missing::Drop, Missing::Mean]),
        any::<bool>(),
        prop::sample::select(vec![0usize, 1, 3, 50]),
        any::<bool>(),
    )
        .prop_map(
            |(drop_text, missing, labels, max_categories, weights)| TableOptions {
                categorical: match drop_text {
                    true => Categorical::Drop,
                    false => Categorical::OneHot,
                },
                missing,
                labels,
                max_categories,
                weight_column: weights.then(|| "x2".to_string()),
                ..TableOptions::default()
            },
        )
}

/// Every public way a table file (CSV or Parquet) is read: whole, as a
/// stream, by columns, and through an encoding learnt from a valid file.
fn read_every_way(path: &Path, target: &str, options: &TableOptions, encoding: &Encoding) {
    let _ = read_table(path, target, None, options);
    let _ = read_table(path, target, Some(&["x1"]), options);
    if let Ok(table) = TableData::open(path, target, None, options) {
        stream(&table);
        let _ = table.read_whole();
    }
    if let Ok(Opened::Streamed(table)) =
        TableData::open(path, target, None, options).and_then(|t| t.read_within(0))
    {
        stream(&table);
    }
    let _ = read_columns(path, &[target, "x1"]);
    let _ = encoding.apply(path);
}

fn valid_encoding(reader: &str, name: &str, bytes: &[u8], target: &str) -> Encoding {
    let path = write_case(reader, name, bytes);
    read_table(&path, target, None, &TableOptions::default())
        .unwrap()
        .encoding
}

/// The encoding of a valid table, applied to every hostile one.
static CSV_ENCODING: OnceLock<Encoding> = OnceLock::new();

proptest! {
    #![proptest_config(config(CSV_CASES))]

    #[test]
    fn csv_readers_never_panic(file in csv_file(), options in table_options()) {
        let encoding = CSV_ENCODING.get_or_init(|| valid_encoding("csv", "seed.csv", &csv_seeds()[0], "y"));
        let path = write_case("csv", "case.csv", &file);
        never_panics("read_csv", &[&path], || {
            let _ = downhill::data::read_csv(&path, Some("y"), None);
            let _ = downhill::data::read_csv(&path, None, None);
            let _ = downhill::data::read_csv(&path, Some("y"), Some(&["x1", "x2"]));
        })?;
        never_panics("the table readers", &[&path], || read_every_way(&path, "y", &options, encoding))?;
    }
}

const CSV_CASES: u32 = 10_000;

// ---------------------------------------------------------------------
// Parquet.

/// Valid Parquet files to mutate: one the crate writes (float32 columns),
/// and the pyarrow-written ones of tests/formats.rs (integers, text,
/// dictionaries, nulls, dates).
fn parquet_seeds() -> Vec<Vec<u8>> {
    let x = Array2::from_shape_fn((6, 2), |(i, j)| (i * 2 + j) as f32 - 3.5);
    let y = Array1::from_iter((0..6).map(|i| i as f32));
    let path = case_dir("parquet").join("seed.parquet");
    let names = ["x1".to_string(), "x2".to_string()];
    write_source(&InMemory::new(x.view(), y.view()).unwrap(), &names, "y", &path).unwrap();
    vec![
        std::fs::read(&path).unwrap(),
        test_data("formats.parquet"),
        test_data("formats_nulls.parquet"),
        test_data("formats_dates.parquet"),
    ]
}

fn parquet_file() -> impl Strategy<Value = Vec<u8>> {
    let seeds = parquet_seeds();
    prop_oneof![
        1 => random_bytes(b"PAR1"),
        // Random bytes between the magic at both ends: past the reader's
        // first check, into the footer's decoding.
        1 => prop::collection::vec(any::<u8>(), 0..512).prop_map(|middle| {
            [b"PAR1".as_slice(), &middle, b"PAR1"].concat()
        }),
        6 => (0..seeds.len(), mutations()).prop_map(move |(k, m)| apply(&m, seeds[k].clone())),
    ]
}

static PARQUET_ENCODING: OnceLock<Encoding> = OnceLock::new();

proptest! {
    #![proptest_config(config(PARQUET_CASES))]

    #[test]
    fn parquet_readers_never_panic(file in parquet_file(), options in table_options()) {
        let encoding = PARQUET_ENCODING
            .get_or_init(|| valid_encoding("parquet", "encoding.parquet", &parquet_seeds()[0], "y"));
        let path = write_case("parquet", "case.parquet", &file);
        never_panics("parquet_shape", &[&path], || {
            let _ = parquet_shape(&path);
        })?;
        never_panics("ParquetData", &[&path], || {
            if let Ok(data) = ParquetData::open(&path, "y", None) {
                let _ = data.row_groups();
                let _ = data.has_booleans();
                stream(&data);
            }
            let _ = ParquetData::open(&path, "y", Some(&["x1"]));
        })?;
        never_panics("the table readers", &[&path], || read_every_way(&path, "y", &options, encoding))?;
    }
}

const PARQUET_CASES: u32 = 8_000;

// ---------------------------------------------------------------------
// NumPy .npy.

/// An `.npy` file of `header` (the dictionary's text) and `data`, with
/// the magic, version 1.0 and the header padded as NumPy pads it.
fn npy(header: &str, data: &[u8]) -> Vec<u8> {
    let mut dict = header.to_string();
    // Magic (6) + version (2) + length (2) + dictionary + newline, padded
    // to a multiple of 64 so that the data is aligned.
    while !(10 + dict.len() + 1).is_multiple_of(64) {
        dict.push(' ');
    }
    dict.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    bytes.extend_from_slice(dict.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

fn f32_bytes(values: impl IntoIterator<Item = f32>) -> Vec<u8> {
    values.into_iter().flat_map(f32::to_le_bytes).collect()
}

/// Valid files to mutate: float32 and float64 matrices, C and Fortran
/// order, a vector of targets, and the NumPy-written ones of
/// tests/formats.rs.
fn npy_seeds() -> Vec<Vec<u8>> {
    let f64_bytes: Vec<u8> = (0..6).flat_map(|i| (i as f64 * 0.5).to_le_bytes()).collect();
    vec![
        npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }",
            &f32_bytes((0..6).map(|i| i as f32)),
        ),
        npy(
            "{'descr': '<f8', 'fortran_order': True, 'shape': (3, 2), }",
            &f64_bytes,
        ),
        npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
            &f32_bytes([1.0, 2.0, 3.0]),
        ),
        test_data("formats_x32.npy"),
        test_data("formats_xy.npy"),
        test_data("formats_fortran.npy"),
        test_data("formats_y.npy"),
    ]
}

/// Dimensions a header may claim, as written and as numbers where they
/// are: small, zero, and sizes whose product overflows or that no file
/// holds.
fn claimed_dimension() -> impl Strategy<Value = (String, Option<u128>)> {
    let number = |n: u128| (n.to_string(), Some(n));
    prop_oneof![
        3 => (0u128..5).prop_map(number),
        1 => prop::sample::select(vec![
            1u128 << 31,
            1 << 32,
            (1 << 32) + 1,
            1 << 62,
            1 << 63,
            u64::MAX as u128,
            1 << 64,
        ])
        .prop_map(number),
        1 => prop::sample::select(vec!["-1", "1.5", "'a'", "None"]).prop_map(|t| (t.to_string(), None)),
    ]
}

/// A header written field by field with hostile values: any dtype, an
/// order that is not a boolean, shapes that lie about the data that
/// follows, fields missing or repeated; and data of any length, or of the
/// length the shape gives float32 values (so that the reader gets past
/// its size check with a shape of zero rows or zero columns).
fn generated_npy() -> impl Strategy<Value = Vec<u8>> {
    let descr = prop::sample::select(vec![
        "'<f4'",
        "'<f8'",
        "'>f4'",
        "'>f8'",
        "'|u1'",
        "'<i8'",
        "'<f2'",
        "'|b1'",
        "'<c8'",
        "'|O'",
        "'<U3'",
        "'f4'",
        "''",
        "3",
        "[('a', '<f4')]",
    ]);
    let descr = prop_oneof![2 => Just("'<f4'"), 1 => descr];
    let order = prop::sample::select(vec!["False", "True", "0", "'no'", "None"]);
    let shape = prop::collection::vec(claimed_dimension(), 0..4);
    let random_data = prop::collection::vec(any::<f32>(), 0..64);
    (descr, order, shape, 0u8..8, any::<bool>(), random_data).prop_map(
        |(descr, order, dims, layout, fitting, random_data)| {
            let written: Vec<&str> = dims.iter().map(|(text, _)| text.as_str()).collect();
            let shape = match written.len() {
                1 => format!("({},)", written[0]),
                _ => format!("({})", written.join(", ")),
            };
            let values = dims
                .iter()
                .try_fold(1u128, |product, (_, n)| n.and_then(|n| product.checked_mul(n)));
            let data = match values {
                Some(n) if fitting && n <= 256 => f32_bytes((0..n).map(|v| v as f32)),
                _ => f32_bytes(random_data),
            };
            let header = match layout {
                0 => format!("{{'descr': {descr}, 'shape': {shape}, }}"),
                1 => format!(
                    "{{'descr': {descr}, 'fortran_order': {order}, 'shape': {shape}, 'shape': (1,), }}"
                ),
                2 => {
                    format!("{{'descr': {descr}, 'fortran_order': {order}, 'shape': {shape}, 'extra': 1, }}")
                }
                3 => format!("{{'descr': {descr}, 'fortran_order': {order}, 'shape': {shape}"),
                _ => format!("{{'descr': {descr}, 'fortran_order': {order}, 'shape': {shape}, }}"),
            };
            npy(&header, &data)
        },
    )
}

fn npy_file() -> impl Strategy<Value = Vec<u8>> {
    let seeds = npy_seeds();
    prop_oneof![
        1 => random_bytes(b"\x93NUMPY\x01\x00"),
        4 => (0..seeds.len(), mutations()).prop_map(move |(k, m)| apply(&m, seeds[k].clone())),
        4 => generated_npy(),
        1 => (generated_npy(), mutations()).prop_map(|(file, m)| apply(&m, file)),
    ]
}

/// Everything a user of an opened `.npy` source may ask of it.
fn use_npy(data: &NpyData) {
    let _ = data.feature_names();
    let _ = data.target_name();
    let _ = data.x();
    let _ = data.y();
    stream(data);
}

static NPY_SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();

proptest! {
    #![proptest_config(config(NPY_CASES))]

    #[test]
    fn npy_readers_never_panic(x in npy_file(), y in npy_file(), target in 0usize..4) {
        let seeds = NPY_SEEDS.get_or_init(npy_seeds);
        let x_path = write_case("npy", "x.npy", &x);
        let y_path = write_case("npy", "y.npy", &y);
        let valid_y = write_case("npy", "valid_y.npy", &seeds[2]);
        let valid_x = write_case("npy", "valid_x.npy", &seeds[0]);
        never_panics("read_features", &[&x_path], || {
            let _ = read_features(&x_path);
        })?;
        never_panics("NpyData::open", &[&x_path, &y_path], || {
            for (x, y) in [(&x_path, &valid_y), (&valid_x, &y_path), (&x_path, &y_path)] {
                if let Ok(data) = NpyData::open(x, y) {
                    use_npy(&data);
                }
            }
        })?;
        never_panics("NpyData::open_matrix", &[&x_path], || {
            if let Ok(data) = NpyData::open_matrix(&x_path, target) {
                use_npy(&data);
            }
        })?;
    }
}

const NPY_CASES: u32 = 5_000;

// ---------------------------------------------------------------------
// Saved models.

/// Real saved models to mutate: linear with standardization, logistic,
/// multinomial, and one that keeps a table's encoding.
fn model_seeds() -> Vec<Vec<u8>> {
    let x = ndarray::array![
        [1.0f32, 0.5],
        [2.0, -1.0],
        [3.0, 0.0],
        [4.0, 2.0],
        [5.0, 1.0],
        [6.0, -2.0]
    ];
    let linear_y = ndarray::array![5.0f32, 7.0, 9.0, 11.0, 13.0, 15.0];
    let labels = ndarray::array![0.0f32, 0.0, 1.0, 0.0, 1.0, 1.0];
    let classes = ndarray::array![0.0f32, 1.0, 2.0, 0.0, 1.0, 2.0];
    let fits = [
        GradientDescent::linear()
            .standardize(true)
            .max_epochs(5)
            .device(Device::Cpu)
            .fit(x.view(), linear_y.view()),
        GradientDescent::logistic()
            .max_epochs(5)
            .device(Device::Cpu)
            .fit(x.view(), labels.view()),
        GradientDescent::multinomial(3)
            .max_epochs(5)
            .device(Device::Cpu)
            .fit(x.view(), classes.view()),
    ];
    let table = {
        let path = write_case("model", "table.csv", &csv_seeds()[1]);
        let options = TableOptions {
            missing: Missing::Mean,
            labels: true,
            ..TableOptions::default()
        };
        read_table(&path, "y", None, &options).unwrap()
    };
    let encoded = GradientDescent::logistic()
        .max_epochs(5)
        .device(Device::Cpu)
        .fit(table.x.view(), table.y.view())
        .and_then(|fitted| fitted.with_encoding(table.encoding));
    fits.into_iter()
        .chain([encoded])
        .map(|fitted| fitted.unwrap().to_json().unwrap().into_bytes())
        .collect()
}

/// JSON values to put in place of a field's.
fn hostile_json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::json;
    prop::sample::select(vec![
        json!(null),
        json!(true),
        json!(-1),
        json!(0),
        json!(1),
        json!(3),
        json!(4_294_967_296u64),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(1e308),
        json!(-1e308),
        json!(1.5),
        json!("inf"),
        json!("-inf"),
        json!("NaN"),
        json!(""),
        json!("x".repeat(1000)),
        json!([]),
        json!({}),
        json!([1, 2, 3]),
        json!([[1.0, 2.0], [3.0]]),
        json!({"a": 1}),
    ])
}

/// A change to a saved model's JSON tree.
#[derive(Debug, Clone)]
enum JsonEdit {
    /// The value at a node replaced.
    Replace(usize, serde_json::Value),
    /// A field or element removed.
    Remove(usize),
    /// An array's elements repeated (lengths that disagree).
    Grow(usize, usize),
}

/// The JSON pointers of every node of `value`, in order.
fn pointers(value: &serde_json::Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                pointers(
                    inner,
                    format!("{at}/{}", key.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        serde_json::Value::Array(items) => {
            for (k, inner) in items.iter().enumerate() {
                pointers(inner, format!("{at}/{k}"), out);
            }
        }
        _ => {}
    }
}

fn edit_json(edits: &[JsonEdit], text: &[u8]) -> Vec<u8> {
    let mut value: serde_json::Value = serde_json::from_slice(text).unwrap();
    for edit in edits {
        let mut nodes = Vec::new();
        pointers(&value, String::new(), &mut nodes);
        let pick = |k: usize| nodes[k % nodes.len()].clone();
        match edit {
            JsonEdit::Replace(k, new) => {
                if let Some(node) = value.pointer_mut(&pick(*k)) {
                    *node = new.clone();
                }
            }
            JsonEdit::Remove(k) => {
                let pointer = pick(*k);
                if let Some((parent, last)) = pointer.rsplit_once('/') {
                    match value.pointer_mut(parent) {
                        Some(serde_json::Value::Object(map)) => {
                            map.remove(&last.replace("~1", "/").replace("~0", "~"));
                        }
                        Some(serde_json::Value::Array(items)) => {
                            if let Ok(i) = last.parse::<usize>() {
                                if i < items.len() {
                                    items.remove(i);
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            JsonEdit::Grow(k, times) => {
                if let Some(serde_json::Value::Array(items)) = value.pointer_mut(&pick(*k)) {
                    let copy = items.clone();
                    for _ in 0..*times {
                        items.extend(copy.iter().cloned());
                    }
                }
            }
        }
    }
    serde_json::to_vec_pretty(&value).unwrap()
}

fn json_edit() -> impl Strategy<Value = JsonEdit> {
    prop_oneof![
        4 => (any::<usize>(), hostile_json()).prop_map(|(k, v)| JsonEdit::Replace(k, v)),
        2 => any::<usize>().prop_map(JsonEdit::Remove),
        1 => (any::<usize>(), 1usize..200).prop_map(|(k, n)| JsonEdit::Grow(k, n)),
    ]
}

/// Text that JSON readers trip on, spliced anywhere.
const HOSTILE_JSON_TEXT: &[&str] = &[
    "1e999",
    "-1e999",
    "NaN",
    "Infinity",
    "\"\\ud800\"",
    "\u{feff}",
    "{\"format\": \"downhill-model\", \"format\": 1}",
    ",\"version\": 99",
    "18446744073709551616",
];

fn model_file() -> impl Strategy<Value = Vec<u8>> {
    let seeds = model_seeds();
    let deep = (1usize..5000).prop_map(|depth| "[".repeat(depth).into_bytes());
    let spliced = (any::<usize>(), prop::sample::select(HOSTILE_JSON_TEXT))
        .prop_map(|(at, text)| Mutation::Insert(at, text.as_bytes().to_vec()));
    let seeds_for_bytes = seeds.clone();
    prop_oneof![
        1 => random_bytes(b"{\"format\": \"downhill-model\", \"version\": 3"),
        1 => deep,
        4 => (0..seeds.len(), prop::collection::vec(json_edit(), 1..4))
            .prop_map(move |(k, e)| edit_json(&e, &seeds[k])),
        3 => (0..seeds_for_bytes.len(), mutations(), prop::option::of(spliced)).prop_map(
            move |(k, mut m, splice)| {
                m.extend(splice);
                apply(&m, seeds_for_bytes[k].clone())
            }
        ),
    ]
}

proptest! {
    #![proptest_config(config(MODEL_CASES))]

    #[test]
    fn saved_model_reader_never_panics(file in model_file()) {
        let path = write_case("model", "case.json", &file);
        never_panics("Fitted::load", &[&path], || {
            let Ok(fitted) = Fitted::load(&path) else { return };
            // A model that loads is used: what it claims must hold.
            let features = fitted.coefficients().nrows();
            let x = Array2::<f32>::zeros((2, features));
            let _ = fitted.predict(x.view());
            let _ = fitted.predict_proba(x.view());
            let _ = fitted.to_json();
        })?;
    }
}

const MODEL_CASES: u32 = 20_000;

// ---------------------------------------------------------------------
// The seeds are valid files: mutations start from files that read.

#[test]
fn seeds_are_read() {
    for (k, seed) in csv_seeds().iter().enumerate() {
        let path = write_case("seeds", &format!("seed{k}.csv"), seed);
        let options = TableOptions {
            missing: Missing::Mean,
            ..TableOptions::default()
        };
        read_table(&path, "y", None, &options)
            .or_else(|_| {
                read_table(
                    &path,
                    "y",
                    None,
                    &TableOptions {
                        labels: true,
                        ..options
                    },
                )
            })
            .unwrap_or_else(|e| panic!("CSV seed {k}: {e}"));
    }
    for (k, seed) in parquet_seeds().iter().enumerate() {
        let path = write_case("seeds", &format!("seed{k}.parquet"), seed);
        parquet_shape(&path).unwrap_or_else(|e| panic!("Parquet seed {k}: {e}"));
    }
    for (k, seed) in npy_seeds().iter().enumerate() {
        let path = write_case("seeds", &format!("seed{k}.npy"), seed);
        // A vector of targets is opened beside a matrix of as many rows.
        let rows = NpyData::open_matrix(&path, 0)
            .or_else(|_| NpyData::open(write_case("seeds", "x.npy", &npy_seeds()[0]), &path))
            .or_else(|_| NpyData::open(write_case("seeds", "x.npy", &test_data("formats_x32.npy")), &path))
            .unwrap_or_else(|e| panic!("npy seed {k}: {e}"))
            .rows();
        assert!(rows > 0, "npy seed {k}");
    }
    for (k, seed) in model_seeds().iter().enumerate() {
        let path = write_case("seeds", &format!("seed{k}.json"), seed);
        Fitted::load(&path).unwrap_or_else(|e| panic!("model seed {k}: {e}"));
    }
}

// ---------------------------------------------------------------------
// Files the fuzzing found.

#[test]
fn npy_of_a_shape_beyond_memory_is_refused() {
    // Zero rows make the product of the dimensions 0, which passes
    // ndarray-npy's size check; ndarray then refuses the view of 2^63
    // columns, which ndarray-npy unwraps: a panic before the fix.
    let path = write_case(
        "regressions",
        "beyond_memory.npy",
        &npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 9223372036854775808), }",
            &[],
        ),
    );
    for (what, opened) in [
        ("read_features", read_features(&path).map(|_| ())),
        ("open_matrix", NpyData::open_matrix(&path, 0).map(|_| ())),
    ] {
        match opened {
            Err(Error::Data(DataError::MalformedFile { reason, .. })) => {
                assert!(reason.contains("9223372036854775808"), "{what}: {reason}")
            }
            other => panic!("{what}: {other:?}"),
        }
    }
}

#[test]
fn npy_of_no_rows_and_countless_columns_is_refused() {
    let wide = write_case(
        "regressions",
        "wide.npy",
        &npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4294967297), }",
            &[],
        ),
    );
    let no_targets = write_case(
        "regressions",
        "no_targets.npy",
        &npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }", &[]),
    );
    // Before the fix: opened, and `feature_names` asked for 2^32 + 1 names.
    for opened in [NpyData::open_matrix(&wide, 0), NpyData::open(&wide, &no_targets)] {
        match opened {
            Err(Error::Data(DataError::EmptyFile { path, missing })) => {
                assert_eq!((path.as_str(), missing), (wide.to_str().unwrap(), "data rows"))
            }
            Err(other) => panic!("{other}"),
            Ok(data) => panic!("opened, of {} features", data.features()),
        }
    }
}

/// A committed file of the seed corpus (tests/data/fuzz/).
fn fuzz_data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fuzz")
        .join(name)
}

#[test]
fn parquet_whose_levels_run_past_their_page_is_malformed() {
    // formats_dates.parquet with bytes changed in a page: arrow-rs's
    // decoder asserted "offset + len out of bounds" on the definition
    // levels, a panic of `read_columns` before the fix (the other
    // readers refuse the file's date column first).
    let path = fuzz_data("definition_levels_past_the_page.parquet");
    let malformed = |what: &str, result: downhill::Result<()>| match result {
        Err(Error::Data(DataError::MalformedFile { reason, .. })) => {
            assert!(reason.contains("out of bounds"), "{what}: {reason}")
        }
        other => panic!("{what}: {other:?}"),
    };
    malformed("read_columns", read_columns(&path, &["y", "x1"]).map(|_| ()));
}

#[test]
fn parquet_whose_footer_counts_negative_rows_is_malformed() {
    // Found by CI's random seed after the harness landed: a footer whose
    // row group counts -17 rows wrapped into a row range past the table,
    // and reading the table whole panicked splitting its rows ("mid >
    // len"). The footer is refused when the file is opened.
    let path = fuzz_data("negative_row_group_count.parquet");
    let options = TableOptions {
        max_categories: 0,
        ..TableOptions::default()
    };
    match read_table(&path, "y", None, &options) {
        Err(Error::Data(DataError::MalformedFile { reason, .. })) => {
            assert!(reason.contains("-17 rows"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}
