"""Child processes die with their parent: the analysis processes of a crawl worker must not
outlive it (a worker killed by the OOM killer would leave ~55 MB orphans per process)."""

from __future__ import annotations

import ctypes
import os
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent process ends (prctl PR_SET_PDEATHSIG); if the
    parent already ended while we started (a child spends a second importing before it can ask),
    exit now. Called first thing in a child."""
    import multiprocessing
    started_by = multiprocessing.parent_process()
    parent = started_by.pid if started_by is not None and started_by.pid else os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):       # not Linux: the parent's own cleanup has to do
        return
    if os.getppid() != parent:
        os._exit(1)


def signal_name(code: int | None) -> str:
    """An exit code as a person reads it: 'SIGKILL' for -9, 'exit code 3' otherwise."""
    if code is not None and code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"
