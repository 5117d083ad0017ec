"""Run a command on a pseudo-terminal and type lines into it, as a person at a terminal would.

`monev run` without a channel opens the console only on a terminal, so a pipe cannot stand in for the person.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

CTRL_D = "\x04"


@dataclass(frozen=True)
class Session:
    """What the terminal showed (input echoed, `\\r\\n` made `\\n`) and the exit code."""

    output: str
    returncode: int


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without any MONEV_ setting, on its own data dir and a free HTTP port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONEV_")}
    return env | {"MONEV_DATA_DIR": str(data_dir), "MONEV_HTTP_PORT": "0", **extra}


def on_terminal(
    argv: Sequence[str], lines: Sequence[str], *, cwd: Path, env: dict[str, str], ready: str, timeout: float = 90
) -> Session:
    """Start `argv` on a pty, wait until it shows `ready`, type each line after the previous answer, then Ctrl-D."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(argv, stdin=follower, stdout=follower, stderr=follower, cwd=cwd, env=env)
    os.close(follower)
    shown = bytearray()
    deadline = time.monotonic() + timeout
    try:
        _read_until(leader, shown, ready, deadline)
        # The console handles one line after the other and reads the next only then: typing ahead is safe, and
        # Ctrl-D at the start of a line is the end of input once every line before it was read.
        os.write(leader, "".join(f"{line}\n" for line in lines).encode() + CTRL_D.encode())
        while _read_some(leader, shown) or process.poll() is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{argv} did not exit: {shown.decode(errors='replace')}")
        return Session(shown.decode(errors="replace").replace("\r\n", "\n"), process.returncode)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(leader)


def _readable(fd: int, wait: float = 0.05) -> bool:
    return bool(select.select([fd], [], [], wait)[0])


def _read_some(fd: int, into: bytearray) -> bool:
    """Read what is there; False once nothing more will come (EIO: every writer closed the terminal)."""
    if not _readable(fd):
        return True
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        return False
    into += chunk
    return bool(chunk)


def _read_until(fd: int, into: bytearray, text: str, deadline: float, after: int = 0) -> None:
    while text.encode() not in into[after:]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"never saw {text!r}: {into.decode(errors='replace')}")
        _read_some(fd, into)
