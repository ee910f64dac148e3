"""load_table on a corpus of messy and broken files written by the tests themselves."""

from __future__ import annotations

import gzip
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neuromkt.data.load import LoadLimits, frame_fingerprint, load_table
from neuromkt.errors import DataError


def _xlsx(frame: pd.DataFrame, sheets: int = 1) -> bytes:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for i in range(sheets):
            frame.to_excel(writer, sheet_name=f"Sheet{i + 1}", index=False)
    return buffer.getvalue()


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    return buffer.getvalue()


def _random_rows(n: int) -> bytes:
    values = np.random.default_rng(1).integers(0, 10**6, (n, 2))
    return "".join(f"{a},{b}\n" for a, b in values).encode()


SIMPLE = pd.DataFrame({"id": [1, 2, 3], "channel": ["email", "search", "social"]})
WIDE_HEADER = ",".join(f"c{i}" for i in range(3000))
WIDE_ROW = ",".join(str(i) for i in range(3000))
LONG_TEXT = "word " * 200_000


@dataclass
class Good:
    """A file that must load, with what the result must look like."""

    file_name: str
    content: bytes
    shape: tuple[int, int]
    dtypes: dict[str, str] = field(default_factory=dict)  # column -> "int", "float", "str"
    values: dict[str, list] = field(default_factory=dict)  # column -> first values
    warns: tuple[str, ...] = ()  # words that must appear in load_warnings
    check: Callable[[pd.DataFrame], None] | None = None


GOOD = [
    Good("plain.csv", b"a,b,c\n1,2.5,x\n2,3.5,y\n", (2, 3), {"a": "int", "b": "float", "c": "str"}),
    Good("tabs.tsv", b"a\tb\n1\thello, world\n2\tbye\n", (2, 2), values={"b": ["hello, world"]}),
    Good(
        "semi.csv",
        b"a;b;c\n1,5;2;x\n2,25;3;y\n",
        (2, 3),
        {"a": "float"},
        {"a": [1.5, 2.25]},
        warns=("European way",),
    ),
    Good("pipe.txt", b"a|b\n1|x\n2|y\n3|z\n", (3, 2), {"a": "int", "b": "str"}),
    Good("colon.txt", b"a:b:c\n1:2:3\n4:5:6\n7:8:9\n", (3, 3), {"c": "int"}),
    Good("bom.csv", b"\xef\xbb\xbfname,n\nAna,1\n", (1, 2), values={"name": ["Ana"]}),
    Good(
        "latin.csv",
        "city,n\nZürich,1\nSão Paulo,2\n".encode("cp1252"),
        (2, 2),
        values={"city": ["Zürich", "São Paulo"]},
        warns=("not UTF-8", "Windows-1252"),
    ),
    Good("crlf.csv", b"a,b\r\n1,x\r\n2,y\r\n", (2, 2), values={"b": ["x", "y"]}),
    Good(
        "thousands.csv",
        b'sku,revenue\nA,"1,234"\nB,"12,345.5"\nC,"7"\n',
        (3, 2),
        {"revenue": "float"},
        {"revenue": [1234.0, 12345.5, 7.0]},
        warns=("thousands",),
    ),
    Good(
        "european.csv",
        b"sku;revenue\nA;1.234,5\nB;2,25\nC;7\n",
        (3, 2),
        {"revenue": "float"},
        {"revenue": [1234.5, 2.25, 7.0]},
        warns=("European way",),
    ),
    Good(
        "quoted.csv",
        b'a,b\n1,"two\nlines"\n2,"say ""hi"""\n',
        (2, 2),
        values={"b": ["two\nlines", 'say "hi"']},
    ),
    Good(
        "ragged_long.csv",
        b"a,b,c\n1,2,3\n4,5,6,7\n8,9,10\n11,12,13,14,15\n",
        (2, 3),
        values={"a": [1, 8]},
        warns=("Skipped 2 rows", "lines 3, 5"),
    ),
    Good(
        "ragged_short.csv",
        b"a,b,c\n1,2,3\n4,5\n6,7,8\n",
        (3, 3),
        {"c": "float"},
        warns=("fewer fields", "line 3"),
    ),
    Good("dups.csv", b"a,a,b\n1,2,3\n", (1, 3), values={"a.1": [2]}, warns=("'a'", "a.1")),
    Good(
        "inf.csv",
        b"a,b\n1,inf\n2,-inf\n3,4.5\n",
        (3, 2),
        {"b": "float"},
        warns=("2 infinite",),
        check=lambda f: _assert_equal(f["b"].isna().sum(), 2),
    ),
    Good(
        "empty_col.csv",
        b"a,empty,b\n1,,x\n2,,y\n",
        (2, 3),
        check=lambda f: _assert_equal(int(f["empty"].notna().sum()), 0),
    ),
    Good(
        "wide.csv", f"{WIDE_HEADER}\n{WIDE_ROW}\n{WIDE_ROW}\n".encode(), (2, 3000), {"c2999": "int"}
    ),
    Good(
        "long_text.csv",
        f"id,text\n1,{LONG_TEXT}\n2,short\n".encode(),
        (2, 2),
        check=lambda f: _assert_equal(len(f["text"].iloc[0]), len(LONG_TEXT)),
    ),
    Good(
        "zips.csv",
        b"zip,n\n02134,1\n10001,2\n00501,3\n",
        (3, 2),
        {"zip": "str"},
        {"zip": ["02134", "10001", "00501"]},
    ),
    Good("trailing.csv", b"a,b,c\n1,2,3,\n4,5,6,\n", (2, 3), {"c": "int"}, {"c": [3, 6]}),
    Good("no_name_for_last.csv", b"a,b\n1,2,3\n4,5,6\n", (2, 2), warns=("extra values",)),
    Good("brackets.csv", b"[id],value\n1,2\n3,4\n", (2, 2), values={"[id]": [1, 3]}),
    Good("blank_lines.csv", b"a,b\n1,x\n\n2,y\n\n", (2, 2)),
    Good(
        "utf16.txt", "a\tb\n1\tÅsa\n2\tBo\n".encode("utf-16"), (2, 2), values={"b": ["Åsa", "Bo"]}
    ),
    Good("data.csv.gz", gzip.compress(b"a;b\n1;x\n2;y\n"), (2, 2), {"a": "int"}),
    Good("one.zip", _zip({"inner/table.tsv": b"a\tb\n1\t2\n", "__MACOSX/._t": b"x"}), (1, 2)),
    Good("frame.parquet", _parquet(SIMPLE), (3, 2), {"id": "int", "channel": "str"}),
    Good(
        "book.xlsx",
        _xlsx(SIMPLE),
        (3, 2),
        {"id": "int", "channel": "str"},
        {"channel": ["email", "search", "social"]},
    ),
    Good("two_sheets.xlsx", _xlsx(SIMPLE, sheets=2), (3, 2), warns=("2 sheets", "Sheet1")),
    Good("misnamed.csv", _xlsx(SIMPLE), (3, 2), {"id": "int"}),
    Good("rows.jsonl", b'{"a": 1, "b": "x"}\n{"a": 2, "b": "y"}\n', (2, 2), {"a": "int"}),
    Good(
        "zips.jsonl",
        b'{"zip": "02134", "n": 1}\n{"zip": "10001", "n": 2.5}\n',
        (2, 2),
        {"zip": "str", "n": "float"},
        {"zip": ["02134", "10001"]},
    ),
    Good("frame.parquet.gz", gzip.compress(_parquet(SIMPLE)), (3, 2), {"id": "int"}),
    Good(
        "ambiguous_eu.csv",
        b"sku;weight\nA;1,234\nB;2,5\nC;3\n",
        (3, 2),
        {"weight": "float"},
        {"weight": [1.234, 2.5, 3.0]},
        warns=("European way",),
    ),
    Good(
        "ambiguous_eu_dots.csv",
        b"sku;visits\nA;1.234\nB;12.500\nC;3\n",
        (3, 2),
        {"visits": "float"},
        {"visits": [1234.0, 12500.0, 3.0]},
        warns=("European way",),
    ),
    Good(
        "mixed.xlsx",
        _xlsx(pd.DataFrame({"code": [1, "A7", 3], "n": [1, 2, 3]})),
        (3, 2),
        {"code": "str"},
        {"code": ["1", "A7", "3"]},
    ),
    Good("rows.json", b'[{"a": 1.5, "b": "x"}, {"a": 2, "b": null}]', (2, 2), {"a": "float"}),
]


def _assert_equal(a: object, b: object) -> None:
    assert a == b


def _kind(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "bool"
    if pd.api.types.is_integer_dtype(series):
        return "int"
    if pd.api.types.is_float_dtype(series):
        return "float"
    if pd.api.types.is_string_dtype(series):
        return "str"
    return str(series.dtype)


@pytest.mark.parametrize("case", GOOD, ids=[c.file_name for c in GOOD])
def test_messy_files_load(case: Good, tmp_path: Path) -> None:
    path = tmp_path / case.file_name
    path.write_bytes(case.content)
    frame = load_table(path)
    assert frame.shape == case.shape
    assert frame.attrs["source_name"] == case.file_name
    for column, kind in case.dtypes.items():
        assert _kind(frame[column]) == kind, column
    for column, values in case.values.items():
        assert frame[column].head(len(values)).tolist() == values
    warnings = " ".join(frame.attrs["load_warnings"])
    for word in case.warns:
        assert word in warnings
    if not case.warns:
        assert frame.attrs["load_warnings"] == [] or case.file_name == "ragged_short.csv"
    if case.check:
        case.check(frame)


@pytest.mark.parametrize("case", GOOD[:6] + GOOD[-6:], ids=lambda c: c.file_name)
def test_file_objects_load_like_paths(case: Good) -> None:
    upload = io.BytesIO(case.content)
    upload.name = f"uploads/{case.file_name}"
    frame = load_table(upload)
    assert frame.shape == case.shape
    assert frame.attrs["source_name"] == case.file_name


BAD = [
    ("empty.csv", b"", ("empty",)),
    ("blank.csv", b" \r\n\n  \n", ("empty",)),
    ("header_only.csv", b"a,b,c\n", ("no rows",)),
    ("garbage.csv", bytes(range(256)) * 20, ("binary",)),
    (
        "garbage2.bin",
        np.random.default_rng(0).integers(1, 31, 5000, dtype=np.uint8).tobytes(),
        ("binary",),
    ),
    ("page.csv", b"<!DOCTYPE html>\n<html><body><table></table></body></html>", ("web page",)),
    ("broken.csv", b"PK\x03\x04" + b"\x00not really a workbook" * 20, ("cannot be opened",)),
    ("nested.jsonl", b'{"a": 1, "b": {"c": 2}}\n{"a": 2, "b": {"c": 3}}\n', ("nested", "'b'")),
    ("lists.json", b'[{"a": 1, "tags": [1, 2]}]', ("nested", "'tags'")),
    ("bad.jsonl", b'{"a": 1\n{"a": 2}\n', ("JSON lines",)),
    ("two.zip", _zip({"a.csv": b"a\n1\n", "b.csv": b"b\n2\n"}), ("2 files", "exactly one")),
    ("none.zip", _zip({"folder/": b""}), ("0 files",)),
    ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, (".xls", ".xlsx")),
    ("fake.parquet", b"a,b\n1,2\n", ("Parquet",)),
    ("cut.csv.gz", gzip.compress(b"a,b\n" + _random_rows(5000))[:2000], ("damaged",)),
    ("nested.parquet", _parquet(pd.DataFrame({"a": [[1, 2], [3]]})), ("nested", "'a'")),
]


@pytest.mark.parametrize(("file_name", "content", "words"), BAD, ids=[b[0] for b in BAD])
def test_broken_files_raise_plain_data_errors(
    file_name: str, content: bytes, words: tuple[str, ...], tmp_path: Path
) -> None:
    path = tmp_path / file_name
    path.write_bytes(content)
    with pytest.raises(DataError) as caught:
        load_table(path)
    message = str(caught.value)
    for word in words:
        assert word in message
    assert "\n" not in message
    assert "Traceback" not in message


def test_missing_path_names_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"No file at .*nope\.csv"):
        load_table(tmp_path / "nope.csv")


def test_name_argument_picks_format_for_nameless_objects() -> None:
    class Stream:
        def __init__(self, data: bytes) -> None:
            self._data = data

        def read(self, size: int = -1) -> bytes:
            return self._data if size < 0 else self._data[:size]

    frame = load_table(Stream(_parquet(SIMPLE)), name="x.parquet")
    assert frame.attrs["source_name"] == "x.parquet"
    assert frame["channel"].tolist() == ["email", "search", "social"]


def test_uploaded_file_like_streamlit() -> None:
    class Upload(io.BytesIO):
        name = "export.tsv"
        size = 20

    frame = load_table(Upload(b"a\tb\n1\t2\n3\t4\n"))
    assert frame.shape == (2, 2)
    assert frame.attrs["source_name"] == "export.tsv"


def test_oversized_upload_is_refused_before_reading() -> None:
    class HugeUpload:
        name = "huge.csv"
        size = 5_000_000_000

        def read(self, size: int = -1) -> bytes:
            raise AssertionError("read before the size check")

    with pytest.raises(DataError, match=r"'huge.csv' is 5,000.0 MB, larger than the limit"):
        load_table(HugeUpload())  # type: ignore[arg-type]


def test_unsized_stream_reads_at_most_the_limit() -> None:
    stream = io.BufferedReader(io.BytesIO(b"a,b\n" + b"1,2\n" * 1000))  # no getvalue
    with pytest.raises(DataError, match="larger than the limit"):
        load_table(stream, name="s.csv", limits=LoadLimits(max_bytes=500))


def test_non_file_source_is_refused() -> None:
    with pytest.raises(DataError, match="Cannot read a table from a int"):
        load_table(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("limits", "words"),
    [
        (LoadLimits(max_bytes=100), ("larger than the limit", "100 bytes")),
        (LoadLimits(max_rows=10), ("more than 10 rows",)),
        (LoadLimits(max_columns=2), ("3 columns", "limit of 2")),
    ],
)
def test_limits_are_refused_clearly(limits: LoadLimits, words: tuple[str, ...], tmp_path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("a,b,c\n" + "1,2,3\n" * 50)
    with pytest.raises(DataError) as caught:
        load_table(path, limits=limits)
    for word in words:
        assert word in str(caught.value)


def test_row_limit_applies_to_parquet_and_gzip(tmp_path: Path) -> None:
    (tmp_path / "t.parquet").write_bytes(_parquet(pd.DataFrame({"a": range(100)})))
    with pytest.raises(DataError, match="100 rows"):
        load_table(tmp_path / "t.parquet", limits=LoadLimits(max_rows=50))
    (tmp_path / "t.csv.gz").write_bytes(gzip.compress(b"a\n" + b"1\n" * 100_000))
    with pytest.raises(DataError, match="larger than the limit"):
        load_table(tmp_path / "t.csv.gz", limits=LoadLimits(max_bytes=100_000))


def test_row_limit_exactly_at_limit_loads(tmp_path: Path) -> None:
    path = tmp_path / "ten.csv"
    path.write_text("a\n" + "1\n" * 10)
    assert len(load_table(path, limits=LoadLimits(max_rows=10))) == 10


def test_encoding_fallback_found_after_the_sample(tmp_path: Path) -> None:
    rows = "".join(f"{i},plain\n" for i in range(40_000))
    path = tmp_path / "late.csv"
    path.write_bytes(("n,city\n" + rows + "40000,Malmö\n").encode("cp1252"))
    frame = load_table(path)
    assert frame["city"].iloc[-1] == "Malmö"
    assert any("Windows-1252" in w for w in frame.attrs["load_warnings"])


def test_numeric_text_with_a_word_further_down_stays_text(tmp_path: Path) -> None:
    rows = "".join(f"{i};{i},5\n" for i in range(5000))
    path = tmp_path / "mixed.csv"
    path.write_text("n;price\n" + rows + "5000;unknown\n")
    frame = load_table(path)
    assert pd.api.types.is_string_dtype(frame["price"])
    assert frame["price"].iloc[-1] == "unknown"


def test_fingerprint_is_stable_and_sensitive() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None]})
    same = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None]})
    assert frame_fingerprint(frame) == frame_fingerprint(same)
    assert len(frame_fingerprint(frame)) == 64
    changed = same.copy()
    changed.loc[2, "a"] = 4
    renamed = same.rename(columns={"b": "c"})
    assert frame_fingerprint(changed) != frame_fingerprint(frame)
    assert frame_fingerprint(renamed) != frame_fingerprint(frame)
    assert frame_fingerprint(frame.iloc[[1, 0, 2]]) != frame_fingerprint(frame)


def test_fingerprint_ignores_index_and_covers_all_chunks() -> None:
    frame = pd.DataFrame({"a": np.arange(600_000)})
    shifted = frame.set_axis(frame.index + 7)
    assert frame_fingerprint(frame) == frame_fingerprint(shifted)
    tail = frame.copy()
    tail.iloc[-1, 0] = -1
    assert frame_fingerprint(tail) != frame_fingerprint(frame)
