"""A script read from standard input cannot start spawned worker processes: sweep says so and what to do."""

import subprocess
import sys

SCRIPT = """
from labelnoise_sim import sweep
sweep({{"seed": [0, 1]}}, {{"n": 20, "d": 100, "m": 2, "steps": 20}}, backend={backend!r}, workers=2,
      progress=False, test_error=False)
print("swept")
"""


def run_from_stdin(backend):
    return subprocess.run([sys.executable, "-"], input=SCRIPT.format(backend=backend), capture_output=True,
                          text=True, timeout=600)


def test_the_processes_backend_explains_why_it_cannot_run_a_script_from_stdin():
    done = run_from_stdin("processes")
    assert done.returncode == 1 and "swept" not in done.stdout
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("RuntimeError: backend='processes'") and "standard input" in last, done.stderr
    assert "if __name__ == \"__main__\":" in last and "backend='serial'" in last
    assert "BrokenProcessPool" not in done.stderr


def test_the_serial_backend_runs_a_script_from_stdin():
    done = run_from_stdin("serial")
    assert done.returncode == 0 and done.stdout.strip() == "swept", done.stderr
