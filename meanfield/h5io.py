"""Reading and writing model data as self-describing, verified HDF5 files.

Every file written here is written atomically (built in memory, then a temporary file in the same
folder written, fsync'ed, renamed over the target, and the folder fsync'ed), so a reader sees either the old file or the new one, never a half-written one, whatever
kills the writer; a write that fails (a full disk) is one :class:`WriteError` and leaves nothing. Each file carries

- ``schema`` and ``schema_version`` attributes naming its layout, and ``meanfield_version``;
- datasets in chunks with HDF5's Fletcher-32 checksum filter (and gzip where asked), so any HDF5
  tool detects a damaged chunk;
- a ``digest`` attribute: SHA-256 over every dataset (name, dtype, shape, bytes) and every
  attribute, checked by :func:`read_file`, which so detects damage anywhere, metadata included.

Files are described by two flat dicts: ``arrays`` maps dataset paths ("state/r") to arrays, and
``attrs`` maps group paths ("/" for the file, "state") to dicts of scalars (str, int, float, bool).

**Files in parts.** Processes that each hold a slice of some long 1-d arrays (MPI ranks holding
runs of particles) write them without gathering: each process writes its slice to a part file
(schema ``meanfield.part``, written and verified like any other) in the folder ``NAME.parts``
beside the file ``NAME.h5``, and one process writes ``NAME.h5`` itself, in which those arrays are
HDF5 virtual datasets mapping the parts, so h5py and any HDF5 tool read the file with the same
layout as one written whole. The file also lists its parts (``parts/file``, ``parts/lo``,
``parts/hi``, ``parts/sha256``, ``parts/dataset``, ``parts/dtype``; see :class:`Parts`), and
:func:`read_file` reads the parts through that list, checking each part's SHA-256 against it, so a
part from another write or a damaged one is refused. A part's name carries a token of its write,
so rewriting a file never touches the parts the old one maps.
"""
import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = "/"
_CHUNK_BYTES = 1 << 20  # 1 MiB chunks: large enough to stream, small enough to localise damage
_WRITE_BYTES = 1 << 26  # bytes per os.write call
_HASH_BYTES = 1 << 24  # bytes per read when a file is hashed without being held whole
PART, PART_VERSION = "meanfield.part", 1
TRAILER = b"MFSHA256"  # ends every file: SHA-256 of the bytes before it, then this marker
_TRAILER_BYTES = 32 + len(TRAILER)


class FileError(ValueError):
    """A file that cannot be used: missing, truncated, corrupted, foreign or of a newer schema.

    The message is one line that names the file and the problem."""


class WriteError(OSError):
    """A file could not be written (a full disk, a quota, an I/O error, a read-only folder); the
    message is one line naming the file and the operating system's error. Nothing half-written
    is left behind: the file is as it was before."""

    def __init__(self, path, error, hint=""):
        super().__init__(error.errno, error.strerror, str(path))
        self.path = Path(path)
        self.hint = hint

    def __str__(self):
        text = f"cannot write {self.path}: {self.strerror or 'failed'} (errno {self.errno})"
        return f"{text}; {self.hint}" if self.hint else text


def write_file(path, arrays, attrs, *, schema, version, compress=False, links=None, parts=None):
    """Write an HDF5 file atomically (see the module docstring); returns the SHA-256 (hex) of its
    HDF5 bytes, the checksum in its trailer.

    Parameters
    ----------
    path : path of the file to (re)place.
    arrays : dict of dataset path -> array_like (0-d strings are stored as string datasets).
    attrs : dict of group path -> dict of scalar attributes ("/" is the file).
    schema, version : the layout's name and integer version, stored as attributes of the file.
    compress : gzip (level 1, with byte shuffling) every chunked dataset.
    links : optional dict of link path -> (file name relative to ``path``'s folder, object path),
        stored as HDF5 external links (not part of the digest: each linked file has its own).
    parts : optional :class:`Parts`: datasets held in part files already written (by
        :func:`write_part`), stored as virtual datasets over them, with the list of parts.
    """
    import h5py

    from . import __version__

    path = Path(path)
    attrs = {group: dict(values) for group, values in attrs.items()}
    attrs.setdefault(ROOT, {}).update(schema=schema, schema_version=int(version), meanfield_version=__version__)
    arrays = {name: np.asarray(value) for name, value in arrays.items()}
    if parts is not None:
        arrays.update(parts.listing())
    attrs[ROOT]["digest"] = digest(arrays, attrs)
    image = io.BytesIO()
    with h5py.File(image, "w") as f:  # HDF5 writes to memory only: see _write_atomically
        for name, value in arrays.items():
            _create(f, name, value, compress)
        if parts is not None:
            parts.create_virtual(f, h5py)
        for group, values in attrs.items():
            obj = f.require_group(group) if group != ROOT else f
            for key, value in values.items():
                obj.attrs[key] = value
        for name, (target_file, target) in (links or {}).items():
            f[name] = h5py.ExternalLink(target_file, target)
    body = image.getbuffer()
    sha = hashlib.sha256(body).digest()
    write_atomically(path, body, sha + TRAILER)
    return sha.hex()


def parts_folder(path):
    """The folder of the part files of the file at ``path``: ``NAME.parts`` beside ``NAME.h5``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.parts")


def write_part(path, arrays, *, lo, hi, compress=False):
    """Write one part file: the rows [lo, hi) of the 1-d arrays of a file written in parts
    (``arrays``: dataset path -> this part's rows). Returns its SHA-256 (hex), for :class:`Parts`;
    WriteError as :func:`write_file`."""
    for name, value in arrays.items():
        if np.ndim(value) != 1 or len(value) != hi - lo:
            raise ValueError(f"part dataset {name!r} must hold the {hi - lo} rows [{lo}, {hi}), got shape {np.shape(value)}")
    return write_file(path, arrays, {ROOT: dict(lo=int(lo), hi=int(hi))}, schema=PART, version=PART_VERSION, compress=compress)


@dataclass(frozen=True)
class Parts:
    """The part files that hold some 1-d datasets of a file: part k holds rows [lo[k], hi[k]) of
    each dataset in ``datasets`` (of numpy dtype ``dtypes``), in the file ``files[k]`` (a path
    relative to the folder of the file that lists it) whose HDF5 bytes have SHA-256 ``sha256[k]``
    (hex). The parts tile [0, length) in order."""

    datasets: tuple
    dtypes: tuple
    files: tuple
    lo: tuple
    hi: tuple
    sha256: tuple

    @property
    def length(self):
        return int(self.hi[-1])

    def listing(self):
        """The list as datasets of the file (part of its digest)."""
        return {
            "parts/dataset": np.array(self.datasets, dtype=str), "parts/dtype": np.array(self.dtypes, dtype=str),
            "parts/file": np.array(self.files, dtype=str), "parts/sha256": np.array(self.sha256, dtype=str),
            "parts/lo": np.array(self.lo, dtype=np.int64), "parts/hi": np.array(self.hi, dtype=np.int64),
        }

    def create_virtual(self, f, h5py):
        """The datasets as HDF5 virtual datasets over the parts (what h5py and HDF5 tools read;
        rows of a missing part read as NaN, or 0 for integers)."""
        for name, dtype in zip(self.datasets, self.dtypes):
            dtype = np.dtype(dtype)
            layout = h5py.VirtualLayout(shape=(self.length,), dtype=dtype)
            for file, lo, hi in zip(self.files, self.lo, self.hi):
                layout[lo:hi] = h5py.VirtualSource(file, name, shape=(hi - lo,))
            f.create_virtual_dataset(name, layout, fillvalue=np.nan if dtype.kind == "f" else 0)

    @classmethod
    def from_listing(cls, arrays, what):
        """The list stored in a file's ``parts/`` datasets (FileError when it is not a sound one)."""
        names = ["parts/dataset", "parts/dtype", "parts/file", "parts/lo", "parts/hi", "parts/sha256"]
        datasets, dtypes, files, lo, hi, sha = (np.atleast_1d(v) for v in require(arrays, names, what))
        try:
            lo, hi = lo.astype(np.int64, casting="safe").tolist(), hi.astype(np.int64, casting="safe").tolist()
            dtypes = tuple(np.dtype(str(d)).str for d in dtypes)
        except (TypeError, ValueError) as err:
            raise FileError(f"{what}: its list of parts is not readable ({_reason(err)})") from None
        files = tuple(str(v) for v in files)
        tiled = len(lo) == len(hi) == len(files) == len(sha) >= 1 and lo[0] == 0 and all(a < b for a, b in zip(lo, hi)) \
            and all(b == a for a, b in zip(lo[1:], hi[:-1]))
        inside = all(not Path(p).is_absolute() and ".." not in Path(p).parts for p in files)
        if not (tiled and inside and len(datasets) == len(dtypes) and all(np.dtype(d).kind in "biuf" for d in dtypes)):
            raise FileError(f"{what}: its list of parts is not a tiling of its rows by files beside it: the file is corrupted")
        return cls(tuple(str(d) for d in datasets), dtypes, files, tuple(lo), tuple(hi), tuple(str(v) for v in sha))


def parts_of(arrays, what=""):
    """The :class:`Parts` of a file read by :func:`read_file`, or None when it was written whole."""
    return Parts.from_listing(arrays, what) if "parts/file" in arrays else None


def _verified_body(data, what):
    """The HDF5 bytes of a file read whole, once its trailer's SHA-256 matches them (HDF5 itself
    crashes the process on some damaged metadata, so damage must be found before HDF5 sees the
    file). A file without a trailer (written before trailers were) is passed on as it is; a
    trailer within a few flipped bits of the marker counts as a damaged one."""
    tail = data[-len(TRAILER):]
    if len(data) < _TRAILER_BYTES or _bits_apart(tail, TRAILER) > 8:
        return data, None
    body, stored = data[:-_TRAILER_BYTES], data[-_TRAILER_BYTES:-len(TRAILER)]
    if tail != TRAILER or hashlib.sha256(body).digest() != stored:
        raise FileError(f"{what}: its checksum does not match its bytes: the file is corrupted")
    return body, stored.hex()


def _check_sha(path, sha, what):
    """FileError unless the file at ``path`` ends in a trailer whose SHA-256 is ``sha`` (hex) and
    matches its bytes, read in pieces (the file is never held whole)."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            left = size - _TRAILER_BYTES
            while left > 0:
                block = f.read(min(left, _HASH_BYTES))
                if not block:
                    break
                h.update(block)
                left -= len(block)
            trailer = f.read(_TRAILER_BYTES)
    except FileNotFoundError:
        raise FileError(f"{what}: no such file") from None
    except OSError as err:
        raise FileError(f"{what}: cannot be read ({err.strerror or err})") from None
    if size < _TRAILER_BYTES or trailer != h.digest() + TRAILER or h.hexdigest() != sha:
        raise FileError(f"{what}: its checksum does not match its bytes or its list entry: the file is corrupted or from another write")


def _bits_apart(a, b):
    return bin(int.from_bytes(a, "little") ^ int.from_bytes(b, "little")).count("1")


def write_atomically(path, *chunks):
    """Write the bytes of ``chunks`` (buffers, one after the other) to ``path`` atomically: a
    temporary file beside it, written, fsync'ed, renamed over ``path``, the folder fsync'ed.

    The file image comes whole from memory because HDF5 cannot survive a failed write to disk: a
    full disk makes its close fail and the next release of an HDF5 object crash the process.
    Here any failure (a full disk, a quota, an I/O error, a folder turned read-only) is a
    :class:`WriteError` naming the file, and the temporary file is removed."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            for chunk in chunks:
                data, done = memoryview(chunk).cast("B"), 0
                while done < data.nbytes:
                    done += os.write(fd, data[done:done + _WRITE_BYTES])
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync(path.parent)
    except OSError as err:
        raise WriteError(path, err) from None
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


def _create(f, name, value, compress):
    import h5py

    if _is_text(value):  # UTF-8 strings: one (0-d) or an array of them
        if value.ndim == 0:
            f.create_dataset(name, data=str(value.item()))
        else:
            f.create_dataset(name, data=np.array([str(v) for v in value.ravel()], dtype=object).reshape(value.shape), dtype=h5py.string_dtype())
        return
    if value.ndim == 0 or value.size == 0:
        f.create_dataset(name, data=value)
        return
    row = max(1, int(np.prod(value.shape[1:], dtype=np.int64)) * value.dtype.itemsize)
    chunk_rows = max(1, min(value.shape[0], _CHUNK_BYTES // row))
    # chunked along the first axis and extendible there (histories are appended to)
    options = dict(chunks=(chunk_rows, *value.shape[1:]), fletcher32=True, maxshape=(None, *value.shape[1:]))
    if compress:
        options.update(compression="gzip", compression_opts=1, shuffle=True)
    f.create_dataset(name, data=value, **options)


def _is_text(value):
    return value.dtype.kind in "US" or value.dtype == object


def _fsync(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def digest(arrays, attrs):
    """SHA-256 (hex) of datasets and attributes, independent of the order they are given in."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        value = np.asarray(arrays[name])
        h.update(name.encode())
        if _is_text(value) and value.ndim == 0:
            h.update(b"str:" + str(value.item()).encode())
        elif _is_text(value):
            h.update(f"strs{value.shape}:".encode() + "\x00".join(str(v) for v in value.ravel()).encode())
        else:
            h.update(f"{value.dtype.str}{value.shape}".encode())
            h.update(np.ascontiguousarray(value).tobytes())
    for group in sorted(attrs):
        for key in sorted(attrs[group]):
            if group == ROOT and key == "digest":
                continue
            h.update(f"{group}@{key}=".encode() + json.dumps(_scalar(attrs[group][key])).encode())
    return h.hexdigest()


def _scalar(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    return value


def read_file(path, *, schema, version, what=None, rows=None, check_parts=False, sha256=None):
    """Read and verify a file written by :func:`write_file`: (arrays, attrs).

    Raises FileError (one line naming the file) when the file is missing, not HDF5, truncated,
    of another schema or a newer version, or when a checksum or the digest does not match.
    ``what`` names the file in messages (default: its path).

    A file written in parts (see the module docstring) gives its datasets whole, read from the
    parts, or with ``rows=(lo, hi)`` only those rows of them (the parts that hold no such row are
    not read; ``check_parts`` still checks their SHA-256, reading them in pieces). ``sha256``:
    the checksum (hex) the file's trailer must carry.
    """
    import h5py

    path = Path(path)
    what = what or str(path)
    with _open(path, what, h5py, sha256) as f:
        found = _scalar(f.attrs.get("schema", "")) if _attr_readable(f) else ""
        if found != schema:
            kind = f"a {found!r} file" if found else "not a meanfield file (no schema attribute)"
            raise FileError(f"{what}: {kind}, expected {schema!r}")
        found_version = int(_scalar(f.attrs.get("schema_version", 0)))
        if found_version > version:
            raise FileError(
                f"{what}: schema version {found_version} (written by meanfield {_scalar(f.attrs.get('meanfield_version', '?'))}) is newer "
                f"than this meanfield reads ({version}); upgrade meanfield"
            )
        arrays, attrs, virtual = {}, {}, {}

        def visit(name, obj):
            try:
                if isinstance(obj, h5py.Dataset) and obj.is_virtual:  # its rows are in the parts
                    virtual[name] = sorted({source.file_name for source in obj.virtual_sources()})
                elif isinstance(obj, h5py.Dataset):
                    if h5py.check_string_dtype(obj.dtype) is not None:
                        value = obj.asstr()[()]
                        value = value if isinstance(value, str) else np.array(value.tolist(), dtype=str)
                    else:
                        value = obj[()]
                    arrays[name] = value
                attrs[name] = {k: _scalar(v) for k, v in obj.attrs.items()}
            except (OSError, ValueError, KeyError) as err:
                raise FileError(f"{what}: dataset {name!r} cannot be read ({_reason(err)}): the file is corrupted") from None

        try:
            _visit_local(f, visit, h5py)
            attrs[ROOT] = {k: _scalar(v) for k, v in f.attrs.items()}
        except (OSError, RuntimeError, KeyError) as err:
            raise FileError(f"{what}: cannot be read ({_reason(err)}): the file is corrupted") from None
    stored = attrs[ROOT].get("digest")
    if stored != digest(arrays, attrs):
        raise FileError(f"{what}: its digest does not match its contents: the file is corrupted")
    parts = parts_of(arrays, what)
    if parts is not None or virtual:
        if schema == PART:  # parts are one level deep: a part is read only by the file that lists it
            raise FileError(f"{what}: a part that has parts of its own: the file is corrupted")
        if parts is None or set(virtual) != set(parts.datasets) or any(files != sorted(set(parts.files)) for files in virtual.values()):
            raise FileError(f"{what}: its virtual datasets do not match its list of parts: the file is corrupted")
        arrays.update(_read_parts(path.parent, parts, rows, check_parts, what))
    return arrays, attrs


def _read_parts(folder, parts, rows, check_all, what):
    """The rows [lo, hi) (all: None) of the datasets a file keeps in ``parts``, from the part
    files, each verified and matched to its list entry."""
    lo, hi = (0, parts.length) if rows is None else (int(rows[0]), int(rows[1]))
    if not 0 <= lo <= hi <= parts.length:
        raise ValueError(f"rows [{lo}, {hi}) are not within the file's {parts.length} rows")
    out = {name: np.empty(hi - lo, dtype=dtype) for name, dtype in zip(parts.datasets, parts.dtypes)}
    for file, start, end, sha in zip(parts.files, parts.lo, parts.hi, parts.sha256):
        part_what = f"{what}: part {file}"
        a, b = max(lo, start), min(hi, end)
        if a >= b:
            if check_all:
                _check_sha(folder / file, sha, part_what)
            continue
        arrays, attrs = read_file(folder / file, schema=PART, version=PART_VERSION, what=part_what, sha256=sha)
        if (attrs[ROOT].get("lo"), attrs[ROOT].get("hi")) != (start, end):
            raise FileError(f"{part_what}: holds rows [{attrs[ROOT].get('lo')}, {attrs[ROOT].get('hi')}), its list says [{start}, {end})")
        for name, values in zip(parts.datasets, require(arrays, parts.datasets, part_what)):
            if values.shape != (end - start,) or values.dtype != out[name].dtype:
                raise FileError(f"{part_what}: dataset {name!r} is {values.dtype}{values.shape}, its list says {out[name].dtype}({end - start},)")
            out[name][a - lo:b - lo] = values[a - start:b - start]
    return out


def peek_schema(path):
    """The ``schema`` attribute of an HDF5 file (FileError if it cannot be opened or has none)."""
    import h5py

    path = Path(path)
    with _open(path, str(path), h5py) as f:
        schema = _scalar(f.attrs.get("schema", "")) if _attr_readable(f) else ""
    if not schema:
        raise FileError(f"{path}: not a meanfield file (no schema attribute)")
    return schema


def _open(path, what, h5py, sha256=None):
    """The file opened read-only from its verified bytes in memory (FileError when it is missing,
    damaged or not HDF5, or when ``sha256`` is given and its trailer carries another checksum)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileError(f"{what}: no such file") from None
    except OSError as err:
        raise FileError(f"{what}: cannot be read ({err.strerror or err})") from None
    body, sha = _verified_body(data, what)
    if sha256 is not None and sha != sha256:
        raise FileError(f"{what}: its checksum is not the one its list of parts holds: it is from another write or corrupted")
    try:
        return h5py.File(io.BytesIO(body), "r")
    except OSError as err:
        raise FileError(f"{what}: not a readable HDF5 file ({_reason(err)})") from None


def _visit_local(group, visit, h5py):
    """Visit the datasets and groups below ``group``, skipping external links (other files,
    verified on their own)."""
    for name in group:
        if isinstance(group.get(name, getlink=True), h5py.ExternalLink):
            continue
        obj = group[name]
        visit(obj.name.lstrip("/"), obj)
        if isinstance(obj, h5py.Group):
            _visit_local(obj, visit, h5py)


def _attr_readable(f):
    try:
        f.attrs.get("schema")
        return True
    except (OSError, KeyError):
        return False


def _reason(err):
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text.rstrip(".")


def require(arrays, names, what):
    """The named datasets, or FileError naming the first one missing."""
    for name in names:
        if name not in arrays:
            raise FileError(f"{what}: missing dataset {name!r}")
    return [arrays[name] for name in names]
