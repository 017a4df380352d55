"""How a typed result declares its JSON: field metadata that :mod:`cvzoo.render.data` honours.

A result's JSON is its dataclass fields, in order. A field may be left out (shown in tables
only) or flattened (a nested record whose fields stand in the parent's place), so that
records can share a part without nesting it in their documented JSON.
"""

from __future__ import annotations

from typing import Any

TABLE_ONLY: dict[str, Any] = {"json": False}  # not part of the JSON
FLATTEN: dict[str, Any] = {"flatten": True}  # a nested dataclass whose fields join the parent's
