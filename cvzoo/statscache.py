"""Counted models, kept: a repeat of ``summary``, ``params`` or ``flops`` answers without torch.

A count depends only on what was asked (the model, its weights' architecture, the input size,
the keyword arguments, whether MACs and receptive fields were counted) and on the code that counts (torch,
torchvision, and cvzoo's own counting modules). All of that makes the key; the entry is the
:class:`~cvzoo.stats.ModelStats` as JSON in cvzoo's cache folder, written atomically, so that
concurrent writers each leave a whole file and a damaged one is simply counted again. A user's
model (``file.py:Name``) is keyed by the content of its file and of the neighbours it imports.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cvzoo import __version__, cache
from cvzoo.stats import LayerRow, ModelStats
from cvzoo.usermodel import USER_MODEL

SCHEMA = 2  # bump when ModelStats' fields change, so old entries are never misread (2: receptive fields)
# The modules whose code decides what a count holds: a change to any of them is a new key.
COUNTING_MODULES = (
    *("stats.py", "inputs.py", "builders.py", "registry.py", "usermodel.py", "weights.py"),
    *("receptive.py", "operators.py", "fields.py"),
)


def key(
    model: str,
    weights: str,
    requested_input: Sequence[int] | None,
    kwargs: dict[str, Any],
    count_macs: bool,
    receptive_field: bool = False,
) -> str | None:
    """The cache key of a count, or None when it can't be cached (a user file that can't be read)."""
    if USER_MODEL.match(model):
        identity: Any = _user_file(model)
        if identity is None:
            return None
    else:
        identity = model.strip().lower()
    asked = {
        "schema": SCHEMA,
        "model": identity,
        "weights": _weights_identity(weights),
        "input": list(requested_input) if requested_input else None,
        "kwargs": repr(sorted(kwargs.items())),
        "macs": count_macs,
        "receptive_field": receptive_field,
        "code": _code_versions(),
    }
    return hashlib.sha256(json.dumps(asked, sort_keys=True).encode("utf-8")).hexdigest()[:32]


def path_for(entry: str) -> Path:
    """Where the count with key ``entry`` is kept."""
    return cache.cache_dir() / "counts" / f"{entry}.json"


def read(entry: str) -> ModelStats | None:
    """The kept count for ``entry``, or None if there is none or it is damaged."""
    data = cache.read_json(path_for(entry))
    if not isinstance(data, dict):
        return None
    try:
        fields = dict(data)
        fields["root"] = _row(fields["root"])
        return ModelStats(**fields)
    except (TypeError, KeyError, ValueError):
        return None


def write(entry: str, stats: ModelStats) -> None:
    """Keep ``stats`` under ``entry`` (atomically; a failure to write is ignored)."""
    cache.write_json(path_for(entry), dataclasses.asdict(stats))


def _row(data: dict[str, Any]) -> LayerRow:
    fields = dict(data)
    fields["children"] = [_row(child) for child in fields.get("children", [])]
    return LayerRow(**fields)


@functools.cache
def _code_versions() -> dict[str, str]:
    """torch's and torchvision's installed builds, and a fingerprint of cvzoo's counting code."""
    here = Path(__file__).parent
    digest = hashlib.sha256(__version__.encode())
    for name in COUNTING_MODULES:
        digest.update((here / name).read_bytes())
    return {
        "torch": cache.installed_build("torch"),
        "torchvision": cache.installed_build("torchvision"),
        "cvzoo": digest.hexdigest()[:16],
    }


def _weights_identity(weights: str) -> Any:
    """``--weights`` as it bears on a count: a checkpoint file by where it is, its size and its time.

    A checkpoint's shapes decide the architecture (its head's classes), so the same path holding
    another file must be counted again; a set's name or ``none`` is itself.
    """
    path = Path(weights).expanduser()
    try:
        if path.is_file():
            status = path.stat()
            return {"file": str(path.resolve()), "size": status.st_size, "modified": status.st_mtime_ns}
    except OSError:
        pass
    return weights


def _user_file(spec: str) -> dict[str, Any] | None:
    """A user's model by content: its file's, and that of every module of its folder it imports.

    Imports are followed from file to file (``import pkg.conf``, ``from pkg import conf``,
    relative imports inside packages) as far as they stay in the file's folder, which is where
    cvzoo imports them from; installed packages are keyed by nothing but their presence, and
    data files a model reads are not keyed at all (``--no-cache`` recounts).
    """
    match = USER_MODEL.match(spec)
    assert match is not None
    path = Path(match["path"]).expanduser()
    try:
        ast.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return None  # building it will say what is wrong; nothing to keep
    root = path.parent.resolve()  # where cvzoo imports the file's neighbours from
    contents: dict[str, str] = {}
    pending = [(path.name, path.resolve())]  # the file itself may be a link to another folder
    while pending:
        name, file = pending.pop()
        if name in contents:
            continue
        try:
            source = file.read_bytes()
            contents[name] = hashlib.sha256(source).hexdigest()
            found = _imported_files(ast.parse(source), file, root)
            pending.extend((str(f.relative_to(root)), f) for f in found)
        except (OSError, SyntaxError, ValueError):
            continue  # a neighbour that can't be read: its bytes (if any) are keyed, its imports not
    return {"file": str(path.resolve()), "symbol": match["symbol"], "contents": contents}


def _imported_files(tree: ast.Module, file: Path, root: Path) -> list[Path]:
    """The files under ``root`` that the imports of ``file`` may load, packages' ``__init__`` too."""
    found: list[Path] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            base, dotted = root, [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = root
            if node.level:
                base = file.parent
                for _ in range(node.level - 1):
                    base = base.parent
            prefix = node.module or ""
            dotted = [prefix] if prefix else []
            # ``from pkg import conf`` may import a submodule as well as a name
            dotted += [f"{prefix}.{a.name}" if prefix else a.name for a in node.names]
        else:
            continue
        for module in dotted:
            parts = module.split(".")
            for i in range(1, len(parts) + 1):
                package = base.joinpath(*parts[:i])
                for candidate in (package.parent / f"{parts[i - 1]}.py", package / "__init__.py"):
                    if candidate.is_file() and candidate.resolve().is_relative_to(root):
                        found.append(candidate.resolve())
    return found
