"""The thread count of a single large run: dynamics.ThreadChooser and the dispatch around it.

A single run large enough for two threads (dynamics.halves_pay) measures the one-thread and the two-thread
kernel as it goes and keeps the faster, chunk by chunk. The chooser's logic is tested here on injected
timings (a model of a quiet and of a loaded machine, no clock); the dispatch, on a scripted choice, for the
bits: whichever kernel ran each chunk, a run is bit-identical to one on one thread. No timing is asserted:
the measured speeds are benchmarks/bench_threads_under_load.py's.
"""

import math

import numpy as np
import pytest

from labelnoise_sim import SimulationConfig, dynamics
from labelnoise_sim.dynamics import ThreadChooser

CHUNK = 107  # dynamics.chunk_steps(1, 10, 1000)
QUIET = {1: 0.88e-3, 2: 0.55e-3}  # seconds per step at n = 1000, m = 10, measured on 2 idle cores


def drive(chooser, steps, rate, cost=0.0):
    """Run ``chooser`` over the steps 0..steps of a run in which a call of k steps on ``threads`` from step t
    takes k * rate(threads, t) + cost seconds. Returns the total time and the calls (threads, start, steps)."""
    t, total, calls = 0, 0.0, []
    while t <= steps:
        threads, length = chooser.next()
        length = min(length, steps + 1 - t)
        seconds = length * rate(threads, t) + cost
        chooser.record(threads, length, seconds)
        calls.append((threads, t, length))
        total += seconds
        t += length
    return total, calls


def steps_on(calls, threads, since=0):
    return sum(length for k, start, length in calls if k == threads and start >= since)


def test_the_first_probe_is_short_starts_on_one_thread_and_compares_equal_calls():
    chooser = ThreadChooser(CHUNK)
    _, calls = drive(chooser, 20_000, lambda k, t: QUIET[k])
    assert calls[0] == (1, 0, chooser.first) and calls[1] == (2, chooser.first, chooser.first)
    assert 2 <= chooser.first <= chooser.longest <= CHUNK
    # Every probe: two calls of equal length on the two kernels, the chosen one second; between probes, the
    # chosen kernel's chunks.
    i, probes = 0, 0
    while i < len(calls) - 1:
        if calls[i][2] < CHUNK:
            assert calls[i + 1][2] == calls[i][2] and calls[i + 1][0] != calls[i][0]
            probes += 1
            i += 2
        else:
            i += 1
    assert probes == chooser.probes > 10


def test_a_quiet_machine_keeps_two_threads():
    chooser = ThreadChooser(CHUNK)
    steps = 20_000
    total, calls = drive(chooser, steps, lambda k, t: QUIET[k])
    assert steps_on(calls, 2) > 0.95 * steps
    assert total < 1.02 * (steps + 1) * QUIET[2]
    assert chooser.best == 2 and chooser.probes > 10  # it keeps checking one thread, at a small cost


@pytest.mark.parametrize("slowdown", [1.3, 6.4, 26, 1e4])
def test_a_loaded_machine_is_never_much_slower_than_one_thread(slowdown):
    """Two threads ``slowdown`` times slower than one (6.4x and 26x as measured on a loaded machine): the run
    takes one thread's time plus at most BUDGET of its own, or plus the first probe's excess, whichever is
    more; the slower kernel's rate does not enter the bound."""
    for steps in (300, 2_000, 50_000):
        chooser = ThreadChooser(CHUNK)
        one = 2.2e-3
        total, calls = drive(chooser, steps, lambda k, t: one * (slowdown if k == 2 else 1.0))
        alone = (steps + 1) * one
        first = chooser.first * one * (slowdown - 1)
        assert total <= max(alone / (1 - ThreadChooser.BUDGET), alone + first) * (1 + 1e-12)
        assert chooser.best == 1
        assert steps_on(calls, 1) > 0.5 * steps


def test_load_that_arrives_midway_sends_the_run_to_one_thread_within_a_chunk():
    change = 8_000

    def rate(k, t):
        return QUIET[k] if t < change else {1: 2.2e-3, 2: 14e-3}[k]

    chooser = ThreadChooser(CHUNK)
    _, calls = drive(chooser, 30_000, rate)
    # The chunk after the change is the last on two threads; later calls there are probes only.
    assert all(length <= chooser.longest for k, start, length in calls if k == 2 and start >= change + CHUNK)
    assert chooser.best == 1


def test_load_that_leaves_brings_the_run_back_to_two_threads():
    change = 8_000

    def rate(k, t):
        return QUIET[k] if t >= change else {1: 2.2e-3, 2: 14e-3}[k]

    chooser = ThreadChooser(CHUNK)
    steps = 30_000
    _, calls = drive(chooser, steps, rate)
    assert steps_on(calls, 2, since=change + 40 * CHUNK) > 0.9 * (steps - change - 40 * CHUNK)
    assert chooser.best == 2


@pytest.mark.parametrize("seed", range(5))
def test_noisy_timings_of_a_loaded_machine_keep_the_run_near_one_threads_time(seed):
    """Each call's time scattered by a factor of about 1.5 either way (lognormal), the fixed cost of a
    call included; two threads 6.4 times slower than one: within the issue's 1.2x of one thread."""
    rng = np.random.default_rng(seed)
    one = 2.2e-3
    chooser = ThreadChooser(CHUNK)
    steps = 20_000
    total, calls = drive(chooser, steps, lambda k, t: one * (6.4 if k == 2 else 1.0) * rng.lognormal(0, 0.4),
                         cost=0.5 * one)
    calls_alone = -(-(steps + 1) // CHUNK)
    alone = (steps + 1) * one * math.exp(0.4**2 / 2) + calls_alone * 0.5 * one
    assert total < 1.2 * alone


def test_the_setting_and_the_size_choose_the_threads(monkeypatch):
    monkeypatch.setattr(dynamics, "two_threads_available", lambda: True)
    assert dynamics.single_run_threads(10, 1000) == "auto"
    assert dynamics.single_run_threads(10, 200) == 1  # below HALVES_WORK
    assert dynamics.single_run_threads(10, 1000, possible=False) == 1
    monkeypatch.setattr(dynamics, "SINGLE_RUN_THREADS", 2)
    assert dynamics.single_run_threads(10, 200) == 2
    assert dynamics.single_run_threads(10, 1000, possible=False) == 1
    monkeypatch.setattr(dynamics, "SINGLE_RUN_THREADS", 1)
    assert dynamics.single_run_threads(10, 1000) == 1
    monkeypatch.setattr(dynamics, "SINGLE_RUN_THREADS", 3)
    with pytest.raises(ValueError, match="SINGLE_RUN_THREADS"):
        dynamics.single_run_threads(10, 1000)
    monkeypatch.setattr(dynamics, "two_threads_available", lambda: False)
    for setting in (1, 2, "auto"):
        monkeypatch.setattr(dynamics, "SINGLE_RUN_THREADS", setting)
        assert dynamics.single_run_threads(10, 1000) == 1


class FakeKernel:
    """A kernel that has not been compiled (numba's ``signatures`` empty until its first call)."""

    def __init__(self):
        self.signatures = []


def test_the_plan_covers_every_step_once_and_warms_each_kernel_up_untimed(monkeypatch):
    one, two = FakeKernel(), FakeKernel()
    clock = [0.0]
    monkeypatch.setattr(dynamics, "_clock", lambda: clock[0])
    timed = []

    class Recording(ThreadChooser):
        def record(self, threads, steps, seconds):
            timed.append((threads, steps, seconds))
            super().record(threads, steps, seconds)

    monkeypatch.setattr(dynamics, "ThreadChooser", Recording)
    steps, covered, warmed = 1_000, [], []
    for kernel, start, stop in dynamics._chunk_plan(steps, 50, "auto", one, two):
        if start == stop:
            assert not kernel.signatures  # a warm-up call, before the kernel's first timed call
            warmed.append(kernel)
            kernel.signatures.append("compiled")
            clock[0] += 5.0  # compiling: not counted
            continue
        covered.append((start, stop))
        clock[0] += (min(stop, steps + 1) - start) * (1e-3 if kernel is one else 2e-3)
    assert warmed == [one, two]
    assert covered[0][0] == 0 and covered[-1][1] >= steps + 1
    assert all(a[1] == b[0] for a, b in zip(covered, covered[1:]))
    assert sum(seconds for *_, seconds in timed) == pytest.approx(clock[0] - 10.0)
    assert timed[0][2] == pytest.approx(timed[0][1] * 1e-3)
    for setting, kernel in ((1, one), (2, two)):
        plan = list(dynamics._chunk_plan(steps, 50, setting, one, two))
        assert {k for k, *_ in plan} == {kernel} and [start for _, start, _ in plan] == list(range(0, steps + 1, 50))


class Scripted:
    """A ThreadChooser that alternates the kernels in calls of the given lengths, whatever the times."""

    lengths = [1, 7, 3, 12, 2, 30, 5]
    ran = set()

    def __init__(self, chunk):
        self.calls = 0

    def next(self):
        self.calls += 1
        threads = 1 + self.calls % 2
        Scripted.ran.add(threads)
        return threads, self.lengths[self.calls % len(self.lengths)]

    def record(self, threads, steps, seconds):
        pass


def test_a_run_has_the_same_bits_whichever_kernel_ran_each_chunk(monkeypatch, numba_thread_counts):
    """run_many of a single run (parallel, so the choice applies) with the kernels alternating in calls of
    uneven lengths gives a one-thread run's bits, with one numba thread and with all of them."""
    config = SimulationConfig(n=45, d=90, m=3, eta=0.5, steps=120, record=1)
    want, = dynamics.run_many([config], parallel=False)
    monkeypatch.setattr(dynamics, "halves_pay", lambda m, n: True)
    monkeypatch.setattr(dynamics, "ThreadChooser", Scripted)
    for _ in numba_thread_counts:
        Scripted.ran = set()
        got, = dynamics.run_many([config])
        assert Scripted.ran == {1, 2}
        for name in ("outputs", "gamma", "rho"):
            np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)


@pytest.mark.slow  # compiles the family's two-thread kernel: 10-20 s of a fresh environment
@pytest.mark.parametrize("options", [dict(activation="leaky_relu(0.1)", momentum=0.9, weight_decay=0.01, bias=True),
                                     dict(sam=0.05, patches=3, loss="hinge")], ids=["leaky,momentum", "sam,patches"])
def test_a_family_run_has_the_same_bits_whichever_kernel_ran_each_chunk(monkeypatch, options):
    config = SimulationConfig(n=30, d=90, m=2, eta=0.3, steps=90, record=1, **options)
    want, = dynamics.run_many([config], parallel=False)
    monkeypatch.setattr(dynamics, "halves_pay", lambda m, n: True)
    monkeypatch.setattr(dynamics, "ThreadChooser", Scripted)
    Scripted.ran = set()
    got, = dynamics.run_many([config])
    assert Scripted.ran == {1, 2}
    for name in ("outputs", "gamma", "rho", "alpha", "bias"):
        a, b = getattr(got, name), getattr(want, name)
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a, b, err_msg=name)


def test_a_diverging_run_stops_at_the_same_step_whichever_kernel_runs(monkeypatch):
    config = SimulationConfig(n=60, d=120, m=2, eta=1e308, steps=40)
    want, = dynamics.run_many([config], parallel=False, diverged="return")
    assert isinstance(want, dynamics.DivergenceError)
    monkeypatch.setattr(dynamics, "halves_pay", lambda m, n: True)
    monkeypatch.setattr(dynamics, "ThreadChooser", Scripted)
    got, = dynamics.run_many([config], diverged="return")
    assert isinstance(got, dynamics.DivergenceError) and got.step == want.step


def test_a_batch_and_a_stochastic_run_never_ask_for_a_choice(monkeypatch):
    """Several runs share the threads by run (run_batch), a minibatch family run keeps to one thread: no
    chooser is made for either."""
    made = []
    monkeypatch.setattr(dynamics, "halves_pay", lambda m, n: True)
    monkeypatch.setattr(dynamics, "ThreadChooser", lambda chunk: made.append(chunk) or Scripted(chunk))
    small = dict(n=30, d=60, m=2, steps=20)
    dynamics.run_many([SimulationConfig(**small, seed=s) for s in range(2)])
    dynamics.run_many([SimulationConfig(**small, batch_size=10, activation="leaky_relu(0.1)")])
    assert made == []
