import numpy as np
import pytest

from isometry.data.io import load_embeddings, load_labels
from isometry.errors import InputError


def test_npy_is_memmapped(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((5, 3), dtype=np.float32))
    assert isinstance(load_embeddings(tmp_path / "x.npy"), np.memmap)


def test_npz_keys(tmp_path):
    np.savez(tmp_path / "d.npz", embeddings=np.ones((3, 2)), labels=np.array(["a", "b", "a"]))
    assert load_embeddings(tmp_path / "d.npz").shape == (3, 2)
    assert load_labels(tmp_path / "d.npz").tolist() == ["a", "b", "a"]
    np.savez(tmp_path / "e.npz", x=np.ones((3, 2)))
    with pytest.raises(InputError, match="no 'labels' array; it holds: x"):
        load_labels(tmp_path / "e.npz")


def test_csv_with_and_without_header(tmp_path):
    (tmp_path / "a.csv").write_text("f1,f2\n1,2\n3,4\n")
    (tmp_path / "b.csv").write_text("1,2\n3,4\n")
    np.testing.assert_array_equal(load_embeddings(tmp_path / "a.csv"), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(load_embeddings(tmp_path / "b.csv"), [[1, 2], [3, 4]])
    (tmp_path / "l.csv").write_text("label\n3\n4\n")
    assert load_labels(tmp_path / "l.csv").tolist() == [3, 4]
    (tmp_path / "s.csv").write_text("cat\ndog\n")
    assert load_labels(tmp_path / "s.csv").tolist() == ["cat", "dog"]


def test_parquet_columns_and_list_column(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"a": [1.0, 2.0], "b": [3.0, 4.0]}), tmp_path / "t.parquet")
    np.testing.assert_array_equal(load_embeddings(tmp_path / "t.parquet"), [[1, 3], [2, 4]])
    pq.write_table(pa.table({"emb": [[1.0, 2.0], [3.0, 4.0]]}), tmp_path / "l.parquet")
    np.testing.assert_array_equal(load_embeddings(tmp_path / "l.parquet"), [[1, 2], [3, 4]])
    pq.write_table(pa.table({"label": ["x", "y"]}), tmp_path / "y.parquet")
    assert load_labels(tmp_path / "y.parquet").tolist() == ["x", "y"]


def test_missing_and_unknown(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_embeddings(tmp_path / "none.npy")
    (tmp_path / "x.txt").write_text("1")
    with pytest.raises(InputError, match="unknown type '.txt'"):
        load_embeddings(tmp_path / "x.txt")
    (tmp_path / "bad.npy").write_text("not numpy")
    with pytest.raises(InputError, match="could not read"):
        load_embeddings(tmp_path / "bad.npy")
