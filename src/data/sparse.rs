//! Sparse rows: tables whose rows are mostly zeros (text as bags of words,
//! click logs, one-hot encodings of IDs), held in compressed sparse row
//! form (CSR, as SciPy's `csr_matrix`): for row `i`, the features
//! `indices[indptr[i]..indptr[i + 1]]` hold `values[..]` of the same range,
//! every other feature is 0.
//!
//! [`CsrData`] is a [`DataSource`]: an engine that reads dense blocks gets
//! each block's rows written out dense (the zeros filled in), so every
//! engine, loss and model fits sparse rows as they fit the same rows dense,
//! to the bit. Where its rows are read whole, a dense copy of them is made
//! (the memory budget decides, as for any source); an engine with a pass
//! over the CSR arrays themselves reads them ([`DataSource::sparse`]).

use std::borrow::Cow;

use crate::data::error::DataError;
use crate::data::source::{Block, Csr, DataSource, Sparse};
use crate::error::Result;

/// Rows in compressed sparse row form, with their targets.
#[derive(Debug, Clone, PartialEq)]
pub struct CsrData {
    features: usize,
    /// Where each row's entries start in `indices` and `values`, and after
    /// the last, where they end: one more than the rows.
    indptr: Vec<usize>,
    /// Each entry's feature, strictly increasing within a row.
    indices: Vec<u32>,
    /// Each entry's value: finite.
    values: Vec<f32>,
    y: Vec<f32>,
}

impl CsrData {
    /// Rows of `features` features from the CSR arrays `indptr` (one more
    /// than the rows, from 0, never decreasing, ending at the entries'
    /// count), `indices` and `values` (one per entry), and one target per
    /// row in `y`. Each array is checked, and the first thing wrong is the
    /// error naming it: [`DataError::SparseShape`],
    /// [`DataError::SparseIndex`] (a feature beyond `features`),
    /// [`DataError::UnsortedIndices`] (a row's features not strictly
    /// increasing: repeated or out of order), or
    /// [`DataError::NonFiniteSparseValue`].
    ///
    /// ```
    /// use downhill::data::sparse::CsrData;
    /// use downhill::data::source::DataSource;
    /// // [[0, 2, 0], [1, 0, 3]]
    /// let rows = CsrData::new(3, vec![0, 1, 3], vec![1, 0, 2], vec![2.0, 1.0, 3.0], vec![1.0, 0.0])?;
    /// assert_eq!(rows.block(0, 2)?.x.as_ref(), &[0.0, 2.0, 0.0, 1.0, 0.0, 3.0]);
    /// # Ok::<(), downhill::Error>(())
    /// ```
    pub fn new(
        features: usize,
        indptr: Vec<usize>,
        indices: Vec<u32>,
        values: Vec<f32>,
        y: Vec<f32>,
    ) -> Result<Self> {
        let shape = |what, expected, found| {
            Err(DataError::SparseShape {
                what,
                expected,
                found,
            }
            .into())
        };
        if indptr.len() != y.len() + 1 {
            return shape("indptr (one more than the targets)", y.len() + 1, indptr.len());
        }
        if indptr[0] != 0 {
            return shape("indptr[0]", 0, indptr[0]);
        }
        if indices.len() != values.len() {
            return shape("values (one per index)", indices.len(), values.len());
        }
        if let Some(row) = indptr.windows(2).position(|pair| pair[1] < pair[0]) {
            return shape(
                "indptr, never decreasing: its next entry",
                indptr[row],
                indptr[row + 1],
            );
        }
        if indptr[y.len()] != indices.len() {
            return shape("the last indptr (the entries)", indices.len(), indptr[y.len()]);
        }
        for (row, range) in indptr.windows(2).enumerate() {
            let mut previous: Option<u32> = None;
            for entry in range[0]..range[1] {
                let (index, value) = (indices[entry], values[entry]);
                if index as usize >= features {
                    return Err(DataError::SparseIndex { row, index, features }.into());
                }
                if let Some(previous) = previous.filter(|&p| index <= p) {
                    return Err(DataError::UnsortedIndices { row, index, previous }.into());
                }
                if !value.is_finite() {
                    return Err(DataError::NonFiniteSparseValue { row, index, value }.into());
                }
                previous = Some(index);
            }
        }
        // Steps read rows in a random order: their entries from huge pages.
        crate::memory::collapse_into_huge_pages(&indices);
        crate::memory::collapse_into_huge_pages(&values);
        Ok(CsrData {
            features,
            indptr,
            indices,
            values,
            y,
        })
    }

    /// The CSR arrays.
    pub fn csr(&self) -> Csr<'_> {
        Csr {
            features: self.features,
            indptr: &self.indptr,
            indices: &self.indices,
            values: &self.values,
        }
    }

    /// The stored entries (zeros written out in the file count too).
    pub fn entries(&self) -> usize {
        self.indices.len()
    }

    /// Bytes of the CSR arrays and the targets.
    pub fn bytes(&self) -> usize {
        self.indptr.len() * std::mem::size_of::<usize>()
            + self.indices.len() * std::mem::size_of::<u32>()
            + (self.values.len() + self.y.len()) * std::mem::size_of::<f32>()
    }

    /// The same rows with the targets `y`, one per row
    /// ([`DataError::SparseShape`] otherwise): labels mapped to classes.
    pub fn with_targets(mut self, y: Vec<f32>) -> Result<Self> {
        if y.len() != self.y.len() {
            return Err(DataError::SparseShape {
                what: "targets (one per row)",
                expected: self.y.len(),
                found: y.len(),
            }
            .into());
        }
        self.y = y;
        Ok(self)
    }

    /// The same rows with `features` features, where no stored feature
    /// lies beyond them ([`DataError::SparseIndex`] otherwise): a file's
    /// rows read as a saved model's width.
    pub fn with_features(mut self, features: usize) -> Result<Self> {
        if let Some(entry) = self.indices.iter().position(|&i| i as usize >= features) {
            let row = self.indptr.partition_point(|&start| start <= entry) - 1;
            return Err(DataError::SparseIndex {
                row,
                index: self.indices[entry],
                features,
            }
            .into());
        }
        self.features = features;
        Ok(self)
    }
}

impl CsrData {
    /// Rows `start..start + rows`, checked against the rows held
    /// ([`DataError::RowRange`] where they go beyond).
    fn span(&self, start: usize, rows: usize) -> Result<std::ops::Range<usize>> {
        match start.checked_add(rows) {
            Some(end) if end <= self.y.len() => Ok(start..end),
            _ => Err(DataError::RowRange {
                start,
                end: start.saturating_add(rows),
                rows: self.y.len(),
            }
            .into()),
        }
    }
}

impl DataSource for CsrData {
    fn rows(&self) -> usize {
        self.y.len()
    }

    fn features(&self) -> usize {
        self.features
    }

    fn block(&self, start: usize, rows: usize) -> Result<Block<'_>> {
        let span = self.span(start, rows)?;
        let mut x = Vec::new();
        self.csr().write_dense(start, rows, &mut x);
        Ok(Block {
            x: Cow::Owned(x),
            y: Cow::Borrowed(&self.y[span]),
        })
    }

    fn targets(&self, start: usize, rows: usize) -> Result<Cow<'_, [f32]>> {
        Ok(Cow::Borrowed(&self.y[self.span(start, rows)?]))
    }

    fn sparse(&self) -> Option<Sparse<'_>> {
        Some(Sparse {
            csr: self.csr(),
            standardization: None,
        })
    }

    fn read_into(&self, start: usize, rows: usize, x: &mut Vec<f32>, y: &mut Vec<f32>) -> Result<()> {
        let span = self.span(start, rows)?;
        self.csr().write_dense(start, rows, x);
        y.clear();
        y.extend_from_slice(&self.y[span]);
        Ok(())
    }
}
