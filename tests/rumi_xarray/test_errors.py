"""Structured errors: every RumiFormatError names its field, pickles, and every read path names the frame.

The first tests read the sources: each ``RumiFormatError``/``OpenZLError`` is built by one of
its constructors (``mismatch``, ``invalid``, ``of_frame``) with a field name the message
contains. The next ones run the hostile inputs of the rejection tests and check the raised
errors themselves. The last ones corrupt one frame and read it through the engine, Zarr v3
references and kerchunk (Zarr v2, numcodecs) references.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import pickle
import struct
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pytest
import xarray as xr
from _virtual import open_refs, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rumi_codec
import rumi_xarray
from rumi_codec import OpenZLCodec, OpenZLGridCodec, frame_key
from rumi_xarray import OpenZLError, RumiFormatError, references
from rumi_xarray import errors as errors_module
from rumi_xarray.blob import parse_blob
from rumi_xarray.decode import read_description
from rumi_xarray.format import parse_bytes
from rumi_xarray.io import BytesReader
from rumi_xarray.spec import Generation

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

ROOT = Path(__file__).parents[2]
PACKAGES = (ROOT / "rumi_xarray", ROOT / "rumi_codec")
DATA = ROOT / "tests" / "data"
EXAMPLE = DATA / "examples" / "example_0261.rumi"
"""FORMAT §11: uint8, 2 bands, 50x40, tile 32; frame 0 is bytes 548..608."""
ERRORS = frozenset(("RumiFormatError", "OpenZLError"))
CONSTRUCTORS = frozenset(("mismatch", "invalid", "of_frame"))
DYNAMIC_MESSAGES = {("rumi_xarray/trailer.py", "_band_text_problem(b, raw)")}
"""Messages built elsewhere (``_band_text_problem``, shared with the writer): checked by running."""


# ---------------------------------------------------------------------------------------
# The raise sites, read from the sources


def _template(node: ast.expr) -> str | None:
    """A message or field as text, each ``{expr}`` kept as written; None when not a literal."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            else:
                assert isinstance(value, ast.FormattedValue)
                parts.append("{" + ast.unparse(value.value) + "}")
        return "".join(parts)
    is_format = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    if is_format and node.func.attr == "format":  # type: ignore[union-attr]
        return _template(node.func.value)  # type: ignore[union-attr]
    return None


class _Site(NamedTuple):
    node: ast.AST
    """The ``raise``, or the call of the class or of one of its constructors."""
    names: dict[str, ast.expr]
    """What each local name last held before the site (``msg = f"..."``)."""


def _sites() -> Iterator[tuple[str, _Site]]:
    """Every call of an error class or of its constructors, and every bare ``raise Error``."""
    for package in PACKAGES:
        for path in sorted(package.rglob("*.py")):
            where = path.relative_to(ROOT).as_posix()
            tree = ast.parse(path.read_text(), where)
            functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
            for node in ast.walk(tree):
                if _is_site(node):
                    line = node.lineno  # type: ignore[attr-defined]
                    yield f"{where}:{line}", _Site(node, _names_before(functions, line))


def _names_before(functions: list[ast.FunctionDef], line: int) -> dict[str, ast.expr]:
    """The values assigned to plain names in the innermost function holding ``line``, before it."""
    around = [f for f in functions if f.lineno <= line <= (f.end_lineno or f.lineno)]
    if not around:
        return {}
    innermost = max(around, key=lambda f: f.lineno)
    assigns = [
        n
        for n in ast.walk(innermost)
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and n.lineno < line
    ]
    return {
        a.targets[0].id: a.value
        for a in sorted(assigns, key=lambda a: a.lineno)
        if isinstance(a.targets[0], ast.Name)
    }


def _is_site(node: ast.AST) -> bool:
    """``raise Error``, ``Error(...)`` or ``Error.constructor(...)``."""
    if isinstance(node, ast.Raise):
        return isinstance(node.exc, ast.Name) and node.exc.id in ERRORS
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if isinstance(func, ast.Attribute):
        func = func.value
    return isinstance(func, ast.Name) and func.id in ERRORS


SITES = list(_sites())


def test_the_walk_finds_the_raise_sites() -> None:
    assert len(SITES) > 120
    files = {where.split(":")[0] for where, _ in SITES}
    assert {
        "rumi_xarray/ifd.py",
        "rumi_xarray/blob.py",
        "rumi_xarray/trailer.py",
        "rumi_codec/_core.py",
    } <= files


@pytest.mark.parametrize(("where", "site"), SITES, ids=[where for where, _ in SITES])
def test_every_site_names_its_field(where: str, site: _Site) -> None:
    """Built by ``mismatch``/``invalid`` (field first) or ``of_frame`` (the frame first)."""
    node = site.node
    assert isinstance(node, ast.Call), f"{where}: raises the bare class"
    func = node.func
    assert isinstance(func, ast.Attribute), f"{where}: calls the class, not a constructor"
    assert func.attr in CONSTRUCTORS, f"{where}: {func.attr} is not one of {sorted(CONSTRUCTORS)}"
    assert node.args, f"{where}: no field"
    if func.attr == "of_frame":
        assert len(node.args) == 2, f"{where}: of_frame(frame, cause)"
        return
    field = _template(node.args[0])
    assert field, f"{where}: the field is not a non-empty literal"
    if func.attr == "mismatch":  # the message is "<field> ...: expected ..., found ..."
        return
    assert len(node.args) == 2, f"{where}: invalid(field, message)"
    given = node.args[1]
    if isinstance(given, ast.Name) and given.id in site.names:
        given = site.names[given.id]
    message = _template(given)
    if message is None:
        assert (where.split(":")[0], ast.unparse(given)) in DYNAMIC_MESSAGES, where
        return
    assert field in message, f"{where}: the message {message!r} does not name {field!r}"


def test_constructors_set_every_attribute() -> None:
    err = RumiFormatError.invalid("band 1", "band 1 has an empty text", offset=9, found=b"")
    assert (str(err), err.field, err.offset, err.expected, err.found) == (
        "band 1 has an empty text",
        "band 1",
        9,
        None,
        b"",
    )
    err = RumiFormatError.mismatch("blob version", expected=1, found=2, offset=4)
    assert str(err) == "blob version at byte 4: expected 1, found 2"
    framed = OpenZLError.of_frame(3, err, offset=100, nbytes=20)
    assert type(framed) is OpenZLError
    assert str(framed) == "frame 3 (bytes 100..120): blob version at byte 4: expected 1, found 2"
    assert (framed.field, framed.offset, framed.expected, framed.found) == ("frame 3", 100, 1, 2)
    keyed = OpenZLError.of_frame("60:0123456789abcdef", framed)
    assert str(keyed).startswith("frame 60:0123456789abcdef: frame 3 (bytes 100..120): ")
    assert keyed.offset is None


def _same(a: RumiFormatError, b: RumiFormatError) -> None:
    assert type(a) is type(b) and str(a) == str(b) and a.args == b.args
    attrs = ("field", "offset", "expected", "found")
    assert [repr(getattr(a, n)) for n in attrs] == [repr(getattr(b, n)) for n in attrs]
    assert getattr(a, "__notes__", None) == getattr(b, "__notes__", None)


@pytest.mark.parametrize(
    "err",
    [
        RumiFormatError.mismatch("blob magic", expected=b"LOVE", found=b"LOVF", offset=0),
        RumiFormatError.invalid("time_step", "time_step is off", expected=3, found=4),
        OpenZLError.invalid("frame", "frame decodes to 3 bytes, expected 4", expected=4, found=3),
        OpenZLError.of_frame(
            0, OpenZLError.invalid("OpenZL decode", "OpenZL decode failed"), offset=5, nbytes=2
        ),
    ],
    ids=["mismatch", "invalid", "openzl", "of_frame"],
)
def test_errors_pickle_with_their_attributes(err: RumiFormatError) -> None:
    """dask and multiprocessing return errors pickled: message and attributes survive."""
    err.add_note("source 2 ('b.rumi')")
    _same(pickle.loads(pickle.dumps(err)), err)


def test_every_error_class_is_exported() -> None:
    defined = {
        name: cls
        for name, cls in inspect.getmembers(errors_module, inspect.isclass)
        if issubclass(cls, BaseException) and cls.__module__ == errors_module.__name__
    }
    public = {name: cls for name, cls in defined.items() if not name.startswith("_")}
    assert "OpenZLError" in public and issubclass(OpenZLError, RumiFormatError)
    for name, cls in public.items():
        assert name in rumi_xarray.__all__ and getattr(rumi_xarray, name) is cls
    assert "OpenZLError" in rumi_codec.__all__ and rumi_codec.OpenZLError is OpenZLError


# ---------------------------------------------------------------------------------------
# The hostile inputs of the rejection tests


def assert_structured(err: RumiFormatError, data: bytes | None = None) -> None:
    """A non-empty field the message names, an offset inside the bytes, and a pickle round trip."""
    assert isinstance(err.field, str) and err.field, repr(err)
    assert err.field in str(err), (err.field, str(err))
    if err.offset is not None:
        assert isinstance(err.offset, int)
        if data is not None:
            assert 0 <= err.offset <= len(data), (err.offset, len(data), str(err))
    _same(pickle.loads(pickle.dumps(err)), err)


CASE_LISTS = {
    "HEADER_CASES": "file",
    "IFD_CASES": "file",
    "GEOMETRY_CASES": "file",
    "FRAME_TABLE_CASES": "file",
    "GEOREF_CASES": "file",
    "TRAILER_CASES": "file",
    "PROFILE_016_CASES": "file_016",
    "BLOB_CASES": "blob",
    "LOAD_CASES": "load",
}
"""The case lists of the rejection tests, and what their values are."""


def _rejection_modules() -> list[ModuleType]:
    """The rejection test modules, loaded for their case lists and byte surgery."""
    modules = []
    for path in sorted(Path(__file__).parent.glob("test_reject*.py")):
        spec = importlib.util.spec_from_file_location(f"_cases_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules.append(module)
    return modules


def _hostile_cases() -> list[Any]:
    cases, found = [], set()
    for module in _rejection_modules():
        for name, kind in CASE_LISTS.items():
            if name in found or not hasattr(module, name):
                continue
            found.add(name)
            for case in getattr(module, name):
                *inputs, _match = case.values
                if kind == "file_016":
                    inputs = [module.EXAMPLE_016, *inputs]
                if kind in ("file", "file_016"):
                    param = pytest.param("file", bytes(module.mutate(*inputs)))
                else:
                    param = pytest.param(kind, inputs[0] if kind == "blob" else tuple(inputs))
                cases.append(pytest.param(*param.values, id=f"{name}-{case.id}"))
    assert found == set(CASE_LISTS), f"case lists not found: {set(CASE_LISTS) - found}"
    return cases


HOSTILE = _hostile_cases()


@pytest.mark.parametrize(("kind", "case"), HOSTILE)
def test_hostile_inputs_raise_structured_errors(kind: str, case: Any) -> None:
    if kind == "file":
        for opener in (parse_bytes, lambda data: read_description(BytesReader(data))):
            with pytest.raises(RumiFormatError) as caught:
                opener(case)
            assert_structured(caught.value, case)
    elif kind == "blob":
        for generation in (None, Generation.RUMI_TAIL):
            with pytest.raises(RumiFormatError) as caught:
                parse_blob(case, generation=generation)
            assert_structured(caught.value, case)
    else:
        data, header = case
        with pytest.raises(RumiFormatError) as caught:
            xr.open_dataset(data, engine="rumi", header=header).load()
        assert_structured(caught.value, data)
        assert caught.value.field.startswith("frame ") and caught.value.offset is not None


def test_offsets_point_at_the_field() -> None:
    """A few offsets, by the annotated dump of FORMAT §11 (example_0261)."""
    data = EXAMPLE.read_bytes()

    def offset(at: int, fmt: str, value: int) -> tuple[str | None, int | None]:
        buf = bytearray(data)
        struct.pack_into("<" + fmt, buf, at, value)
        with pytest.raises(RumiFormatError) as caught:
            parse_bytes(bytes(buf))
        return caught.value.field, caught.value.offset

    assert offset(4, "H", 2) == ("file version", 4)
    assert offset(16, "Q", 12) == ("IFD tags", 16)
    assert offset(24 + 20 * 3 + 2, "H", 4) == ("tag 277", 24 + 20 * 3 + 2)  # type of entry 3
    assert offset(24 + 20 * 8 + 4, "Q", 1) == ("tag 339", 24 + 20 * 8 + 4)  # count of entry 8
    assert offset(24 + 12, "I", 100) == ("TileOffsets", 24 + 20 * 6 + 4)  # 16 frames, not 8
    assert offset(516 + 14, "H", 3) == ("GTModelType", 516 + 14)
    assert offset(388 + 8 * 10, "d", 1) == ("ModelTransformationTag element 10", 388 + 80)
    assert offset(1026 + 4, "H", 2) == ("trailer version", 1030)


_FUZZ = settings(
    max_examples=150,
    deadline=timedelta(seconds=5),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
_FILES = sorted(p.relative_to(DATA).as_posix() for p in DATA.glob("*/*.rumi"))


@_FUZZ
@given(
    name=st.sampled_from(_FILES),
    flips=st.lists(st.tuples(st.integers(0, 1099), st.integers(1, 255)), min_size=1, max_size=4),
    keep=st.one_of(st.none(), st.integers(0, 1100)),
)
def test_damaged_files_raise_structured_errors(
    name: str, flips: list[tuple[int, int]], keep: int | None
) -> None:
    """Whatever is damaged, what is raised names its field (parse, then load)."""
    buf = bytearray((DATA / name).read_bytes())
    for at, mask in flips:
        buf[at % len(buf)] ^= mask
    data = bytes(buf[:keep] if keep is not None else buf)
    try:
        parse_bytes(data)
        if len(data) < 1 << 16:
            xr.open_dataset(data, engine="rumi").load()
    except RumiFormatError as err:
        assert_structured(err, data)


# ---------------------------------------------------------------------------------------
# A corrupt frame, through every read path

FRAME_0 = (548, 60)
"""Offset and length of frame 0 of example_0261."""


def _corrupt_example(tmp_path: Path) -> tuple[str, bytes]:
    """example_0261 with one payload byte of frame 0 flipped (OpenZL refuses it)."""
    data = bytearray(EXAMPLE.read_bytes())
    data[FRAME_0[0] + 22] ^= 0xFF
    path = tmp_path / "corrupt.rumi"
    path.write_bytes(data)
    return str(path), bytes(data[FRAME_0[0] : sum(FRAME_0)])


def _assert_frame_error(err: BaseException, field: str, offset: int | None) -> None:
    assert type(err) is OpenZLError, repr(err)
    assert err.field == field and err.offset == offset
    assert str(err).startswith(f"{field}: " if offset is None else f"{field} (bytes ")
    assert "OpenZL decode failed" in str(err)
    assert isinstance(err.__cause__, OpenZLError) and err.__cause__.field == "OpenZL decode"
    _same(pickle.loads(pickle.dumps(err)), err)  # type: ignore[arg-type]


def test_engine_names_the_frame_index_and_bytes(tmp_path: Path) -> None:
    path, _ = _corrupt_example(tmp_path)
    for chunks in (None, {}):
        with pytest.raises(OpenZLError) as caught:
            xr.open_dataset(path, engine="rumi", chunks=chunks).load()
        _assert_frame_error(caught.value, "frame 0", FRAME_0[0])
        assert str(caught.value).startswith("frame 0 (bytes 548..608): OpenZL decode failed")


@pytest.mark.parametrize(
    ("zarr_format", "grid", "codec"),
    [
        pytest.param(3, "auto", "rumi.openzl", id="zarr-v3"),
        pytest.param(3, "regular", "rumi.openzl_grid", id="zarr-v3-grid"),
        pytest.param(2, "auto", "rumi.openzl_grid", id="kerchunk-v2-grid"),
    ],
)
def test_references_name_the_frame_key(
    tmp_path: Path, zarr_format: int, grid: str, codec: str
) -> None:
    path, frame = _corrupt_example(tmp_path)
    refs = references(path, zarr_format=zarr_format, grid=grid)  # type: ignore[arg-type]
    assert codec in str(
        refs["refs"]["band_data/" + (".zarray" if zarr_format == 2 else "zarr.json")]
    )
    with pytest.raises(OpenZLError) as caught:
        open_refs(refs, zarr_format).band_data.load()
    _assert_frame_error(caught.value, f"frame {frame_key(frame)}", None)


def test_kerchunk_numcodecs_codec_names_the_frame_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unclipped tiles: kerchunk v2 references use the plain ``rumi.openzl`` numcodecs codec."""
    monkeypatch.setenv("RUMI_VERIFY", "1")  # any flipped byte fails its checksum
    data = np.arange(2 * 64 * 64, dtype=np.uint16).reshape(2, 64, 64) % 1000
    path = Path(write(tmp_path / "a.rumi", data, tile=32))
    raw = bytearray(path.read_bytes())
    offset, length = parse_bytes(bytes(raw)).frame_range(5)
    raw[offset + length // 2] ^= 0x40
    path.write_bytes(raw)
    frame = bytes(raw[offset : offset + length])
    refs = references(str(path), zarr_format=2)
    assert '"rumi.openzl"' in refs["refs"]["band_data/.zarray"]
    with pytest.raises(OpenZLError, match="checksum") as caught:
        open_refs(refs, 2).band_data.load()
    assert caught.value.field == f"frame {frame_key(frame)}"
    assert str(caught.value).startswith(f"frame {frame_key(frame)}: OpenZL decode failed")
    with pytest.raises(OpenZLError, match="checksum") as caught:
        xr.open_dataset(path, engine="rumi").load()
    assert (caught.value.field, caught.value.offset) == ("frame 5", offset)
    assert str(caught.value).startswith(f"frame 5 (bytes {offset}..{offset + length}): ")


@pytest.mark.parametrize(
    "decode",
    [
        pytest.param(lambda frame: OpenZLCodec().decode(frame), id="numcodecs"),
        pytest.param(
            lambda frame: OpenZLGridCodec(
                chunk_shape=[32, 32], itemsize=1, frame_order=[0, 1], edge=[8, 18]
            ).decode(frame),
            id="numcodecs-grid",
        ),
    ],
)
def test_codecs_name_the_frame_key(tmp_path: Path, decode: Callable[[bytes], object]) -> None:
    _, frame = _corrupt_example(tmp_path)
    with pytest.raises(OpenZLError) as caught:
        decode(frame)
    _assert_frame_error(caught.value, f"frame {frame_key(frame)}", None)
