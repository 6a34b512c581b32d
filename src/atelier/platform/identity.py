"""Who holds an outbox lease, and whether that holder is a dead earlier run of this worker.

A lease holder id reads ``<name>:<pid>:<nonce>``. The *name* is stable across restarts:
``--name`` / ``ATELIER_WORKER_NAME`` when the operator gives one (a promise that only one live
process uses it at a time, e.g. a StatefulSet pod name), else ``<kind>@<hostname>`` (shared by
every worker of that kind on the host). The pid and a random nonce tell incarnations apart.

When a worker starts it releases the leases that a dead earlier run of itself left behind, so
their events are delivered at once instead of after the lease (60 s) runs out. A holder with
this worker's name is *stale* when

- the name was given explicitly (only one live process has it, and that is us), or
- its pid is this process's pid (one pid cannot be two live incarnations: a container whose
  worker restarts as pid 1), or
- no process with its pid is alive on this host.

Anything else (another host's name, a live process of the same name) waits out its lease as
before. Processes in separate PID namespaces that share a hostname (e.g. containers on the
host network) must be given distinct ``--name`` values.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass

from atelier.platform.ids import ulid

NAME_MAX = 80
_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]")


@dataclass(frozen=True, slots=True)
class WorkerIdentity:
    name: str
    pid: int
    nonce: str
    explicit: bool = False

    @classmethod
    def for_process(cls, kind: str, name: str | None = None) -> WorkerIdentity:
        """This process's identity: the given name, else ``<kind>@<hostname>``."""
        if name:
            return cls(name[:NAME_MAX], os.getpid(), ulid()[-6:], explicit=True)
        host = _UNSAFE.sub("-", socket.gethostname()) or "localhost"
        return cls(f"{kind}@{host}"[:NAME_MAX], os.getpid(), ulid()[-6:])

    @property
    def holder(self) -> str:
        """The id written to ``locked_by`` and ``claimed_by``."""
        return f"{self.name}:{self.pid}:{self.nonce}"

    def is_stale(self, holder: str) -> bool:
        """True when ``holder`` is an earlier, no longer running incarnation of this worker."""
        parsed = parse_holder(holder)
        if parsed is None or holder == self.holder:
            return False
        name, pid, _nonce = parsed
        if name != self.name:
            return False
        if self.explicit or pid == self.pid:
            return True
        return not pid_alive(pid)


def parse_holder(holder: str) -> tuple[str, int, str] | None:
    """``(name, pid, nonce)`` of a holder id, or None when it is not in that form."""
    parts = holder.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1]), parts[2]


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists on this host (signal 0 probes without sending)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    except OSError:
        return True  # unknown: keep the lease rather than risk taking a live one
    return True
