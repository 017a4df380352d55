"""cvzoo's on-disk cache: where it lives, and JSON documents read and written safely.

What is cached (the catalogue, counts) decides its own file name and layout; this module only
keeps the disk honest. A missing, unreadable, corrupt or altered file reads as None, so the
caller rebuilds it; writes are atomic, and a cache folder that cannot be written costs speed,
not correctness.
Importing this module never imports torch.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any

from cvzoo.files import write_atomically


def cache_dir() -> Path:
    """Where cvzoo keeps its cache: ``$CVZOO_CACHE_DIR``, else ``$XDG_CACHE_HOME/cvzoo``."""
    if os.environ.get("CVZOO_CACHE_DIR"):
        return Path(os.environ["CVZOO_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cvzoo"


def installed_version(package: str) -> str:
    """A package's version from its metadata, without importing it.

    The local label of wheels such as ``0.20.1+cpu`` is dropped: the same release built for
    another platform describes the same models.
    """
    return metadata.version(package).split("+")[0]


def installed_build(package: str) -> str:
    """A fingerprint of a package's installed files (its RECORD), without importing it.

    Two builds of the same release, or a package changed in place, tell apart; a package
    without a RECORD (installed by other means) is known by its version alone.
    """
    try:
        record = metadata.distribution(package).read_text("RECORD")
    except metadata.PackageNotFoundError:
        return "absent"
    if not record:
        return installed_version(package)
    return hashlib.sha256(record.encode("utf-8")).hexdigest()[:16]


def read_json(path: Path) -> Any | None:
    """The JSON document kept at ``path``, or None if it is missing, unreadable or not as written.

    Each file holds its document with a digest of it (:func:`write_json`): a file that parses
    but was changed since (edited by hand, cut and mended, written by something else) reads as
    None like a damaged one, so that no half-true cache ever reaches a user's screen.
    """
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(kept, dict) or set(kept) != {"sha256", "document"}:
        return None
    return kept["document"] if kept["sha256"] == _digest(kept["document"]) else None


def write_json(path: Path, document: Any) -> None:
    """Write ``document`` to ``path`` atomically, with its digest; a failure to write is ignored."""
    kept = {"sha256": _digest(document), "document": document}
    with contextlib.suppress(OSError):  # a read-only cache directory costs speed, not correctness
        write_atomically(path, json.dumps(kept))


def _digest(document: Any) -> str:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
