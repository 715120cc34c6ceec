"""Every public docstring passes numpydoc's validation.

The public API is what a user can reach: the names of ``labelnoise_sim.__all__`` and of the ``__all__`` of
every public module (no leading underscore), and the public methods and properties of every public class,
its own and those it inherits from a class of this library. Each function, class, method and property among
them goes through ``numpydoc.validate.validate``; constants are data, with no docstring of their own.

Every check of numpydoc applies but these, left out on purpose:

- ES01 (an extended summary): many helpers say all there is in their summary line, and a second paragraph
  would repeat it;
- SA01 (a See Also section): the docstrings link related names in their text, where the link explains
  something;
- EX01 (an Examples section): the examples are the gallery's scripts (examples/), run by every build of the
  documentation, rather than doctests;
- PR08 (a parameter's description starts with a capital letter): the parameters of ``simulate`` and
  ``SimulationConfig`` are described by their one-line help, shared with the command line's ``--help``,
  which starts in lower case and sometimes with a name (``n * snr^2``, ``'isotropic'``).

For a class, numpydoc wants its constructor's parameters in its Parameters section. The result types
(dataclasses, named tuples) document their fields once, under Attributes, and the fields are the
constructor's parameters: a name documented under Attributes counts as documented for PR01, and a
private field (``SweepResult._store``), which the library alone passes, needs no entry.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil

import numpydoc.validate
import pytest
from numpydoc.docscrape import get_doc_object

import labelnoise_sim

EXCLUDED = {"ES01", "SA01", "EX01", "PR08"}


def _public_modules():
    return [labelnoise_sim] + [importlib.import_module(f"labelnoise_sim.{info.name}")
                               for info in pkgutil.iter_modules(labelnoise_sim.__path__)
                               if not info.name.startswith("_")]


def _is_member(value) -> bool:
    return inspect.isfunction(value) or isinstance(value, (property, functools.cached_property))


def public_objects() -> dict[str, object]:
    """Every public function, class, method and property, by the import path numpydoc validates it at."""
    found = {}
    for module in _public_modules():
        for name in module.__all__:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            path = f"{obj.__module__}.{obj.__qualname__}"
            found.setdefault(path, obj)
            if not inspect.isclass(obj):
                continue
            for owner in reversed(obj.__mro__):  # a subclass's own definition replaces its base's
                if not owner.__module__.startswith("labelnoise_sim"):
                    continue
                for member_name, member in vars(owner).items():
                    member = getattr(member, "__func__", member)  # classmethod, staticmethod
                    if not member_name.startswith("_") and _is_member(member):
                        found[f"{path}.{member_name}"] = member
    return found


class _Validator(numpydoc.validate.Validator):
    """numpydoc's validator, built from an import path.

    numpydoc looks for the ``def`` line of a property's getter and raises StopIteration for a getter made by
    ``lambda`` (``Data.mu``); that line only serves comments that silence checks, which we do not use.
    """

    def __init__(self, obj_name):
        super().__init__(get_doc_object(self._load_obj(obj_name)))

    @property
    def source_file_def_line(self):
        try:
            return super().source_file_def_line
        except StopIteration:
            return None


def _undocumented_fields(obj) -> list[str]:
    """A class's public constructor parameters documented neither under Parameters nor under Attributes."""
    doc = get_doc_object(obj)
    documented = {name.strip().lstrip("*") for section in ("Parameters", "Other Parameters", "Attributes")
                  for entry in doc[section] for name in entry.name.split(",")}
    signature = inspect.signature(obj)
    return [name for name, parameter in signature.parameters.items()
            if parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
            and not name.startswith("_") and name not in documented]


def docstring_errors(path: str, obj) -> list[str]:
    errors = [(code, message) for code, message in numpydoc.validate.validate(path, validator_cls=_Validator)["errors"]
              if code not in EXCLUDED]
    if inspect.isclass(obj) and any(code == "PR01" for code, _ in errors):
        missing = _undocumented_fields(obj)
        errors = [(code, message) for code, message in errors if code != "PR01"]
        if missing:
            errors.append(("PR01", f"Parameters {missing} documented neither under Parameters nor Attributes"))
    return [f"{path}: {code} {message}" for code, message in errors]


def test_public_api_is_found():
    # The walk reaches the entry points, the members of the result types and the module-level helpers.
    objects = public_objects()
    for path in ("labelnoise_sim.dynamics.simulate", "labelnoise_sim.result.SimulationResult.to_xarray",
                 "labelnoise_sim.result.SimulationResult.test_error", "labelnoise_sim.papers.reproduce",
                 "labelnoise_sim.config.SimulationConfig.from_params", "labelnoise_sim.data.Data.mu"):
        assert path in objects, path
    assert len(objects) > 150


def test_every_public_docstring_passes_numpydoc_validation():
    errors = [error for path, obj in public_objects().items() for error in docstring_errors(path, obj)]
    assert not errors, f"{len(errors)} numpydoc errors:\n" + "\n".join(errors)


@pytest.mark.parametrize("code", sorted(EXCLUDED))
def test_excluded_checks_are_numpydoc_checks(code):
    assert code in numpydoc.validate.ERROR_MSGS
