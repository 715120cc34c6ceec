"""Ctrl-C stops a long run, a serial sweep and a process sweep, without waiting for the work to end.

The dynamics run in chunks of about a tenth of a second and return to Python
between them, where the interpreter raises KeyboardInterrupt. Each run below
would take hours; the bound on how long the process may take to stop after
SIGINT (10 s) is generous against a loaded machine, and measured at well
under a second when the machine is idle (docs/api.md).
"""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

READY = "ready"

SIMULATE = textwrap.dedent(f"""
    from labelnoise_sim import simulate
    simulate(n=100, d=500, steps=5)  # compile (or load the cache) before the clock starts
    print({READY!r}, flush=True)
    simulate(n=100, d=500, steps=10**9)
""")

SWEEP = textwrap.dedent(f"""
    import sys
    from labelnoise_sim import simulate, sweep
    simulate(n=100, d=500, steps=5)
    print({READY!r}, flush=True)
    sweep({{"seed": [0, 1, 2, 3]}}, dict(n=100, d=500, steps=10**9, record=10**9), backend=sys.argv[1], workers=2,
          progress=False, test_error=False)
""")


def _interrupt(script, *args, settle=1.0):
    proc = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        assert proc.stdout.readline().strip() == READY
        time.sleep(settle)  # well inside the long call
        assert proc.poll() is None
        sent = time.perf_counter()
        proc.send_signal(signal.SIGINT)  # to the main process only, not to its workers
        proc.wait(timeout=10)
        return proc, time.perf_counter() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_ctrl_c_stops_a_long_simulate():
    proc, _ = _interrupt(SIMULATE)
    assert proc.returncode != 0
    assert "KeyboardInterrupt" in proc.stderr.read()


def test_ctrl_c_stops_a_serial_sweep():
    proc, _ = _interrupt(SWEEP, "serial")
    assert proc.returncode != 0
    assert "KeyboardInterrupt" in proc.stderr.read()


@pytest.mark.slow
def test_ctrl_c_stops_a_process_sweep_and_its_workers():
    proc, _ = _interrupt(SWEEP, "processes", settle=8.0)  # spawned workers import and load the kernels first
    assert proc.returncode != 0
    assert "KeyboardInterrupt" in proc.stderr.read()
    # Its workers (in the same session) are gone too.
    deadline = time.time() + 10
    while time.time() < deadline:
        out = subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True, text=True)
        if not out.stdout.split():
            break
        time.sleep(0.2)
    assert not out.stdout.split(), f"workers still running: {out.stdout.split()}"


def test_ctrl_c_ends_the_command_line_with_one_line_and_code_130():
    script = textwrap.dedent(f"""
        import sys
        from labelnoise_sim import simulate
        from labelnoise_sim.cli import main
        simulate(n=100, d=500, steps=5)
        print({READY!r}, flush=True)
        sys.exit(main(["run", "--n", "100", "--d", "500", "--steps", "1000000000", "--out", sys.argv[1]]))
    """)
    import tempfile

    with tempfile.TemporaryDirectory() as out:
        proc, _ = _interrupt(script, out)
    err = proc.stderr.read()
    assert proc.returncode == 130
    assert "Traceback" not in err and "labelnoise-sim: interrupted" in err
