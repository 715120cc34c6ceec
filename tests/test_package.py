"""The package's top level: a few names, each importable, and a light import."""

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import labelnoise_sim

#: Entry points, result and configuration types, errors; helpers stay in their modules.
MAX_TOP_LEVEL = 15


def _top_level_names():
    # Submodules become attributes of the package once imported; they are not names __init__ exports.
    return {name for name, value in vars(labelnoise_sim).items()
            if not name.startswith("_") and not inspect.ismodule(value)}


def test_top_level_has_at_most_15_public_names():
    assert len(labelnoise_sim.__all__) <= MAX_TOP_LEVEL
    assert len(set(labelnoise_sim.__all__)) == len(labelnoise_sim.__all__)
    assert _top_level_names() == set(labelnoise_sim.__all__)


def test_every_public_name_is_importable_from_the_package():
    for name in labelnoise_sim.__all__:
        namespace = {}
        exec(f"from labelnoise_sim import {name}", namespace)
        assert namespace[name] is getattr(labelnoise_sim, name), name


def test_version_is_not_exported():
    assert isinstance(labelnoise_sim.__version__, str) and "__version__" not in labelnoise_sim.__all__


#: Heavy optional or lazily used packages; the import of each costs as much as numpy and numba together.
LAZY = ("scipy.stats", "matplotlib", "pandas", "dask", "distributed", "xarray")


def test_import_loads_no_heavy_package():
    # A fresh interpreter: this one has imported everything the other tests use.
    code = ("import json, sys, labelnoise_sim; "
            "print(json.dumps([labelnoise_sim.__file__, sorted(m for m in sys.modules if m.split('.')[0] in "
            f"{LAZY!r} or m in {LAZY!r})]))")
    package_root = str(Path(labelnoise_sim.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([package_root, os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    imported_file, loaded = json.loads(done.stdout)
    assert Path(imported_file).resolve() == Path(labelnoise_sim.__file__).resolve()
    assert loaded == []
