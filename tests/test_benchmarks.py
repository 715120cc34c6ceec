"""The benchmark scripts' building blocks run and check what they claim, at tiny sizes.

No timing is asserted here: speed targets live in benchmarks/, not in unit tests.
"""

import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
TINY = dict(n=12, d=40, m=2, eta=0.2, steps=30)


@pytest.fixture(scope="module")
def bench(request):
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield lambda name: importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCHMARKS))


def _has_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _has_jax():
    try:
        import jax  # noqa: F401
    except ImportError:
        return False
    return True


needs_jax = pytest.mark.skipif(not _has_jax(), reason="JAX (the bench extra) is not installed")


@pytest.mark.slow  # a whole benchmark's code path: 15 to 30 s on 2 loaded cores
def test_single_run_benchmark_checks_agreement_before_timing(bench):
    single = bench("bench_single")
    agreement = single.check_agreement(TINY, steps=30, with_torch=_has_torch(), check_every=5,
                                       with_jax=_has_jax())
    assert agreement["agree"]
    assert agreement["numpy_rel_gap"] < single.AGREEMENT_RTOL
    if _has_jax():
        assert agreement["jax_float64_rel_gap"] < single.AGREEMENT_RTOL
        assert agreement["jax_float32_rel_gap"] < single.FLOAT32_RTOL


def test_single_run_benchmark_refuses_a_disagreeing_baseline(bench, monkeypatch):
    single = bench("bench_single")
    monkeypatch.setattr(single, "numpy_gd", lambda data, eta, steps: single.full_weight_gd(
        data, 1.01 * eta, steps, record_steps=[steps]).outputs)
    assert not single.check_agreement(TINY, steps=30, with_torch=False, check_every=5)["agree"]


def test_single_run_benchmark_times_every_method_and_forms_ratios(bench):
    single = bench("bench_single")
    row = single.time_case(TINY, baseline_steps=10, repeats=1, with_torch=_has_torch(), threads_list=[1],
                           with_jax=_has_jax())
    for key in ("simulate_s", "from_vectors_s", "dynamics_s", "numpy_s", "x_numpy", "x_numpy_per_step"):
        assert row[key] > 0
    if _has_torch():
        assert row["x_torch_float64"] > 0 and row["x_torch_float32"] > 0
    if _has_jax():
        assert row["x_jax_float64"] > 0 and row["x_jax_float32"] > 0
        assert row["jax_float64_compile_s"] >= 0 and row["jax_float32_compile_s"] >= 0


def test_from_vectors_reproduces_simulate(bench):
    single = bench("bench_single")
    from labelnoise_sim import SimulationConfig, run
    from labelnoise_sim.data import sample_data

    config = SimulationConfig(**TINY, record=10)
    data = sample_data(config)
    np.testing.assert_array_equal(single.from_vectors(config, data).outputs, run(config, data).outputs)


@pytest.mark.skipif(not _has_torch(), reason="PyTorch (the bench extra) is not installed")
@pytest.mark.parametrize("model", ["matmul", "conv1d"])
def test_torch_baseline_follows_the_same_trajectory(bench, model):
    single = bench("bench_single")
    from labelnoise_sim import simulate

    result = simulate(**TINY, record=3)
    f = single.torch_gd(result.data, result.config.eta, TINY["steps"], "float64", record=result.t, model=model)
    assert single.relative_gap(result.outputs, f) < 1e-10


@needs_jax
def test_jax_baseline_follows_the_same_trajectory(bench):
    single, jaxb = bench("bench_single"), bench("_jax_baseline")
    from labelnoise_sim import simulate

    result = simulate(**TINY, record=3)
    f64 = jaxb.jax_gd(result.data, result.config.eta, TINY["steps"], "float64", record_every=3)
    assert single.relative_gap(result.outputs, f64) < 1e-10
    f32 = jaxb.jax_gd(result.data, result.config.eta, TINY["steps"], "float32", record_every=3)
    assert single.relative_gap(result.outputs, f32) < single.FLOAT32_RTOL
    with pytest.raises(ValueError, match="divide"):
        jaxb.jax_gd(result.data, result.config.eta, TINY["steps"], record_every=7)


@needs_jax
def test_jax_vmap_baseline_trains_each_run_as_alone(bench):
    single, jaxb = bench("bench_single"), bench("_jax_baseline")
    from labelnoise_sim import simulate

    results = [simulate(**TINY, seed=seed, record=10) for seed in range(3)]
    many = jaxb.jax_gd_many([r.data for r in results], 0.2, TINY["steps"], "float64", record_every=10)
    assert many.shape == (3, 4, TINY["n"])
    for result, f in zip(results, many):
        assert single.relative_gap(result.outputs, f) < 1e-10


@needs_jax
def test_single_run_benchmark_large_case_checks_agreement(bench):
    single = bench("bench_single")
    row = single.time_large(repeats=1, params=TINY, check_steps=10)
    assert row["agree"]
    assert row["jax_float64_rel_gap"] < single.AGREEMENT_RTOL
    assert row["jax_float32_rel_gap"] < single.FLOAT32_RTOL
    assert row["x_jax_float32"] > 0


def test_scaling_benchmark_blocks_run(bench):
    scaling = bench("bench_scaling")
    row = scaling.time_per_step(dict(n=16, d=30, m=2, eta=0.1), steps=5, repeats=1)
    assert row["us_per_step"] > 0 and row["gflops"] > 0
    rows = scaling.scaling_in_d_gram([1e3, 1e9], repeats=1, steps=5)
    assert [r["d"] for r in rows] == [1000, 10**9]


@needs_jax
def test_scaling_benchmark_against_jax_checks_agreement(bench):
    scaling = bench("bench_scaling")
    row = scaling.versus_jax(dict(n=16, d=30, m=2, eta=0.1), repeats=1, flop=1.0, dynamics_steps=5, check_steps=10)
    assert row["agree"] and row["jax_steps"] == 5  # the fewest it runs
    assert row["x_jax_float64"] > 0 and row["x_jax_float32"] > 0


@pytest.mark.slow  # compiles the batched sweep kernel for the benchmark's own configuration (9 s)
def test_sweep_benchmark_times_the_batched_dynamics(bench):
    sweeps = bench("bench_sweep")
    from labelnoise_sim import SimulationConfig

    assert sweeps.kernel_time([SimulationConfig(**TINY, seed=seed) for seed in range(2)]) > 0


@pytest.mark.slow  # a whole benchmark's code path: 15 to 30 s on 2 loaded cores
@needs_jax
def test_sweep_benchmark_against_jax_checks_agreement(bench):
    sweeps = bench("bench_sweep")
    row = sweeps.versus_jax(cells=3, fixed=TINY, repeats=1, check_every=10, workers=2, f64_cells=2)
    assert row["agree"]
    assert row["jax_float64_rel_gap"] < sweeps.AGREEMENT_RTOL and row["jax_float32_rel_gap"] < sweeps.FLOAT32_RTOL
    for key in ("jax_float32", "sweep_serial", "sweep_processes"):
        assert row[f"{key}_cells_per_s"] > 0
    assert row["x_jax_float32_serial"] > 0 and row["x_jax_float32_processes"] > 0


def test_latency_benchmark_reports_a_fresh_process(bench):
    latency = bench("bench_latency")
    timings = latency.start_process(None, params="n=10, d=20, m=2, steps=3")
    assert timings["process_wall_s"] >= timings["in_process_s"] > 0


def test_import_benchmark_times_both_imports_in_fresh_processes(bench):
    imports = bench("bench_import")
    result = imports.measure(processes=1)
    assert set(result["best_s"]) == set(imports.IMPORTS)
    assert all(t > 0 for t in result["best_s"].values())
    assert result["ratio"] == result["best_s"]["labelnoise_sim"] / result["best_s"]["numpy, numba"]
    assert result["meets_target"] == (result["ratio"] <= imports.TARGET_RATIO)


def test_benchmark_output_helpers(bench, tmp_path):
    common = bench("_common")
    table = common.format_table([{"a": 1.5, "b": None}], [("a", "A"), ("b", "B")])
    assert table.splitlines()[2].split() == ["1.50", "-"]
    path = common.write_json("probe", {"x": np.float64(2.0), "y": np.arange(2)}, tmp_path)
    assert json.loads(path.read_text()) == {"x": 2.0, "y": [0, 1]}
    assert common.machine_info()["cores"] >= 1


def test_chunk_benchmark_checks_the_chunked_run_is_the_one_call_run(bench, monkeypatch):
    chunks = bench("bench_chunks")
    from labelnoise_sim import SimulationConfig, dynamics

    monkeypatch.setattr(dynamics, "CHUNK_WORK", 12 * 2 * 2 * 12 * 7)  # 7 steps a chunk
    row = chunks.time_case(SimulationConfig(**TINY), repeats=1)
    assert row["chunks"] == 5 and row["chunked_s"] > 0 and row["one_call_s"] > 0


@pytest.mark.slow  # a whole benchmark's code path: 15 to 30 s on 2 loaded cores
def test_threads_benchmark_times_each_mode_and_stops_its_load(bench, monkeypatch):
    threads = bench("bench_threads_under_load")
    from labelnoise_sim import SimulationConfig, dynamics
    from labelnoise_sim.data import sample_data

    monkeypatch.setattr(dynamics, "halves_pay", lambda m, n: True)  # the library measures both at any size
    config = SimulationConfig(**TINY)
    with threads.busy(1):
        row = threads.time_modes(config, sample_data(config), repeats=1)
    assert all(row[mode] > 0 for mode in ("1", "2", "auto"))
    assert 0 <= row["auto_share_two"] <= 1
    assert dynamics.SINGLE_RUN_THREADS == "auto" and dynamics.ThreadChooser is not threads._Counting


def _without_jax(value):
    """A stored result as a run without JAX would have written it."""
    if isinstance(value, dict):
        return {k: _without_jax(v) for k, v in value.items() if "jax" not in k}
    if isinstance(value, list):
        return [_without_jax(v) for v in value]
    return value


#: What the performance page shows of JAX when the results hold it: rows, sections, method.
JAX_ROWS = ("JAX, whole loop jitted, float64", "JAX compiles its loop", "x JAX f32 (whole call)",
            "### A large case", "JAX f64 µs per step", "JAX `vmap`, float32", "The JAX baseline (")


@pytest.fixture
def performance_page(bench, monkeypatch, tmp_path):
    docs = bench("make_performance_docs")
    monkeypatch.setattr(docs, "OUT", tmp_path)  # write_results writes the page's tables and numbers there
    stored = {name: _without_jax(docs.load(name)) for name in ("bench_single", "bench_scaling", "bench_latency")}
    return docs, stored


def test_performance_page_includes_what_its_command_writes_from_the_stored_results(performance_page):
    """docs/performance/ is what ``make_performance_docs.py --reuse`` writes, and the page includes all of it."""
    docs, _ = performance_page
    committed = BENCHMARKS.parent / "docs" / "performance"
    docs.write_results(docs.load("bench_single"), docs.load("bench_scaling"), docs.load("bench_latency"),
                       docs.load("bench_sweep", required=False), docs.load("bench_threads_under_load", required=False))
    written = sorted(path.name for path in docs.OUT.iterdir())
    assert written == sorted(path.name for path in committed.iterdir())
    page = (BENCHMARKS.parent / "docs" / "performance.md").read_text()
    for name in written:
        assert (committed / name).read_text() == (docs.OUT / name).read_text(), (
            f"docs/performance/{name} is not what python benchmarks/make_performance_docs.py --reuse writes")
        if name.endswith(".md"):
            assert f"```{{include}} performance/{name}" in page, f"docs/performance.md does not include {name}"
    for key in json.loads((committed / "numbers.json").read_text()):
        assert f"{{{{ {key} }}}}" in page, f"docs/performance.md does not quote {key}"
    readme = docs.README.read_text()
    paragraph = docs.readme_paragraph(docs.load("bench_single"), docs.load("bench_sweep", required=False))
    assert docs.readme_with(paragraph, readme) == readme, (
        "README.md's performance paragraph is not what python benchmarks/make_performance_docs.py --reuse writes")


def test_performance_page_without_jax_has_no_jax_rows(performance_page):
    docs, stored = performance_page
    page = docs.write_results(stored["bench_single"], stored["bench_scaling"], stored["bench_latency"])
    for text in JAX_ROWS:
        assert text not in page
    assert "PyTorch autograd, float64" in page and "JAX not installed" in page


@pytest.mark.slow  # a whole benchmark's code path: 15 to 30 s on 2 loaded cores
@needs_jax
def test_performance_page_shows_the_measured_jax_rows(bench, performance_page):
    docs, stored = performance_page
    single, scaling, sweeps = bench("bench_single"), bench("bench_scaling"), bench("bench_sweep")
    results = stored["bench_single"]
    results["machine"]["jax"] = "probe"
    results["agreement"] = single.check_agreement(TINY, steps=30, with_torch=False, check_every=5, with_jax=True)
    results["default"] = single.time_case(TINY, 10, 1, with_torch=False, threads_list=[1], with_jax=True)
    series = {**single.time_case(TINY, 10, 1, with_torch=False, threads_list=[1], with_jax=True),
              **single.check_series_agreement(TINY["d"], 5, with_torch=False, with_jax=True)}
    results["d_series"] = [series]
    results["large"] = single.time_large(repeats=1, params=TINY, check_steps=10)
    scale = stored["bench_scaling"]
    row = scaling.versus_jax(dict(n=16, d=30, m=2, eta=0.1), repeats=1, flop=1.0, dynamics_steps=5, check_steps=10)
    scale["jax_by_d"] = scale["jax_by_n"] = [row]
    sweep = {"versus_jax": sweeps.versus_jax(cells=2, fixed=TINY, repeats=1, check_every=10, workers=1, f64_cells=1)}
    page = docs.write_results(results, scale, stored["bench_latency"], sweep)
    for text in JAX_ROWS + ("JAX probe",):
        assert text in page


FAMILY_SIZE = dict(n=60, d=40, m=2, eta=0.1)


@pytest.mark.slow  # every variant checked against autograd, then timed: 17 s on 2 loaded cores
def test_family_benchmark_checks_each_variant_before_timing_it(bench):
    family = bench("bench_family_autograd")
    names = ("relu (the paper's model)", "sam", "relu^2 + label_noise + minibatch")
    rows = family.measure({name: family.VARIANTS[name] for name in names}, FAMILY_SIZE, steps=10, check_steps=10,
                          check_every=5, repeats=1)
    for row in rows:
        assert row["gap"] <= family.RTOL
        assert row["against"] == ("autograd" if _has_torch() else "reference")
        assert row["s_per_step"] > 0 and row["ratio"] > 0
    assert rows[0]["ratio"] == 1.0
    assert "| sam | sam=0.05 |" in family.markdown(rows)


def test_family_benchmark_prints_a_variant_the_kernel_does_not_run_as_not_built(bench, monkeypatch):
    family = bench("bench_family_autograd")

    def not_built(**params):
        raise NotImplementedError("not built yet")

    monkeypatch.setattr(family, "simulate", not_built)
    rows = family.measure({"sam": {"sam": 0.05}}, FAMILY_SIZE, steps=10, check_steps=10, check_every=5, repeats=1)
    assert rows[0]["status"] == "not built" and "s_per_step" not in rows[0]
    assert "| sam | sam=0.05 | not built |" in family.markdown(rows)


@pytest.mark.slow  # imports PyTorch and checks a variant against autograd (15 s)
def test_family_benchmark_exits_non_zero_on_a_gap_above_its_tolerance(bench, monkeypatch, tmp_path):
    family = bench("bench_family_autograd")
    monkeypatch.setattr(family, "VARIANTS", {"bias": {"bias": True}})
    # Keep the committed rows of the last full run (the docs table) out of this test's reach.
    monkeypatch.setattr(family, "RESULT", tmp_path / "bench_family_autograd.json")
    sizes = ["--n", "12", "--d", "40", "--m", "2", "--steps", "5", "--check-steps", "5", "--repeats", "1"]
    assert family.main(sizes) == 0
    monkeypatch.setattr(family, "check_variant", lambda params, steps, every: (2 * family.RTOL, "autograd"))
    assert family.main(sizes) == 1
    rows = family.measure(family.VARIANTS, FAMILY_SIZE, steps=5, check_steps=5, check_every=5, repeats=1)
    assert "s_per_step" not in rows[0]  # a run that disagrees is not timed


def test_family_page_shows_the_table_of_the_kept_benchmark_rows(bench):
    family = bench("bench_family_autograd")
    rows = json.loads(family.RESULT.read_text())["rows"]
    assert f"{{include}} tables/{family.TABLE.name}" in (BENCHMARKS.parent / "docs" / "family.md").read_text()
    assert family.TABLE.read_text().strip() == family.markdown(rows).strip(), (
        "docs/tables/family_autograd.md is not the table of benchmarks/results/bench_family_autograd.json; run "
        "python benchmarks/bench_family_autograd.py --reuse --docs")
    assert all(row["gap"] <= family.RTOL for row in rows)


def test_test_error_benchmark_times_both_curves_of_a_small_run(bench):
    cost = bench("bench_test_error")
    row = cost.measure({"n": 30, "d": 100, "m": 3, "steps": 50}, repeats=1)
    assert row["run_s"] > 0 and row["precise_ratio"] > 0 and row["brute_ratio"] > 0
    assert row["worst_rse"] <= cost.TARGET_RSE * (1 + 1e-9)
    assert "| default |" in cost.markdown([{"setting": "default", **row}])


def test_model_page_shows_the_table_of_the_kept_test_error_benchmark(bench):
    cost = bench("bench_test_error")
    rows = json.loads(cost.RESULT.read_text())["rows"]
    assert f"{{include}} tables/{cost.TABLE.name}" in (BENCHMARKS.parent / "docs" / "model.md").read_text()
    assert cost.TABLE.read_text().strip() == cost.markdown(rows).strip(), (
        "docs/tables/test_error_cost.md is not the table of benchmarks/results/bench_test_error.json; run "
        "python benchmarks/bench_test_error.py --reuse --docs")


@pytest.mark.slow  # every case of the data family compiled and timed (19 s with a cold cache)
def test_data_family_benchmark_times_every_case_against_the_binary_run(bench):
    family = bench("bench_data_family")
    rows = family.measure(dict(n=12, d=40, m=2, steps=5), repeats=1)
    assert [row["case"] for row in rows] == [family.BASELINE, *family.CASES]
    assert rows[0]["ratio"] == 1.0 and all(row["seconds"] > 0 for row in rows)
    assert all((row["met"] is None) == (row["target"] is None) for row in rows)


def test_family_page_shows_the_table_of_the_kept_data_family_rows(bench):
    family = bench("bench_data_family")
    rows = json.loads(family.RESULT.read_text())["rows"]
    assert f"{{include}} tables/{family.TABLE.name}" in (BENCHMARKS.parent / "docs" / "family.md").read_text()
    assert family.TABLE.read_text() == family.markdown(rows), (
        "docs/tables/data_family_speed.md is not the table of benchmarks/results/data_family.json; run "
        "python benchmarks/bench_data_family.py --reuse --docs")
