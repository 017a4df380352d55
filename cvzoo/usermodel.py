"""A user's own model: ``path/to/file.py:Name``, imported and built on meta.

``Name`` may be an ``nn.Module`` class, a function returning a module, or a ready-made
instance; classes and functions get ``--kwarg`` values. The file is imported as a module of
its own (it may import its neighbours), and an exception it raises is reported as
``file:line: Error: message``, never as cvzoo's traceback.
"""

from __future__ import annotations

import ast
import re
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cvzoo.builders import on_meta
from cvzoo.errors import CvzooError, UsageError, UserCodeError, first_line

if TYPE_CHECKING:
    from torch import nn

USER_MODEL = re.compile(r"^(?P<path>.+\.py):(?P<symbol>[A-Za-z_][\w.]*)$")


def is_user_model(name: str) -> bool:
    """Whether ``name`` names a user's model (``file.py:Name``) rather than a zoo model."""
    return USER_MODEL.match(name) is not None


def parse_kwargs(pairs: list[str]) -> dict[str, Any]:
    """``["depth=4", "act='gelu'", "sizes=[1, 2]"]`` -> keyword arguments.

    Values are Python literals (numbers, quoted strings, True/False/None, lists, tuples, dicts),
    so that ``depth=4`` is an int and ``act='gelu'`` a string, never one mistaken for the other.

    Raises:
        UsageError: for a pair that is not ``key=value``, or a value that is not a literal.
    """
    kwargs: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise UsageError(f"bad --kwarg '{pair}'; write key=value, e.g. --kwarg num_classes=10")
        try:
            kwargs[key] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise UsageError(
                f"--kwarg {key}: {value!r} is not a Python literal; quote a string"
                f" (--kwarg \"{key}='{value.strip()}'\") or give a number, True, False, None or a list"
            ) from None
    return kwargs


def build_user_model(spec: str, kwargs: dict[str, Any]) -> nn.Module:
    """Build ``path/to/file.py:Name`` in eval mode; classes and functions are called on meta.

    Raises:
        UsageError: for a missing file or name, or something that is not a model.
        UserCodeError: for an exception raised by the user's file, with its file and line.
    """
    from torch import nn

    match = USER_MODEL.match(spec)
    if match is None:
        raise UsageError(f"'{spec}' is not path/to/file.py:Name")
    path = Path(match["path"]).expanduser()
    if not path.is_file():
        raise UsageError(f"model file '{path}' not found; give path/to/file.py:Name")
    module = _run_user_code(path, lambda: _import_file(path))
    obj: Any = module
    for part in match["symbol"].split("."):
        if not hasattr(obj, part):
            found = sorted(n for n, v in vars(module).items() if _is_model_like(v))
            hint = f"; it defines {', '.join(found)}" if found else ""
            raise UsageError(f"'{path}' has no '{match['symbol']}'{hint}")
        obj = getattr(obj, part)
    if isinstance(obj, nn.Module):
        if kwargs:
            raise UsageError(f"'{spec}' is a module instance; --kwarg applies to classes and functions")
        model = obj
    elif callable(obj):
        try:
            model = _run_user_code(path, lambda: on_meta(lambda: obj(**kwargs)))
        except UserCodeError as exc:
            cause = exc.__cause__
            if kwargs and isinstance(cause, TypeError) and not _frames_in(path, cause):
                # the call itself refused the arguments: a usage error, as for a zoo model
                raise UsageError(f"--kwarg: {spec} says: {first_line(cause)}") from None
            raise
    else:
        raise UsageError(f"'{spec}' is a {type(obj).__name__}, not an nn.Module, a class or a function")
    if not isinstance(model, nn.Module):
        raise UsageError(f"'{spec}' returned a {type(model).__name__}, not an nn.Module")
    return model.eval()


def _is_model_like(value: Any) -> bool:
    from torch import nn

    return isinstance(value, nn.Module) or (isinstance(value, type) and issubclass(value, nn.Module))


def _import_file(path: Path) -> Any:
    import importlib.util
    import sys

    name = f"cvzoo_user_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot import '{path}' as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    sys.path.insert(0, str(path.parent.resolve()))  # so the file can import its neighbours
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent.resolve()))
    return module


def _run_user_code(path: Path, call: Callable[[], Any]) -> Any:
    """Run ``call``; an exception raised in the user's file becomes 'file:line: Error: message'."""
    try:
        return call()
    except CvzooError:
        raise
    except Exception as exc:
        raise UserCodeError(in_user_code(path, exc)) from exc


def _frames_in(path: Path, exc: BaseException) -> list[traceback.FrameSummary]:
    """The frames of ``exc``'s traceback that ran in the user's file."""
    mine = path.resolve()
    return [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve() == mine]


def in_user_code(path: Path, exc: BaseException) -> str:
    """``exc`` in one line, at the last line of the user's file it passed through: 'file:line: Error: ...'."""
    frames = _frames_in(path, exc)
    where = f"{path}:{frames[-1].lineno}" if frames else str(path)
    if isinstance(exc, SyntaxError) and exc.lineno:
        where = f"{path}:{exc.lineno}"
    message = first_line(exc) if str(exc).strip() else ""
    return f"{where}: {type(exc).__name__}: {message}".rstrip(": ")
