"""The on-disk store of a sweep: one file per finished cell, nothing lost.

Layout of a store directory::

    sweep.json            what the sweep is: grid, fixed parameters, format, and
                          the fingerprint of every cell's configuration, in slot order
    sweep.lock            held by the running sweep; names its process
    cells/000017.json     the record of the cell in slot 17 (parameters, metrics, wall time)
    cells/000017.npz      its trajectory (a SimulationResult), when kept

A cell is identified by its full configuration (its fingerprint, ``key``),
never by its place in a grid: slots are numbered once, in the grid order of
the sweep that made the store, and a rerun with the grid's keys or values in
another order finds every cell in its slot.

Guarantees:

- Atomic: every file is written to a temporary name in the same directory,
  flushed to disk, then renamed over its final name (``os.replace``). A reader
  sees the old file or the new one, never a partial one; a process killed
  (even by SIGKILL) mid-write leaves at most a stray ``*.tmp`` file.
- Checked: a cell record carries the SHA-256 of its own content and of its
  trajectory file; a file that does not parse or whose checksum fails counts as
  missing, and the cell is computed again.
- One sweep per store: a store whose ``sweep.json`` describes another sweep
  is refused (:class:`StoreMismatchError`), never mixed. Two sweeps are the
  same when they have the same cells (the same set of full configurations),
  the same grid parameters, the same fixed parameters as written and the same
  options; the order of the grid's keys and values does not matter.
- One running sweep per store: a sweep holds the store's lock from opening the
  store to its end; another sweep that opens the store meanwhile (from any
  process, this one included) is refused at once with
  :class:`StoreLockedError`, naming the holder's pid and host, and touches
  nothing. The lock is an ``fcntl.flock`` on ``sweep.lock``, which the kernel
  releases when its holder dies however it dies, SIGKILL included, so a
  crashed sweep never blocks its store (a pid file would outlive it and need
  guessing whether its pid is still the same process, or on which host). The
  pid and host written in the file only serve the message.

The store is written only by the process that called :func:`~labelnoise_sim.sweep`
(workers return their cells to it), so workers need no access to it.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import socket
import time
import warnings
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

__all__ = ["SweepStore", "StoreMismatchError", "StoreLockedError", "StoreWarning", "canonical_json",
           "STORE_FORMAT"]

STORE_FORMAT = 1
MANIFEST = "sweep.json"
LOCK = "sweep.lock"


class StoreMismatchError(ValueError):
    """The store was made by a sweep with another grid or other fixed parameters."""


class StoreLockedError(BlockingIOError):
    """Another sweep is running on the store: it holds the store's lock.

    A :class:`BlockingIOError`, as ``fcntl.flock`` raises for a held lock:
    taking the lock would block, and the sweep refuses rather than waits.

    Parameters
    ----------
    message : str
        What is locked and by whom.
    path : Path or None, default None
        The store directory.
    pid : int or None, default None
        Process id of the holder.
    host : str or None, default None
        Host name of the holder.

    Attributes
    ----------
    path : Path
        The store directory.
    pid : int or None
        Process id of the holder (None if it had not yet written it).
    host : str or None
        Host name of the holder.
    """

    def __init__(self, message: str, *, path=None, pid: int | None = None, host: str | None = None):
        super().__init__(message)
        self.path, self.pid, self.host = path, pid, host


def canonical_json(obj) -> str:
    """JSON text that depends only on the value of ``obj`` (sorted keys, no spaces).

    Floats are written with ``repr``, which reads back to the same bits.

    Parameters
    ----------
    obj : object
        A JSON-ready value (dicts, lists, strings, numbers, None).

    Returns
    -------
    str
        The JSON text.
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True)


def _library_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("labelnoise-sim")
    except PackageNotFoundError:
        return "unknown"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class SweepStore:
    """A store directory bound to one sweep specification.

    Opening the store takes its lock (see the module), held until :meth:`close`.

    Parameters
    ----------
    path : path-like
        The store directory; created if missing. An existing directory must be
        empty or a store of the same sweep.
    spec : dict
        JSON-ready description of the sweep: ``grid`` (axis labels, a zipped
        axis as ``"d+eta"``, to lists of values) and the other parts (fixed
        parameters, options), which must be equal for two sweeps to share the
        store. The grid itself is compared through ``keys``.
    keys : sequence of str
        The fingerprint of every cell's full configuration, in grid order.

    Raises
    ------
    StoreMismatchError
        The directory holds another sweep's store, or is not a store.
    StoreLockedError
        Another sweep holds the store.
    """

    def __init__(self, path, spec: dict, keys):
        self.path = Path(path)
        self.cells = self.path / "cells"
        self.spec = {"format": STORE_FORMAT, **spec}
        keys = list(dict.fromkeys(keys))
        self._lock_fd = None
        manifest = self.path / MANIFEST
        self._refuse_foreign_directory(manifest)
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            if manifest.exists():
                slots = self._check_manifest(manifest, keys)
            else:
                self._refuse_foreign_directory(manifest)
                self.cells.mkdir(exist_ok=True)
                slots = keys
                self._write_manifest({"spec": self.spec, "version": _library_version(), "cells": slots})
            self._slots = {key: slot for slot, key in enumerate(slots)}
            self.cells.mkdir(exist_ok=True)
            # Left by a writer that was killed between writing and renaming; no
            # other sweep can be writing, since this one holds the lock.
            for stray in self.cells.glob(".*.tmp"):
                stray.unlink(missing_ok=True)
        except BaseException:
            self.close()
            raise

    def _refuse_foreign_directory(self, manifest: Path) -> None:
        """Refuse a non-empty directory that is not a store, before leaving a lock file in it."""
        if manifest.exists() or not self.path.exists():
            return
        if any(entry.name != LOCK for entry in self.path.iterdir()):
            raise StoreMismatchError(
                f"store={str(self.path)!r} is a non-empty directory without {MANIFEST}: not a sweep "
                "store; give a new or empty directory"
            )

    # Lock ---------------------------------------------------------------------

    def _lock(self) -> None:
        """Take the store's lock for this sweep, or raise :class:`StoreLockedError` at once."""
        lock = self.path / LOCK
        if fcntl is None:
            warnings.warn(f"store={str(self.path)!r}: no fcntl on this platform, so the store is not locked; "
                          "make sure no other sweep uses it at the same time", StoreWarning, stacklevel=3)
            return
        # Not truncated on opening: the holder's pid in it is what a refused sweep reports.
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise self._locked_error(lock) from None
        except BaseException:
            os.close(fd)
            raise
        self._lock_fd = fd
        holder = {"pid": os.getpid(), "host": socket.gethostname(),
                  "since": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)

    def _locked_error(self, lock: Path) -> StoreLockedError:
        # The holder writes its pid just after taking the lock; give it a moment.
        holder = {}
        for _ in range(20):
            try:
                holder = json.loads(lock.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                holder = {}
            if isinstance(holder, dict) and "pid" in holder:
                break
            holder = {}
            time.sleep(0.05)
        pid, host = holder.get("pid"), holder.get("host")
        if pid is None:
            who = "another process (which has not yet written its pid)"
        else:
            who = f"process pid {pid} on host {host!r}, since {holder.get('since')},"
        return StoreLockedError(
            f"store={str(self.path)!r} is in use by another sweep: {who} holds its lock {str(lock)!r}. "
            "A store serves one running sweep at a time: wait for that sweep to end, or use another "
            "store directory",
            path=self.path, pid=pid, host=host,
        )

    def close(self) -> None:
        """Release the store's lock; the store can still be read (``SweepResult.result`` does)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _write_manifest(self, payload: dict) -> None:
        _atomic_write_text(self.path / MANIFEST, json.dumps(payload, indent=1, sort_keys=True) + "\n")

    def _check_manifest(self, manifest: Path, keys: list[str]) -> list[str]:
        """Refuse a store of another sweep; return the store's cell keys in slot order."""
        try:
            payload = json.loads(manifest.read_text(encoding="utf-8"))
            stored = payload["spec"]
            slots = payload.get("cells")
            if not isinstance(stored, dict) or not (slots is None or isinstance(slots, list)):
                raise TypeError("spec must be an object and cells a list")
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreMismatchError(f"store={str(self.path)!r}: unreadable {MANIFEST} ({exc})") from None
        old, new = ({part: canonical_json(spec.get(part)) for part in set(stored) | set(self.spec)}
                    for spec in (stored, self.spec))
        if slots is None:
            # Made before cells were listed: the grid is compared as written, as it then was.
            same_cells = old["grid"] == new["grid"]
        else:
            same_cells = (set(slots) == set(keys)
                          and _grid_parameters(stored.get("grid")) == _grid_parameters(self.spec.get("grid")))
        differences = [f"{part}: store has {old[part]}, this sweep has {new[part]}"
                       for part in sorted(old) if part != "grid" and old[part] != new[part]]
        if not same_cells and old["grid"] != new["grid"]:
            differences.insert(0, f"grid: store has {old['grid']}, this sweep has {new['grid']}")
        elif not same_cells:
            differences.insert(0, f"cells: the store's {len(slots)} cells have other full configurations than "
                                  f"this sweep's under the same grid (the store was made by labelnoise-sim "
                                  f"{payload.get('version')}, this is {_library_version()})")
        if differences:
            raise StoreMismatchError(
                f"store={str(self.path)!r} belongs to another sweep and is not mixed with this one; "
                + "; ".join(differences)
                + ". Use a new store directory, or rerun with the store's grid and fixed parameters"
            )
        version = payload.get("version")
        if version != _library_version():
            warnings.warn(
                f"store={str(self.path)!r} was made by labelnoise-sim {version}, this is "
                f"{_library_version()}: if the simulation changed in between, old and new cells may differ",
                StoreWarning, stacklevel=3,
            )
        if slots is None:
            # Its cells were numbered in the grid order of the sweep that made it. If this sweep
            # orders the grid otherwise, the cells found out of place count as missing.
            slots = keys
            self._write_manifest({**payload, "cells": slots})
        return slots

    # Cells --------------------------------------------------------------------

    def _record_path(self, slot: int) -> Path:
        return self.cells / f"{slot:06d}.json"

    def _result_path(self, slot: int) -> Path:
        return self.cells / f"{slot:06d}.npz"

    def read(self, key: str, need_result: bool = False) -> dict | None:
        """The stored record of the cell whose configuration has fingerprint ``key``, or None.

        None if the record is missing or damaged: a file that does not parse,
        fails its checksum or holds another cell counts as missing (and is
        reported, :class:`StoreWarning`). With ``need_result`` a record without
        an intact trajectory file also counts as missing (unless its run
        diverged and so has no trajectory).

        Parameters
        ----------
        key : str
            The fingerprint of the cell's configuration.
        need_result : bool, default False
            Whether the cell's trajectory must be there too.

        Returns
        -------
        dict or None
            The cell's record (its analysis, its configuration, its identity), or None.
        """
        slot = self._slots[key]
        path = self._record_path(slot)
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (ValueError, UnicodeDecodeError):
            self._damaged(path, "does not parse")
            return None
        record = payload.get("record") if isinstance(payload, dict) else None
        if not isinstance(record, dict) or payload.get("sha256") != _sha256(canonical_json(record)):
            self._damaged(path, "fails its checksum")
            return None
        if record.get("key") != key or record.get("index") != slot:
            self._damaged(path, "belongs to other parameters")
            return None
        if need_result and record.get("diverged_at") is None:
            expected = record.get("result_sha256")
            result = self._result_path(slot)
            if expected is None or not result.exists():
                return None
            if _file_sha256(result) != expected:
                self._damaged(result, "fails its checksum")
                return None
        return record

    def write(self, key: str, record: dict, result=None) -> None:
        """Store the cell of fingerprint ``key``: its trajectory first (if any), then its record.

        The record is written last, so a record on disk always finds the
        trajectory it names. It is stored with its identity: ``key`` and its
        slot, ``index``.

        Parameters
        ----------
        key : str
            The fingerprint of the cell's configuration.
        record : dict
            The cell's record, JSON-ready.
        result : SimulationResult or None, default None
            The cell's trajectory, if it is kept.
        """
        slot = self._slots[key]
        record = {**record, "key": key, "index": slot}
        if result is not None:
            final = self._result_path(slot)
            tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
            result.save(tmp)
            _fsync(tmp)
            record["result_sha256"] = _file_sha256(tmp)
            os.replace(tmp, final)
        payload = {"record": record, "sha256": _sha256(canonical_json(record))}
        _atomic_write_text(self._record_path(slot), canonical_json(payload) + "\n")

    def read_result(self, key: str):
        """The stored trajectory of the cell of fingerprint ``key``, or None.

        The trajectory file is read only once its SHA-256 matches the one its
        cell record carries; one that fails is reported (:class:`StoreWarning`)
        and counts as missing, as does a cell whose run diverged.

        Parameters
        ----------
        key : str
            The fingerprint of the cell's configuration.

        Returns
        -------
        SimulationResult or None
            The trajectory, or None.
        """
        from .result import load

        record = self.read(key, need_result=True)
        if record is None or record.get("diverged_at") is not None:
            return None
        return load(self._result_path(self._slots[key]))

    @staticmethod
    def _damaged(path: Path, why: str) -> None:
        warnings.warn(f"sweep store: {path} {why}; the cell is computed again", StoreWarning, stacklevel=3)


def _grid_parameters(grid) -> list[str]:
    """The parameters a grid sets, sorted: a zipped axis ``"d+eta"`` sets d and eta."""
    return sorted(name for label in (grid or {}) for name in label.split("+"))


class StoreWarning(UserWarning):
    """A damaged cell file was found and will be recomputed."""
