"""The render package: numbers as people read them, tables that fit, JSON and CSV from typed results."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

import pytest

from cvzoo.render import numbers
from cvzoo.render.data import to_csv, to_json, to_jsonable
from cvzoo.render.tables import Column, fit_columns, markdown_table, records_table, tree_prefixes
from cvzoo.schema import FLATTEN, TABLE_ONLY


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (25_557_032, "25.6M"),
        (633_470_440, "633.5M"),
        (1_234, "1.23K"),
        (999, "999"),
        (None, "-"),
        (2.5e9, "2.50B"),
    ],
)
def test_human_count(value, text):
    assert numbers.human_count(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (4.089, "4.09"),
        (17.564, "17.6"),
        (178.722, "178.7"),
        (1016.717, "1,017"),
        (0.0712, "0.071"),
        (None, "-"),
    ],
)
def test_human_float(value, text):
    assert numbers.human_float(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(1536, "1.50 KiB"), (97.79 * 2**20, "97.8 MiB"), (3 * 2**30, "3.00 GiB"), (12, "12 B")],
)
def test_human_bytes(value, text):
    assert numbers.human_bytes(value) == text


def test_human_macs_and_shapes():
    assert numbers.human_macs(11_513_626_624) == "11.51 G" and numbers.human_macs(512) == "512"
    assert numbers.human_size([224, 224]) == "224" and numbers.human_size([520, 480]) == "520x480"
    assert numbers.shape_text([1, 64, 56, 56]) == "[1, 64, 56, 56]"
    assert numbers.shape_text({"out": [1, 21, 8, 8], "aux": [1, 21, 8, 8], "x": [1]}) == (
        "{out: [1, 21, 8, 8], aux: [1, 21, 8, 8], …}"
    )
    assert numbers.shape_text([[1, 2], [3], [4], [5]]) == "[1, 2], [3], … (4)"
    assert numbers.share(1, 8) == "12.5%" and numbers.share(1, 0) == "-"


def test_metric_text_shows_what_has_no_column():
    metrics = {"COCO-val2017": {"box_map": 37.0, "mask_map": 34.6}}
    assert numbers.metric_text(metrics) == "box_map 37.0, mask_map 34.6"
    assert numbers.metric_text({"ImageNet-1K": {"acc@1": 80.9, "acc@5": 95.4}}) == "-"


@dataclass(frozen=True)
class _Part:
    a: int
    b: list[int]


@dataclass(frozen=True)
class _Record:
    name: str
    part: _Part = field(metadata=FLATTEN)
    hidden: int = field(default=7, metadata=TABLE_ONLY)
    tail: dict[str, float] | None = None


def test_json_follows_the_declared_schema():
    record = _Record("x", _Part(1, [2, 3]), tail={"k": 0.5})
    assert to_jsonable(record) == {"name": "x", "a": 1, "b": [2, 3], "tail": {"k": 0.5}}
    assert list(json.loads(to_json([record]))[0]) == ["name", "a", "b", "tail"]  # declaration order


def test_csv_joins_sizes_and_keeps_every_records_columns():
    text = to_csv([_Record("x", _Part(1, [224, 224])), {"name": "y", "extra": True}])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["name", "a", "b", "tail", "extra"]
    assert rows[0]["b"] == "224x224" and rows[0]["tail"] == "" and rows[1]["extra"] == "true"


def test_columns_are_dropped_in_their_order_until_the_table_fits():
    rows = [{"n": "resnet50", "x": "12345", "y": "1", "z": "abcdefgh"}]
    columns = [
        Column("n", lambda r: r["n"], "left"),
        Column("x", lambda r: r["x"], drop=1),
        Column("y", lambda r: r["y"], drop=3),
        Column("z", lambda r: r["z"], drop=2),
    ]
    widths = [8 + 2 + 5 + 2 + 1 + 2 + 8, 8 + 2 + 5 + 2 + 8, 8 + 2 + 5, 8]
    kept = [[c.header for c in fit_columns(rows, columns, w).columns] for w in widths]
    assert kept == [["n", "x", "y", "z"], ["n", "x", "z"], ["n", "x"], ["n"]]
    assert [c.header for c in fit_columns(rows, columns, 1).columns] == ["n"]  # 'n' never goes
    assert fit_columns(rows, columns, widths[2]).hidden == ["y", "z"]  # in the table's order
    assert fit_columns(rows, columns, None).hidden == []  # no width: a pipe gets every column


def test_compact_forms_come_before_hiding_and_a_hidden_column_comes_back_if_it_fits():
    rows = [{"name": "resnet50", "params": 25_557_032, "note": "abcdefghij"}]
    columns = [
        Column("name", lambda r: r["name"], "left"),
        Column("params", lambda r: f"{r['params']:,}", compact=lambda r: "25.6M", compact_header="P"),
        Column("note", lambda r: r["note"], "left", drop=1),
    ]
    full = 8 + 2 + 10 + 2 + 10
    assert [c.header for c in fit_columns(rows, columns, full).columns] == ["name", "params", "note"]
    squeezed = fit_columns(rows, columns, full - 1)  # the compact number makes room for the note
    assert [c.header for c in squeezed.columns] == ["name", "P", "note"] and squeezed.compacted == ["params"]
    assert [c.cell(rows[0]) for c in squeezed.columns] == ["resnet50", "25.6M", "abcdefghij"]
    tight = fit_columns(rows, columns, 8 + 2 + 5)
    assert tight.hidden == ["note"] and "note hidden to fit 15 columns" in tight.note(15)


def test_a_column_that_wraps_between_pieces_takes_only_the_room_left():
    rows = [{"name": "fasterrcnn_mobilenet_v3_large_fpn", "metric": "box_map 37.9, mask_map 34.6"}]
    columns = [
        Column("name", lambda r: r["name"], "left", wrap=True),
        Column("m", lambda r: r["metric"], wrap=True, breaks=", "),
    ]
    fit = fit_columns(rows, columns, 50)
    assert fit.hidden == [] and fit.columns[1].max_width == 50 - 2 - 33  # the name keeps its width
    assert fit_columns(rows, columns, 80).columns[1].max_width is None  # room for both: no limit


def test_best_of_each_column_is_marked_and_text_stays_literal():
    rows = [{"name": "[bold]x[/]", "v": 3}, {"name": "y", "v": 1}, {"name": "z", "v": None}]
    columns = [
        Column("name", lambda r: r["name"], "left"),
        Column("v", lambda r: str(r["v"]), best=min, value=lambda r: r["v"]),
    ]
    table = records_table(rows, columns)
    cells = {c.header: c._cells for c in table.columns}
    assert [c.plain for c in cells["name"]] == ["[bold]x[/]", "y", "z"]  # not parsed as markup
    assert [c.style for c in cells["v"]] == ["", "bold green", ""]


def test_markdown_escapes_pipes():
    text = markdown_table(
        [{"a": "x|y", "b": "1"}], [Column("a", lambda r: r["a"], "left"), Column("b", lambda r: r["b"])]
    )
    assert text.splitlines() == ["| a | b |", "|---|---:|", "| x\\|y | 1 |"]


def test_tree_guides():
    assert tree_prefixes([0, 1, 2, 2, 1, 2]) == ["", "├─ ", "│  ├─ ", "│  └─ ", "└─ ", "   └─ "]
