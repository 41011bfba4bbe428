"""Private directories for TeX runs that do not outlive their process, however it ends.

A `tempfile.TemporaryDirectory` is removed when its `with` block ends, which a process killed
with SIGKILL never reaches: `kill -9` of `im2markup render` left a directory per running
batch in the temp folder. So each process keeps its TeX directories under one folder of its
own, and the first time it needs one it starts a small child that holds the read end of a
pipe whose write end only this process has. When the process ends, killed or not, the kernel
closes that end, the child reads end-of-file and removes the folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from contextlib import AbstractContextManager
from pathlib import Path

FOLDER_PREFIX = "im2markup-render-"
# Run by the child: wait for end-of-file on stdin, then remove the folder named in argv.
_REMOVER = "import shutil, sys; sys.stdin.buffer.read(); shutil.rmtree(sys.argv[1], True)"

_lock = threading.Lock()
_folder: tuple[int, Path] | None = None


def work_dir(prefix: str) -> AbstractContextManager[str]:
    """A fresh directory for one TeX run, removed when the block ends or the process does."""
    return tempfile.TemporaryDirectory(prefix=prefix, dir=process_folder())


def process_folder() -> Path:
    """This process's folder of work directories (a forked child gets its own)."""
    global _folder
    with _lock:
        if _folder is None or _folder[0] != os.getpid() or not _folder[1].is_dir():
            folder = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-"))
            _remove_when_process_ends(folder)
            _folder = (os.getpid(), folder)
        return _folder[1]


def _remove_when_process_ends(folder: Path) -> None:
    # The write end stays open, unused, for the life of the process: its closing is the
    # signal. Neither end is inherited by the programs this process runs.
    read_end, _write_end = os.pipe()
    try:
        subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _REMOVER, str(folder)],
            stdin=read_end,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C meant for this process must not stop it
        )
    finally:
        os.close(read_end)
