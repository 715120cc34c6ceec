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


#: Heavy optional or lazily used packages; the import of each costs as much as numpy and numba together (scipy.special
#: half as much).
LAZY = ("scipy.stats", "scipy.special", "matplotlib", "pandas", "dask", "distributed", "xarray")


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


# Packaging -----------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def _pyproject():
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_version_is_declared_once_in_the_package():
    project = _pyproject()
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "labelnoise_sim.__version__"}


def test_python_dash_m_runs_the_command_line_and_says_its_version():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-m", "labelnoise_sim", "--version"], capture_output=True, text=True,
                          env=env, check=True)
    assert done.stdout == f"labelnoise-sim {labelnoise_sim.__version__}\n"
    done = subprocess.run([sys.executable, "-m", "labelnoise_sim", "phase", "--help"], capture_output=True,
                          text=True, env=env, check=True)
    assert done.stdout.startswith("usage: labelnoise-sim phase")


def test_the_typing_marker_ships_with_the_package():
    assert (ROOT / "labelnoise_sim" / "py.typed").is_file()
    assert "py.typed" in _pyproject()["tool"]["setuptools"]["package-data"]["labelnoise_sim"]


def _public_callables():
    for name in labelnoise_sim.__all__:
        obj = getattr(labelnoise_sim, name)
        if not inspect.isclass(obj):
            yield name, obj
            continue
        for attr, value in vars(obj).items():
            if attr.startswith("_"):
                continue
            value = getattr(value, "__func__", value)  # classmethod, staticmethod
            value = getattr(value, "fget", None) or getattr(value, "func", None) or value  # properties
            if inspect.isfunction(value):
                yield f"{name}.{attr}", value


def test_the_public_api_is_annotated():
    missing = []
    for name, function in _public_callables():
        signature = inspect.signature(function)
        missing += [f"{name}({p})" for p, parameter in signature.parameters.items()
                    if p not in ("self", "cls") and parameter.annotation is inspect.Parameter.empty]
        if signature.return_annotation is inspect.Signature.empty:
            missing.append(f"{name} -> ?")
    assert missing == []


def test_the_citation_file_names_this_version_and_every_paper_of_the_gallery():
    yaml = __import__("pytest").importorskip("yaml")
    from labelnoise_sim import papers

    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert str(citation["version"]) == labelnoise_sim.__version__
    assert citation["license"] == _pyproject()["project"]["license"]
    titles = [reference["title"] for reference in citation["references"]]
    entries = papers.papers()
    for key, entry in entries.items():
        assert sum(title in entry.citation for title in titles) == 1, (key, entry.citation)
    assert len(titles) == len(entries)
    assert citation["preferred-citation"]["title"] in entries["han2025"].citation
