"""Process helpers for the kill-and-resume tests."""

from __future__ import annotations

import signal
import subprocess
import time


def kill_when(command: list[str], env: dict[str, str], ready, timeout: float = 120) -> None:
    """Start ``command``, SIGKILL it as soon as ``ready()`` holds; fail if it finished first."""
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if ready():
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the command finished before it could be killed"
