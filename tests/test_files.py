"""Files written whole or not at all, and never in place of what the user's path really is."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from cvzoo.files import replacing, write_atomically


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), replacing(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("the drawing failed")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_a_link_stays_a_link_and_its_file_is_replaced(tmp_path):
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "picture.svg"
    real.write_text("old")
    link = tmp_path / "picture.svg"
    link.symlink_to(real)
    write_atomically(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["picture.svg", "real"]


def test_a_dangling_link_gets_its_file(tmp_path):
    link = tmp_path / "picture.svg"
    link.symlink_to(tmp_path / "made.svg")
    write_atomically(link, "new")
    assert link.is_symlink() and (tmp_path / "made.svg").read_text() == "new"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
def test_a_named_pipe_is_written_to_not_replaced(tmp_path):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(Path(pipe).read_text()))
    reader.start()
    write_atomically(pipe, "through the pipe")
    reader.join(timeout=30)
    assert received == ["through the pipe"]
    assert not pipe.is_file() and pipe.exists()  # still the pipe


def test_a_new_file_takes_the_umask_and_an_old_one_keeps_its_mode(tmp_path):
    old_umask = os.umask(0o027)
    try:
        write_atomically(tmp_path / "new.txt", "x")
    finally:
        os.umask(old_umask)
    assert (tmp_path / "new.txt").stat().st_mode & 0o777 == 0o640
    kept = tmp_path / "kept.txt"
    kept.write_text("x")
    kept.chmod(0o604)
    write_atomically(kept, "y")
    assert kept.stat().st_mode & 0o777 == 0o604 and kept.read_text() == "y"
