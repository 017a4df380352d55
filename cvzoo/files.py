"""Writing files so that a reader sees the old file or the new one, never a part of either.

Every file cvzoo writes (its caches, downloaded weights, pictures) goes through
:func:`replacing`: the data is written to a temporary file beside the target and renamed
over it only when whole, so an interrupted or failed write leaves the user's file as it was
(a link is followed to its file; a device or a pipe is written to as it is).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def replacing(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target``, renamed onto it when the block ends without error.

    On an error the temporary file is removed and ``target`` is untouched. The new file gets
    the old one's permissions, or for a new file those the umask gives (``mkstemp`` alone would
    leave it readable by its owner only).

    A symbolic link stays a link: the file it points to is the one replaced. A target that is
    not a file (a device such as ``/dev/stdout``, a named pipe) is written to directly, since
    it can't be replaced.

    Raises:
        OSError: when the folder cannot be written in, or the rename fails.
    """
    try:
        status = os.stat(target)  # what a link points to
    except OSError:
        status = None
    if status is not None and not stat.S_ISREG(status.st_mode) and not stat.S_ISDIR(status.st_mode):
        yield target
        return
    target = Path(os.path.realpath(target))
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, _mode_for(target))
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(OSError):  # gone already after a successful rename
            temporary.unlink()


def _mode_for(target: Path) -> int:
    """The permission bits ``target`` keeps, or a new file's under the current umask."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process's umask: from /proc where Linux shows it, else by setting and restoring it."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    umask = os.umask(0o022)  # elsewhere the only way to read it is to set it: put it straight back
    os.umask(umask)
    return umask


def write_atomically(target: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` through :func:`replacing`, creating its folder.

    Raises:
        OSError: when the folder cannot be created or written in.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with replacing(target) as temporary:
        temporary.write_text(text, encoding="utf-8")
