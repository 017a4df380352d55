"""JSON and CSV derived from typed results: dataclasses, enums and containers as plain data."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Sequence
from enum import Enum
from typing import Any


def to_jsonable(value: Any) -> Any:
    """Dataclasses, enums and containers as plain JSON data.

    A dataclass becomes an object of its fields in declaration order, as :mod:`cvzoo.schema`
    declares them: fields marked table-only are left out, flattened ones stand in their place.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        record: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            if f.metadata.get("json", True):
                data = to_jsonable(getattr(value, f.name))
                record.update(data if f.metadata.get("flatten") else {f.name: data})
        return record
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def to_json(value: Any) -> str:
    """``value`` as indented JSON text, ending in a newline."""
    return json.dumps(to_jsonable(value), indent=2, ensure_ascii=False) + "\n"


def json_line(value: Any) -> str:
    """``value`` as one line of compact JSON, ending in a newline (a JSON Lines record)."""
    return json.dumps(to_jsonable(value), ensure_ascii=False, separators=(",", ":")) + "\n"


def to_csv(rows: Sequence[Any]) -> str:
    """One line per record, with every record's keys as columns; lists as 'AxB', objects as JSON."""
    records = [to_jsonable(r) for r in rows]
    if not records:
        return ""
    buffer = io.StringIO()
    fields = list(dict.fromkeys(key for record in records for key in record))
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: _csv_cell(v) for k, v in record.items()})
    return buffer.getvalue()


def csv_lines(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A CSV document from a header and rows of cells."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and all(isinstance(v, int) for v in value):
        return "x".join(str(v) for v in value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return value
