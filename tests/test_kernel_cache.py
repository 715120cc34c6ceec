"""The kernels' disk cache has one stamp for the whole package (``labelnoise_sim/_kernels/_cache.py``).

numba stamps a cached function with its own source file only, so a kernel that calls a kernel of another file
keeps its compiled copy of the callee after the callee's file changes. The package's locator stamps every
function of its files with a hash of all of them. The end-to-end tests run child processes on a copy of the
package in a temporary directory, with two tiny kernels added to it, a caller and, in another file, its callee,
and numba's cache in a temporary directory too (``NUMBA_CACHE_DIR``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numba
import pytest
from numba.core.caching import CacheImpl

from labelnoise_sim import _kernels
from labelnoise_sim._kernels import _cache

PACKAGE = Path(_kernels.__file__).resolve().parent

CALLEE = '''\
"""A kernel that a kernel of another file calls (tests/test_kernel_cache.py)."""

from ._vectors import _inner

VALUE = 1.0


@_inner()
def callee():
    """VALUE."""
    return VALUE
'''

CALLER = '''\
"""A kernel that calls a kernel of another file (tests/test_kernel_cache.py)."""

from ._probe_callee import callee
from ._vectors import _kernel


@_kernel()
def caller():
    """callee() + 1."""
    return callee() + 1.0
'''

CHILD = textwrap.dedent("""
    import json
    from _kernels import _probe_caller

    caller = _probe_caller.caller
    value = caller()
    print(json.dumps({"value": value, "hits": sum(caller.stats.cache_hits.values()),
                      "misses": sum(caller.stats.cache_misses.values()),
                      "locator": type(caller._cache._impl.locator).__name__}))
""")

jit_only = pytest.mark.skipif(numba.config.DISABLE_JIT, reason="no disk cache under NUMBA_DISABLE_JIT")


@pytest.fixture
def copy(tmp_path):
    """A copy of the package with the two probe kernels, as the top-level package ``_kernels`` of a directory."""
    package = tmp_path / "lib" / "_kernels"
    shutil.copytree(PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "_probe_callee.py").write_text(CALLEE)
    (package / "_probe_caller.py").write_text(CALLER)
    return package


def _run(package: Path, **env) -> dict:
    """The caller's value in a new process, its cache hits and misses, and the class of its cache locator."""
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("NUMBA_DISABLE_JIT", "NUMBA_CACHE_LOCATOR_CLASSES")}
    environment.update(PYTHONPATH=str(package.parent), NUMBA_CACHE_DIR=str(package.parents[1] / "cache"), **env)
    done = subprocess.run([sys.executable, "-c", CHILD], env=environment, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_an_edit_to_a_callees_file_recompiles_its_callers_in_other_files(copy):
    assert _run(copy) == {"value": 2.0, "hits": 0, "misses": 1, "locator": "PackageLocator"}
    # Files unchanged: a new process takes the caller from the disk cache.
    assert _run(copy) == {"value": 2.0, "hits": 1, "misses": 0, "locator": "PackageLocator"}
    _edit(copy / "_probe_callee.py", "VALUE = 1.0", "VALUE = 5.0")
    assert _run(copy) == {"value": 6.0, "hits": 0, "misses": 1, "locator": "PackageLocator"}
    # The stamp is the files' bytes: a docstring's edit is enough, though the code stays the same.
    _edit(copy / "_probe_callee.py", '"""VALUE."""', '"""The constant VALUE."""')
    assert _run(copy) == {"value": 6.0, "hits": 0, "misses": 1, "locator": "PackageLocator"}


def test_numbas_own_stamp_would_keep_the_callers_stale_copy(copy):
    """The hazard the package's stamp removes, shown with numba's own locator (each file its own stamp)."""
    numbas = {"NUMBA_CACHE_LOCATOR_CLASSES": "UserProvidedCacheLocator"}
    assert _run(copy, **numbas) == {"value": 2.0, "hits": 0, "misses": 1, "locator": "UserProvidedCacheLocator"}
    _edit(copy / "_probe_callee.py", "VALUE = 1.0", "VALUE = 5.0")
    assert _run(copy, **numbas) == {"value": 2.0, "hits": 1, "misses": 0, "locator": "UserProvidedCacheLocator"}


def test_the_stamp_hashes_every_file_of_the_package_and_not_its_place(tmp_path):
    package = tmp_path / "elsewhere"
    shutil.copytree(PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    assert _cache.package_stamp(str(package)) == _cache.STAMP  # the same files at another path
    stamps = {_cache.STAMP}
    for path in sorted(package.glob("*.py")):
        text = path.read_text()
        path.write_text(text + "\n")
        stamps.add(_cache.package_stamp(str(package)))
        path.write_text(text)
    (package / "_new.py").write_text("")
    stamps.add(_cache.package_stamp(str(package)))
    assert len(stamps) == len(list(package.glob("*.py"))) + 1
    assert _cache.package_stamp(str(package)) != _cache.STAMP


def _numbas_locator(py_func):
    """The locator numba's own list (without the package's) gives ``py_func``."""
    file = os.path.abspath(py_func.__code__.co_filename)
    for cls in CacheImpl._locator_classes:
        if cls is not _cache.PackageLocator:
            locator = cls.from_function(py_func, file)
            if locator is not None:
                return locator
    raise AssertionError("numba finds no locator")


@jit_only
def test_every_kernel_of_the_package_has_the_package_stamp_and_numbas_cache_directory():
    assert CacheImpl._locator_classes.count(_cache.PackageLocator) == 1
    _cache.register()  # once only
    assert CacheImpl._locator_classes[0] is _cache.PackageLocator
    assert CacheImpl._locator_classes.count(_cache.PackageLocator) == 1
    kernels = [value for value in vars(_kernels).values() if isinstance(value, numba.core.dispatcher.Dispatcher)]
    assert len(kernels) > 50
    for kernel in kernels:
        locator = kernel._cache._impl.locator
        assert isinstance(locator, _cache.PackageLocator), kernel
        assert locator.get_source_stamp() == _cache.STAMP
        numbas = _numbas_locator(kernel.py_func)
        assert locator.get_cache_path() == numbas.get_cache_path()
        assert locator.get_disambiguator() == numbas.get_disambiguator()


@jit_only
def test_the_locator_leaves_functions_of_other_files_to_numba(tmp_path):
    module_file = tmp_path / "elsewhere.py"
    module_file.write_text("import numba\n\n\n@numba.njit(cache=True)\ndef twice(x):\n    return 2 * x\n")
    spec = importlib.util.spec_from_file_location("elsewhere", module_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    locator = module.twice._cache._impl.locator
    assert not isinstance(locator, _cache.PackageLocator)
    assert _cache.PackageLocator.from_function(module.twice.py_func, str(module_file)) is None
    assert locator.get_source_stamp() == _numbas_locator(module.twice.py_func).get_source_stamp() != _cache.STAMP
    # A file named like one of the package's, in another directory, is not the package's either.
    assert _cache.PackageLocator.from_function(module.twice.py_func, str(tmp_path / "_dynamics.py")) is None


@jit_only
def test_a_kernel_numba_cannot_cache_gets_numbas_warning_naming_its_file():
    """numba refuses to cache a compile result with lifted loops or dynamic globals (NUMBA_OPT=0 gives the
    vector kernels such globals) and warns, naming the function's file as its locator knows it; the package's
    locator answers as numba's own (an AttributeError here once stopped every first run under NUMBA_OPT=0)."""
    from types import SimpleNamespace

    kernel = _kernels.run_dynamics
    impl = kernel._cache._impl
    assert isinstance(impl.locator, _cache.PackageLocator)
    uncachable = SimpleNamespace(lifted=(SimpleNamespace(can_cache=False),), library=None,
                                 fndesc=SimpleNamespace(qualname="run_dynamics"))
    with pytest.warns(numba.NumbaWarning, match='Cannot cache compiled function "run_dynamics"') as record:
        assert impl.check_cachable(uncachable) is False
    assert Path(record[0].filename).resolve() == Path(kernel.py_func.__code__.co_filename).resolve()
