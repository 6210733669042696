"""Files written in parts (each MPI rank its rows of the per-particle arrays, one file joining
them; :mod:`meanfield.h5io`): read back whole or by rows as if written whole, by our reader and by
h5py, and every way a part can be wrong is refused in one line."""
import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meanfield import h5io
from meanfield.h5io import FileError
from solvers import shardio
from solvers.runfolder import CHECKPOINT, SCHEMA_VERSION, RunFolder


def write_in_parts(path, columns, bounds, token="t0", compress=False, extra=None, schema="test", version=1):
    """``columns`` (name -> whole array) written as if rank k held rows bounds[k]: the part files,
    then the file joining them (as solvers.shardio does across ranks)."""
    folder = h5io.parts_folder(path)
    folder.mkdir(exist_ok=True)
    files, shas = [], []
    for k, (lo, hi) in enumerate(bounds):
        name = f"{folder.name}/{token}-{k:05d}.h5"
        shas.append(h5io.write_part(path.parent / name, {n: v[lo:hi] for n, v in columns.items()}, lo=lo, hi=hi, compress=compress))
        files.append(name)
    parts = h5io.Parts(tuple(columns), tuple(v.dtype.str for v in columns.values()), tuple(files), tuple(b[0] for b in bounds),
                       tuple(b[1] for b in bounds), tuple(shas))
    h5io.write_file(path, dict(extra or {"note": "joined"}), {"state": {"kind": "particles", "step": 7}}, schema=schema, version=version,
                    compress=compress, parts=parts)
    return parts


def columns(m, rng, dtype=np.float64):
    return {"state/r": rng.standard_normal(m).astype(dtype), "state/theta": rng.uniform(0, 7, m).astype(dtype),
            "state/ray": rng.integers(-1, 9, m).astype(np.int32)}


@st.composite
def tilings(draw):
    m = draw(st.integers(1, 300))
    cuts = sorted(draw(st.sets(st.integers(1, m - 1), max_size=6))) if m > 1 else []
    edges = [0, *cuts, m]
    lo = draw(st.integers(0, m))
    return m, list(zip(edges[:-1], edges[1:])), (lo, draw(st.integers(lo, m)))


@settings(max_examples=40, deadline=None)
@given(tiling=tilings(), dtype=st.sampled_from([np.float64, np.float32]), compress=st.booleans(), seed=st.integers(0, 2**16))
def test_a_file_in_parts_reads_as_one_written_whole(tmp_path_factory, tiling, dtype, compress, seed):
    m, bounds, rows = tiling
    path = tmp_path_factory.mktemp("parts") / "step_7.h5"
    whole = columns(m, np.random.default_rng(seed), dtype)
    write_in_parts(path, whole, bounds, compress=compress)
    arrays, attrs = h5io.read_file(path, schema="test", version=1)
    assert attrs["state"] == {"kind": "particles", "step": 7} and arrays["note"] == "joined"
    for name, values in whole.items():
        assert arrays[name].dtype == values.dtype and arrays[name].tobytes() == values.tobytes()
    sliced, _ = h5io.read_file(path, schema="test", version=1, rows=rows, check_parts=True)
    for name, values in whole.items():
        assert sliced[name].tobytes() == values[rows[0]:rows[1]].tobytes()
    with h5py.File(path) as f:  # the serial layout, through HDF5's virtual datasets
        for name, values in whole.items():
            assert f[name][()].tobytes() == values.tobytes()


@pytest.fixture
def parted(tmp_path):
    path = tmp_path / "step_7.h5"
    write_in_parts(path, columns(100, np.random.default_rng(1)), [(0, 40), (40, 100)])
    return path


def _flip(path, at):
    data = bytearray(path.read_bytes())
    data[at] ^= 0x10
    path.write_bytes(bytes(data))


def test_a_damaged_part_is_refused_and_only_where_it_is_read(parted):
    second = sorted(h5io.parts_folder(parted).iterdir())[1]
    _flip(second, second.stat().st_size // 2)
    with pytest.raises(FileError, match=r"part step_7.parts/t0-00001.h5: its checksum does not match"):
        h5io.read_file(parted, schema="test", version=1)
    assert h5io.read_file(parted, schema="test", version=1, rows=(0, 40))[0]["state/r"].size == 40  # the rows of part 0
    with pytest.raises(FileError, match="t0-00001.h5: its checksum does not match its bytes or its list entry"):
        h5io.read_file(parted, schema="test", version=1, rows=(0, 40), check_parts=True)  # every part verified


def test_a_part_from_another_write_or_a_missing_one_is_refused(parted, tmp_path):
    other = tmp_path / "other" / "step_7.h5"
    other.parent.mkdir()
    write_in_parts(other, columns(100, np.random.default_rng(2)), [(0, 40), (40, 100)])
    replaced = h5io.parts_folder(parted) / "t0-00000.h5"
    replaced.write_bytes((h5io.parts_folder(other) / "t0-00000.h5").read_bytes())  # sound in itself, not this file's part
    with pytest.raises(FileError, match="t0-00000.h5: its checksum is not the one its list of parts holds"):
        h5io.read_file(parted, schema="test", version=1)
    replaced.unlink()
    with pytest.raises(FileError, match="t0-00000.h5: no such file"):
        h5io.read_file(parted, schema="test", version=1, rows=(0, 1))


def test_a_list_of_parts_that_leaves_the_folder_or_gaps_is_refused(tmp_path):
    rng = np.random.default_rng(3)
    for bounds in ([(0, 40), (41, 100)], [(0, 40), (30, 100)]):
        path = tmp_path / f"gap{bounds[1][0]}" / "step_7.h5"
        path.parent.mkdir()
        write_in_parts(path, columns(100, rng), bounds)
        with pytest.raises(FileError, match="not a tiling of its rows"):
            h5io.read_file(path, schema="test", version=1)
    listing = h5io.Parts(("state/r",), ("<f8",), ("../elsewhere.h5",), (0,), (5,), ("0" * 64,)).listing()
    with pytest.raises(FileError, match="not a tiling of its rows by files beside it"):
        h5io.parts_of(listing, "x")


def test_a_rewrite_keeps_the_old_parts_until_it_is_done_and_cleaning_removes_leftovers(tmp_path):
    """A run folder's cleaning (at resume, under the lock) removes what a killed sharded write
    left: parts folders without their file, parts their file does not list, temporary files."""
    folder = RunFolder(tmp_path / "run")
    folder.checkpoint_dir.mkdir(parents=True)
    folder.snapshot_dir.mkdir()
    path = folder.checkpoint_dir / "step_000000000007.h5"
    whole = columns(50, np.random.default_rng(4))
    extra = {"config": "", "samples/x": np.zeros(1), "samples/y": np.zeros(1), "state/moments": np.zeros((2, 2))}
    write_in_parts(path, whole, [(0, 20), (20, 50)], extra=extra, schema=CHECKPOINT, version=SCHEMA_VERSION)
    stale = h5io.parts_folder(path) / "dead-00000.h5"  # a later write of the same step, killed before its file
    stale.write_bytes(b"x")
    (h5io.parts_folder(path) / ".t1-00001.h5.tmp-99").write_bytes(b"x")
    orphan = h5io.parts_folder(folder.checkpoint_dir / "step_000000000009.h5")
    orphan.mkdir()
    (orphan / "t2-00000.h5").write_bytes(b"x")
    folder.clean_partial_files()
    assert sorted(p.name for p in h5io.parts_folder(path).iterdir()) == ["t0-00000.h5", "t0-00001.h5"]
    assert not orphan.exists()
    state = folder.newest_checkpoint().state
    assert state["r"].tobytes() == whole["state/r"].tobytes()
    shardio.remove(path)
    assert list(folder.checkpoint_dir.iterdir()) == []


def test_a_part_that_lists_parts_of_its_own_is_refused(tmp_path):
    """Parts are one level deep: a crafted part with a list of parts is refused for what it is
    (without the rule it would be read as a file in parts in turn)."""
    path = tmp_path / "step_7.h5"
    h5io.parts_folder(path).mkdir()
    name = "step_7.parts/t0-00000.h5"
    looping = h5io.Parts(("state/r",), ("<f8",), (name,), (0,), (3,), ("0" * 64,))
    sha = h5io.write_file(tmp_path / name, {}, {"/": {"lo": 0, "hi": 3}}, schema=h5io.PART, version=h5io.PART_VERSION, parts=looping)
    h5io.write_file(path, {}, {}, schema="test", version=1, parts=h5io.Parts(("state/r",), ("<f8",), (name,), (0,), (3,), (sha,)))
    with pytest.raises(FileError, match="t0-00000.h5: a part that has parts of its own"):
        h5io.read_file(path, schema="test", version=1)
