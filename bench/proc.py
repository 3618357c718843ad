"""Process measurement shared by the benchmarks in bench/."""

import os
import subprocess
import sys


def run_measured(cmd, env):
    """Runs cmd to completion (stdout discarded) and returns its resource usage
    (os.wait4's: ru_maxrss in KiB, ru_utime and ru_stime in seconds), which
    covers that process alone, not the benchmark script. Exits with its stderr
    if it fails."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    # Read stderr before waiting so that a chatty child cannot fill the pipe and block.
    err = p.stderr.read().decode()
    p.stderr.close()
    _, status, usage = os.wait4(p.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"benchmark command failed: {' '.join(cmd)}\n{err}")
    return usage


def ensure_pillow():
    """Installs Pillow into the running interpreter's environment (the .venv
    that setup.sh makes has torch only) if it is missing."""
    try:
        import PIL  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "pillow==12.0.0"], check=True)
