"""One disk-cache stamp for the whole package: a numba cache locator whose source stamp hashes every file here.

numba's disk cache files a compiled function under a stamp of its own source
file (numba >= 0.68: a sha256 of the file's bytes; before, its modification
time and size) and a hash of its own bytecode; a cached function that calls a
kernel of another file is reused as long as its own file is unchanged,
holding its compiled copy of the callee. With the kernels spread over the
modules of this package, an edit to a callee's file would then leave its
callers in other files running the old callee.

:class:`PackageLocator` stamps every function defined in the package's files
with :data:`STAMP` instead, the sha256 of the names and bytes of all of them:
any edit to any file of the package (a docstring included) makes every
kernel's cache entries stale, as one file's edit did when the kernels were one
file. The cache directory, the file names and everything else stay numba's
own: the locator asks numba's other locators, in their order, which one takes
the function, and differs from it in the stamp alone. Functions of other
files are left to numba. The stamp is computed once, at import: a
process saves what it compiled from the files it imported under the stamp of
those files, even if they change while it runs.

``NUMBA_CACHE_LOCATOR_CLASSES``, where set, replaces numba's list of locators
and with it this one (numba's own per-file stamps then apply).
"""

from __future__ import annotations

import hashlib
import os

from numba.core.caching import CacheImpl, _CacheLocator

__all__ = ["PackageLocator", "STAMP", "package_stamp", "register"]

#: The package's directory, as numba will see its functions' files (``inspect.getfile``, made absolute).
DIRECTORY = os.path.dirname(os.path.abspath(__file__))


def package_stamp(directory: str) -> str:
    """The sha256 (hex) of the names and bytes of every ``.py`` file of ``directory``, in the order of their names."""
    digest = hashlib.sha256()
    for name in sorted(os.listdir(directory)):
        if name.endswith(".py"):
            with open(os.path.join(directory, name), "rb") as file:
                data = file.read()
            digest.update(f"{name}\0{len(data)}\0".encode())
            digest.update(data)
    return digest.hexdigest()


#: The source stamp of every function of the package, computed at import (None if the package is not a directory
#: of files, in a zip archive say: numba's locators then take its functions as any other).
STAMP = package_stamp(DIRECTORY) if os.path.isdir(DIRECTORY) else None


class PackageLocator(_CacheLocator):
    """numba's locator for a function of the package, with :data:`STAMP` as its source stamp."""

    def __init__(self, numbas):
        self._numbas = numbas  # the locator numba would have used

    def ensure_cache_path(self):
        self._numbas.ensure_cache_path()

    def get_cache_path(self):
        return self._numbas.get_cache_path()

    def get_source_stamp(self):
        return STAMP

    def get_disambiguator(self):
        return self._numbas.get_disambiguator()

    def __getattr__(self, name):
        # Everything else numba reads of a locator is the other locator's: its ``_py_file`` names the file in the
        # warning of a function numba cannot cache (lifted loops, dynamic globals), which would otherwise fail.
        return getattr(self._numbas, name)

    @classmethod
    def from_function(cls, py_func, py_file):
        """A locator for a function of a file of the package (None for any other file, which numba's locators
        then take): the first of numba's other locators that takes it, with the package's stamp."""
        if os.path.dirname(os.path.abspath(py_file)) != DIRECTORY:
            return None
        for other in CacheImpl._locator_classes:
            if other is not cls:
                numbas = other.from_function(py_func, py_file)
                if numbas is not None:
                    return cls(numbas)
        return None


def register() -> None:
    """Put :class:`PackageLocator` first in numba's list of locators (once). numba picks a function's locator
    when the function is decorated, so this runs before any kernel is defined."""
    if STAMP is not None and PackageLocator not in CacheImpl._locator_classes:
        CacheImpl._locator_classes.insert(0, PackageLocator)
