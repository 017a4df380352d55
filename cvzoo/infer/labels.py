"""Class names from the user: ``--labels`` as a text file (one name per line) or JSON.

JSON may be a list of names, or an object from index to name (``{"0": "cat", "1": "dog"}``)
covering every index from 0.
"""

from __future__ import annotations

import json
from pathlib import Path

from cvzoo.errors import UsageError


def read_labels(path: Path) -> list[str]:
    """The names in ``path``, in class-index order.

    Raises:
        UsageError: for a file that can't be read or doesn't hold names.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"--labels '{path}': cannot read it ({getattr(exc, 'strerror', None) or exc})"
        ) from None
    if path.suffix.lower() == ".json" or text.lstrip().startswith(("[", "{")):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"--labels '{path}' is not valid JSON: {exc}") from None
        if isinstance(data, dict):
            try:
                data = [data[str(i)] for i in range(len(data))]
            except KeyError:
                raise UsageError(
                    f"--labels '{path}': the object's keys must be 0 to {len(data) - 1}"
                ) from None
        if not isinstance(data, list) or not all(isinstance(n, str) for n in data):
            raise UsageError(f"--labels '{path}' must hold a list of names, or an object from index to name")
        names = data
    else:
        names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise UsageError(f"--labels '{path}' holds no names")
    return names
