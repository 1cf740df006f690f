"""sim.io.tables: one reader for exported tables, CSV or Parquet, and the quirks of exports.

Every problem message names the file, the column, the data rows (1 = the first row below the
header) and the reason; these tests pin them word for word.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.errors import SimInputError
from sim.io.tables import Column, TableOptions, read_table

AMOUNT = Column("amount", "number", "amounts")
PURCHASE = [Column("member_id", "id", "member ids"), Column("date", "date", "dates"), AMOUNT]


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def problems_of(path: Path, columns: list[Column], **kwargs) -> list[str]:
    with pytest.raises(SimInputError) as info:
        read_table(path, columns, **kwargs)
    return info.value.problems


# --- separators, decimal marks, encodings ----------------------------------------------------


def test_a_semicolon_export_with_decimal_commas_is_read_and_noted(tmp_path):
    path = write(tmp_path / "p.csv", "member_id;date;amount\n1;2024-01-05;12,50\n2;2024-01-06;3\n")
    table = read_table(path, PURCHASE)
    assert table.frame["amount"].tolist() == [12.5, 3.0]
    assert table.notes == (
        f"{path}: column 'amount': read with a decimal comma (the file is ';'-separated and its "
        "numbers hold commas)",
    )
    # A ;-separated file with decimal points reads as written, and says nothing.
    dots = write(tmp_path / "d.csv", "member_id;date;amount\n1;2024-01-05;12.50\n")
    assert read_table(dots, PURCHASE).frame["amount"].tolist() == [12.5]
    assert read_table(dots, PURCHASE).notes == ()


def test_the_decimal_comma_option_and_its_refusals(tmp_path):
    quoted = write(tmp_path / "q.csv", 'member_id,date,amount\n1,2024-01-05,"12,50"\n')
    comma = TableOptions(decimal_comma=True)
    assert read_table(quoted, PURCHASE, comma).frame["amount"].tolist() == [12.5]
    # Without the option a comma is no decimal mark in a comma-separated file.
    assert problems_of(quoted, PURCHASE) == [
        f"{quoted}: column 'amount': amounts that are not numbers in data row 1 (a ',' in a "
        "number: a decimal comma? read the file with the decimal comma)"
    ]
    # With it, a dot is refused: "1.234" may be a thousand.
    grouped = write(tmp_path / "g.csv", "member_id;date;amount\n1;2024-01-05;1.234,50\n")
    assert problems_of(grouped, PURCHASE, options=comma) == [
        f"{grouped}: column 'amount': amounts that are not numbers in data row 1 (a '.' in a "
        "number read with the decimal comma: a thousands separator?)"
    ]
    # --decimal-point: the guess is off.
    points = TableOptions(decimal_comma=False)
    semicolon = write(tmp_path / "s.csv", "member_id;date;amount\n1;2024-01-05;12,5\n")
    assert "not numbers" in problems_of(semicolon, PURCHASE, options=points)[0]


def test_the_separator_is_sniffed_from_the_header_or_given(tmp_path):
    tab = write(tmp_path / "t.tsv", "member_id\tdate\tamount\n7\t2024-01-05\t1.5\n")
    assert read_table(tab, PURCHASE).frame["amount"].tolist() == [1.5]
    bar = write(tmp_path / "b.csv", "member_id|date|amount\n7|2024-01-05|1.5\n")
    assert read_table(bar, PURCHASE, TableOptions(sep="|")).frame["member_id"].tolist() == [7]
    assert TableOptions(sep="tab").sep == TableOptions(sep="\\t").sep == "\t"


def test_a_row_with_more_fields_than_the_header_names_the_separator(tmp_path):
    path = write(tmp_path / "p.csv", "member_id;date;amount\n1;2024-01-05;3;4\n")
    (problem,) = problems_of(path, PURCHASE)
    assert problem == (
        f"{path}: not a valid CSV file: Expected 3 fields in line 2, saw 4 (more fields than "
        "the header: a semicolon inside an unquoted field?)"
    )


@pytest.mark.parametrize(
    ("encoding", "sep"), [("utf-8-sig", ","), ("utf-16", "\t"), ("utf-16-be", ";")]
)
def test_a_byte_order_mark_decides_the_encoding(tmp_path, encoding, sep):
    text = sep.join(["member_id", "date", "amount"]) + "\n" + sep.join(["Ø1", "2024-01-05", "2"])
    bom = "\ufeff" if encoding == "utf-16-be" else ""  # Python writes the others' own marks
    path = write(tmp_path / "p.csv", bom + text + "\n", encoding)
    frame = read_table(path, PURCHASE, TableOptions(encoding="cp1252")).frame
    assert frame.columns.tolist() == ["member_id", "date", "amount"]
    assert frame["member_id"].tolist() == ["Ø1"]


def test_an_encoding_other_than_utf8_is_an_option(tmp_path):
    path = write(tmp_path / "p.csv", "member_id,date,amount\nKnut Løkke,2024-01-05,2\n", "cp1252")
    assert problems_of(path, PURCHASE) == [
        f"{path}: not utf-8 text (invalid start byte); give the file's encoding (e.g. cp1252)"
    ]
    frame = read_table(path, PURCHASE, TableOptions(encoding="cp1252")).frame
    assert frame["member_id"].tolist() == ["Knut Løkke"]


def test_options_are_checked_when_made():
    with pytest.raises(SimInputError) as info:
        TableOptions(sep=";;", encoding="klingon", timezone="Europe/Atlantis", duplicates="x")
    assert info.value.problems == [
        "separator ';;': give one character, such as ';' or tab",
        "encoding 'klingon': unknown (e.g. utf-8, cp1252)",
        "time zone 'Europe/Atlantis': unknown (use an IANA name such as Europe/Oslo)",
        "duplicates 'x': use error, drop or keep",
    ]


# --- columns ---------------------------------------------------------------------------------


def test_a_mapping_renames_the_file_columns_to_ours(tmp_path):
    path = write(tmp_path / "p.csv", "kundenr,dato,belop\n1,2024-01-05,x\n")
    rename = {"kundenr": "member_id", "dato": "date", "belop": "amount"}
    frame = read_table(path, PURCHASE[:2], rename={"kundenr": "member_id", "dato": "date"}).frame
    assert frame.columns.tolist() == ["member_id", "date"]
    # Problems name the column as the file does.
    assert problems_of(path, PURCHASE, rename=rename) == [
        f"{path}: column 'belop': amounts that are not numbers in data row 1"
    ]


def test_a_bad_mapping_is_reported(tmp_path):
    path = write(tmp_path / "p.csv", "a,b,amount\n1,2024-01-05,3\n")
    assert problems_of(path, PURCHASE, rename={"a": "member", "b": "date", "c": "date"}) == [
        f"{path}: the column mapping names 'a' as 'member', which is not a column of this "
        "table (columns: 'member_id', 'date', 'amount'); did you mean 'member_id'?",
        f"{path}: the column mapping names both 'b' and 'c' as 'date'; give it one",
    ]
    assert problems_of(path, PURCHASE, rename={"amount": "date"}) == [
        f"{path}: column 'amount' is named for 'date' and 'amount'; each needs a column of its own"
    ]


def test_a_missing_column_lists_the_columns_and_guesses_the_one_meant(tmp_path):
    member = Column("member_id", "id", aliases=("kundenr", "customer_id"))
    path = write(tmp_path / "p.csv", "KUNDENR,Date,amount\n1,2024-01-05,3\n")
    assert problems_of(path, [member, Column("date", "date")]) == [
        f"{path}: no column 'member_id' (columns: 'KUNDENR', 'Date', 'amount'); did you mean "
        "'KUNDENR'?",
        f"{path}: no column 'date' (columns: 'KUNDENR', 'Date', 'amount'); did you mean 'Date'?",
    ]
    # A name the user chose is not second-guessed by the aliases: only a near spelling.
    assert problems_of(path, [member], rename={"member": "member_id"}) == [
        f"{path}: no column 'member' (columns: 'KUNDENR', 'Date', 'amount')"
    ]


def test_optional_columns_may_be_absent_and_a_repeated_header_name_is_refused(tmp_path):
    path = write(tmp_path / "p.csv", "member_id,date,amount,date\n1,2024-01-05,3,2024-01-06\n")
    segment = Column("segment", optional=True)
    assert problems_of(path, [*PURCHASE, segment]) == [
        f"{path}: column 'date' appears 2 times in the header"
    ]
    frame = read_table(path, [PURCHASE[0], segment]).frame
    assert frame.columns.tolist() == ["member_id"]


# --- cells -----------------------------------------------------------------------------------


def test_ids_of_plain_whole_numbers_are_integers_and_others_text(tmp_path):
    plain = write(tmp_path / "a.csv", "member_id\n17\n 18 \n")
    assert read_table(plain, PURCHASE[:1]).frame["member_id"].dtype == np.int64
    padded = write(tmp_path / "b.csv", "member_id\n17\n018\n")
    ids = read_table(padded, PURCHASE[:1]).frame["member_id"]
    assert ids.dtype == object and ids.tolist() == ["17", "018"]


def test_empty_and_unreadable_cells_name_their_rows(tmp_path):
    columns = [*PURCHASE, Column("opted", "bool", "opt-ins"), Column("note", empty=True)]
    text = "member_id,date,amount,opted,note\n"
    text += "1,2024-01-05,3,yes,\n,2024-13-01,,maybe,x\n3,,abc,,\n"
    path = write(tmp_path / "p.csv", text)
    problems: list[str] = []
    table = read_table(path, columns, problems=problems)
    assert problems == [
        f"{path}: column 'member_id': missing member ids in data row 2",
        f"{path}: column 'date': missing or unreadable dates in data rows 2, 3 (e.g. "
        "'2024-13-01', ''; use YYYY-MM-DD)",
        f"{path}: column 'amount': missing amounts in data row 2",
        f"{path}: column 'amount': amounts that are not numbers in data row 3",
        f"{path}: column 'opted': missing or unreadable opt-ins in data rows 2, 3 (e.g. "
        "'maybe', ''; use true/false, yes/no, 1/0, t/f or y/n)",
    ]
    assert table.frame["note"].tolist() == [None, "x", None]
    with pytest.raises(SimInputError) as info:
        read_table(path, columns)
    assert info.value.problems == problems


def test_booleans_in_every_spelling(tmp_path):
    spellings = ["true", "FALSE", "Yes", "no", "1", "0", "T", "f", "y", "N"]
    path = write(tmp_path / "p.csv", "flag\n" + "\n".join(spellings) + "\n")
    frame = read_table(path, [Column("flag", "bool")]).frame
    assert frame["flag"].dtype == bool
    assert frame["flag"].tolist() == [True, False] * 5


def test_times_with_offsets_are_utc_and_those_without_in_the_zone(tmp_path):
    times = [
        "2024-03-01T09:30:00+01:00",  # an offset: that instant
        "2024-03-01T08:30:00Z",
        "2024-03-01 09:30",  # none: Oslo wall time, winter (+01:00)
        "2024-07-01T09:30:00",  # summer (+02:00)
        "2024-03-31T02:30:00",  # in the hour skipped in spring: moved to 03:00
        "2024-10-27T02:30:00",  # in the hour repeated in autumn: the first, +02:00
        "2024-03-01",  # midnight
    ]
    path = write(tmp_path / "p.csv", "time\n" + "\n".join(times) + "\n")
    column = [Column("time", "time")]
    oslo = read_table(path, column, TableOptions(timezone="Europe/Oslo")).frame["time"]
    assert [t.isoformat() for t in oslo] == [
        "2024-03-01T08:30:00+00:00",
        "2024-03-01T08:30:00+00:00",
        "2024-03-01T08:30:00+00:00",
        "2024-07-01T07:30:00+00:00",
        "2024-03-31T01:00:00+00:00",
        "2024-10-27T00:30:00+00:00",
        "2024-02-29T23:00:00+00:00",
    ]
    utc = read_table(path, column).frame["time"]
    assert [t.isoformat() for t in utc[2:4]] == [
        "2024-03-01T09:30:00+00:00",
        "2024-07-01T09:30:00+00:00",
    ]


def test_a_date_with_a_time_is_the_day_it_falls_on_in_the_zone(tmp_path):
    text = "date\n2024-03-01T23:30:00Z\n2024-03-01T23:30:00-01:00\n2024-03-01T23:30\n2024-03-02\n"
    path = write(tmp_path / "p.csv", text)
    days = read_table(path, [Column("date", "date")]).frame["date"]
    assert days.dt.strftime("%Y-%m-%d %H:%M").tolist() == [
        "2024-03-01 00:00",
        "2024-03-02 00:00",
        "2024-03-01 00:00",
        "2024-03-02 00:00",
    ]
    # 23:30 UTC is half past midnight in Oslo; a time without offset is Oslo time already.
    oslo = read_table(path, [Column("date", "date")], TableOptions(timezone="Europe/Oslo"))
    assert oslo.frame["date"].dt.day.tolist() == [2, 2, 1, 2]


def test_a_date_format_for_dates_written_day_first(tmp_path):
    path = write(tmp_path / "p.csv", "date\n05.01.2024\n13.01.2024\n")
    options = TableOptions(date_format="%d.%m.%Y")
    days = read_table(path, [Column("date", "date")], options).frame["date"]
    assert days.dt.strftime("%Y-%m-%d").tolist() == ["2024-01-05", "2024-01-13"]
    bad = write(tmp_path / "b.csv", "date\n2024-01-05\n")
    assert problems_of(bad, [Column("date", "date", "dates")], options=options) == [
        f"{bad}: column 'date': unreadable dates in data row 1 (e.g. '2024-01-05'; use %d.%m.%Y)"
    ]


# --- repeated rows ---------------------------------------------------------------------------


DUPLICATED = "member_id,date,amount,till\n1,2024-01-05,3,a\n1,2024-01-05,3,b\n"
DUPLICATED += "2,2024-01-06,4,a\n1,2024-01-05,3,a\n2,2024-01-06,4,a\n"


def test_repeated_rows_are_refused_by_default(tmp_path):
    path = write(tmp_path / "p.csv", DUPLICATED)
    # Data rows 1 and 2 differ in a column not read: they are two records.
    assert problems_of(path, PURCHASE) == [
        f"{path}: 2 rows equal to an earlier row in every column: data rows 4, 5 (data row 4 "
        "repeats data row 1); if they are copies, drop them (duplicates: drop), if they are "
        "separate records, keep them (duplicates: keep)"
    ]


def test_repeated_rows_dropped_or_kept_with_a_note(tmp_path):
    path = write(tmp_path / "p.csv", DUPLICATED)
    dropped = read_table(path, PURCHASE, TableOptions(duplicates="drop"))
    # Rows keep their numbers: the index is the data row.
    assert dropped.frame.index.tolist() == [1, 2, 3]
    assert dropped.notes == (
        f"{path}: 2 rows equal to an earlier row in every column dropped (data rows 4, 5)",
    )
    kept = read_table(path, PURCHASE, TableOptions(duplicates="keep"))
    assert kept.frame.index.tolist() == [1, 2, 3, 4, 5]
    assert kept.notes == (
        f"{path}: 2 rows equal to an earlier row in every column kept as separate rows "
        "(data rows 4, 5)",
    )


# --- Parquet ---------------------------------------------------------------------------------


def test_parquet_columns_of_their_own_types_read_as_csv_text_does(tmp_path):
    columns = [
        Column("member_id", "id"),
        Column("time", "time"),
        Column("date", "date"),
        Column("amount", "number"),
        Column("opened", "bool"),
        Column("campaign"),
        Column("segment", empty=True),
    ]
    text = (
        "member_id,time,date,amount,opened,campaign,segment\n"
        "7,2024-03-01T09:30:00+01:00,2024-03-01,12.5,true,news,gold\n"
        "8,2024-03-02T10:00:00,2024-03-02,3,false,offer,\n"
    )
    csv = read_table(write(tmp_path / "t.csv", text), columns).frame
    frame = pd.DataFrame(
        {
            "member_id": pd.Series([7, 8], dtype="int32"),
            "time": pd.to_datetime(["2024-03-01T08:30:00Z", "2024-03-02T10:00:00Z"]),
            "date": [pd.Timestamp("2024-03-01").date(), pd.Timestamp("2024-03-02").date()],
            "amount": [12.5, 3.0],
            "opened": [True, False],
            "campaign": pd.Categorical(["news", "offer"]),
            "segment": ["gold", None],
        }
    )
    frame.to_parquet(tmp_path / "t.parquet")
    parquet = read_table(tmp_path / "t.parquet", columns).frame
    pd.testing.assert_frame_equal(parquet, csv, check_dtype=False)
    assert parquet["member_id"].dtype == np.int64 and parquet["opened"].dtype == bool


def test_parquet_naive_timestamps_are_read_in_the_zone_and_bad_types_refused(tmp_path):
    frame = pd.DataFrame({"time": pd.to_datetime(["2024-07-01 09:30"]), "flag": [2.5]})
    frame.to_parquet(tmp_path / "t.parquet")
    options = TableOptions(timezone="Europe/Oslo")
    times = read_table(tmp_path / "t.parquet", [Column("time", "time")], options).frame["time"]
    assert times.iloc[0].isoformat() == "2024-07-01T07:30:00+00:00"
    assert problems_of(tmp_path / "t.parquet", [Column("flag", "bool")]) == [
        f"{tmp_path / 't.parquet'}: column 'flag': stored as float64, expected booleans"
    ]


def test_a_file_that_is_not_parquet_is_reported(tmp_path):
    path = write(tmp_path / "t.parquet", "member_id\n1\n")
    (problem,) = problems_of(path, PURCHASE[:1])
    assert problem.startswith(f"{path}: not a valid Parquet file: ")


def test_empty_files(tmp_path):
    assert problems_of(write(tmp_path / "e.csv", ""), PURCHASE) == [
        f"{tmp_path / 'e.csv'}: the file is empty"
    ]
    header = read_table(write(tmp_path / "h.csv", "member_id,date,amount\n"), PURCHASE)
    assert header.frame.empty and header.frame.columns.tolist() == ["member_id", "date", "amount"]
