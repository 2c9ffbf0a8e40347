"""tests/data/sparse.svm as SciPy writes sparse matrices, for tests/sparse.rs.

    venv/bin/python tests/data/make_sparse_npz.py

sparse_csr.npz: the rows as scipy.sparse.save_npz writes a CSR matrix
(compressed; float64 values, int32 indices); sparse_csr64.npz: the same,
uncompressed, with int64 indices and indptr and float32 values;
sparse_csc.npz: the same matrix in CSC form (refused: not CSR);
sparse_y.npy: the labels, float64.
"""
import os

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_svmlight_file

here = os.path.dirname(os.path.abspath(__file__))
x, y = load_svmlight_file(os.path.join(here, "sparse.svm"), n_features=60, zero_based=False)
x = x.tocsr()
sp.save_npz(os.path.join(here, "sparse_csr.npz"), x)
# As save_npz lays it out, with indices SciPy would narrow to 32 bits.
np.savez(os.path.join(here, "sparse_csr64.npz"), indices=x.indices.astype(np.int64),
         indptr=x.indptr.astype(np.int64), format=np.array(b"csr"), shape=np.array(x.shape),
         data=x.data.astype(np.float32))
sp.save_npz(os.path.join(here, "sparse_csc.npz"), x.tocsc())
np.save(os.path.join(here, "sparse_y.npy"), y.astype(np.float64))

# A CSR matrix in SciPy's non-canonical form (a row's indices out of order
# and repeated, which SciPy allows and sums), as save_npz would lay it out,
# and its dense values as SciPy reads them.
indptr = np.array([0, 3, 3, 5], dtype=np.int32)
indices = np.array([2, 0, 2, 3, 1], dtype=np.int32)
data = np.array([1.0, 2.0, 3.0, 5.0, 6.0])
np.savez(os.path.join(here, "sparse_unsorted.npz"), indices=indices, indptr=indptr, format=np.array(b"csr"),
         shape=np.array([3, 4]), data=data)
dense = sp.load_npz(os.path.join(here, "sparse_unsorted.npz")).toarray()
np.save(os.path.join(here, "sparse_unsorted_dense.npy"), dense)
