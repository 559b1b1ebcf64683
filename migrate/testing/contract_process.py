"""The HTTP contract's reference server in a process of its own, for benchmarks: the client
under test and the server then do not share one interpreter's lock, as with a real target."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Self

_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
from migrate.testing.contract import ContractServer
server = ContractServer(delay=float(sys.argv[2])).start()
print(server.url, flush=True)
sys.stdin.read()
"""

_ROOT = Path(__file__).resolve().parent.parent.parent  # where `migrate` is importable from


class ContractServerProcess:
    """`with ContractServerProcess(delay=0.04) as server:` ... `server.url`; the server
    answers every request after `delay` seconds and stops when the block ends."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.url = ""

    def __enter__(self) -> Self:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SCRIPT, str(_ROOT), str(self.delay)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)
