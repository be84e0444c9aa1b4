import json

import pytest

from isometry._atomic import atomic_write, write_json


def test_write_json_nan_becomes_null(tmp_path):
    write_json(tmp_path / "m.json", {"a": float("nan"), "b": 1.5})
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": None, "b": 1.5}


def test_failed_write_keeps_old_file(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")

    def boom(fh):
        fh.write(b"partial")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        atomic_write(target, boom)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_files_follow_the_umask(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        write_json(tmp_path / "m.json", {"a": 1})
    finally:
        os.umask(old)
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == 0o644
