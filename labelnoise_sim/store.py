"""The on-disk store of a sweep: one file per finished cell, nothing lost.

Layout of a store directory::

    sweep.json            what the sweep is: grid, fixed parameters, format
    sweep.lock            held by the running sweep; names its process
    cells/000017.json     the record of cell 17 (parameters, metrics, wall time)
    cells/000017.npz      its trajectory (a SimulationResult), when kept

Guarantees:

- Atomic: every file is written to a temporary name in the same directory,
  flushed to disk, then renamed over its final name (``os.replace``). A reader
  sees the old file or the new one, never a partial one; a process killed
  (even by SIGKILL) mid-write leaves at most a stray ``*.tmp`` file.
- Checked: a cell record carries the SHA-256 of its own content and of its
  trajectory file; a file that does not parse or whose checksum fails counts as
  missing, and the cell is computed again.
- One sweep per store: a store whose ``sweep.json`` describes another grid or
  other fixed parameters is refused (:class:`StoreMismatchError`), never mixed.
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

    Parameters
    ----------
    path : path-like
        The store directory; created if missing. An existing directory must be
        empty or a store of the same sweep.
    spec : dict
        JSON-ready description of the sweep (grid and fixed parameters). Two
        sweeps may share a store only if their specs are equal.
    """

    def __init__(self, path, spec: dict):
        self.path = Path(path)
        self.cells = self.path / "cells"
        self.spec = {"format": STORE_FORMAT, **spec}
        self._lock_fd = None
        manifest = self.path / MANIFEST
        self._refuse_foreign_directory(manifest)
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            if manifest.exists():
                self._check_manifest(manifest)
            else:
                self._refuse_foreign_directory(manifest)
                self.cells.mkdir(exist_ok=True)
                payload = {"spec": self.spec, "version": _library_version()}
                _atomic_write_text(manifest, json.dumps(payload, indent=1, sort_keys=True) + "\n")
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

    def _check_manifest(self, manifest: Path) -> None:
        try:
            payload = json.loads(manifest.read_text(encoding="utf-8"))
            stored = payload["spec"]
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreMismatchError(f"store={str(self.path)!r}: unreadable {MANIFEST} ({exc})") from None
        if canonical_json(stored) == canonical_json(self.spec):
            version = payload.get("version")
            if version != _library_version():
                warnings.warn(
                    f"store={str(self.path)!r} was made by labelnoise-sim {version}, this is "
                    f"{_library_version()}: if the simulation changed in between, old and new cells may differ",
                    StoreWarning, stacklevel=3,
                )
            return
        differences = []
        for part in sorted(set(stored) | set(self.spec)):
            old, new = stored.get(part), self.spec.get(part)
            if canonical_json(old) != canonical_json(new):
                differences.append(f"{part}: store has {canonical_json(old)}, this sweep has {canonical_json(new)}")
        raise StoreMismatchError(
            f"store={str(self.path)!r} belongs to another sweep and is not mixed with this one; "
            + "; ".join(differences)
            + ". Use a new store directory, or rerun with the store's grid and fixed parameters"
        )

    # Cells --------------------------------------------------------------------

    def _record_path(self, index: int) -> Path:
        return self.cells / f"{index:06d}.json"

    def result_path(self, index: int) -> Path:
        """Path of cell ``index``'s trajectory file (it may not exist)."""
        return self.cells / f"{index:06d}.npz"

    def read(self, index: int, key: str, need_result: bool = False) -> dict | None:
        """The stored record of cell ``index``, or None if it is missing or damaged.

        ``key`` identifies the cell's parameters; a record made for other
        parameters counts as missing. With ``need_result`` a record without an
        intact trajectory file also counts as missing (unless its run diverged
        and so has no trajectory).
        """
        path = self._record_path(index)
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
        if record.get("key") != key or record.get("index") != index:
            self._damaged(path, "belongs to other parameters")
            return None
        if need_result and record.get("diverged_at") is None:
            expected = record.get("result_sha256")
            result = self.result_path(index)
            if expected is None or not result.exists():
                return None
            if _file_sha256(result) != expected:
                self._damaged(result, "fails its checksum")
                return None
        return record

    def write(self, index: int, record: dict, result=None) -> None:
        """Store cell ``index``: its trajectory first (if any), then its record.

        The record is written last, so a record on disk always finds the
        trajectory it names.
        """
        record = dict(record)
        if result is not None:
            final = self.result_path(index)
            tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
            result.save(tmp)
            _fsync(tmp)
            record["result_sha256"] = _file_sha256(tmp)
            os.replace(tmp, final)
        payload = {"record": record, "sha256": _sha256(canonical_json(record))}
        _atomic_write_text(self._record_path(index), canonical_json(payload) + "\n")

    def read_result(self, index: int, key: str):
        """The stored trajectory of cell ``index`` (a SimulationResult), or None if there is none intact.

        The trajectory file is read only once its SHA-256 matches the one its
        cell record carries; one that fails is reported (:class:`StoreWarning`)
        and counts as missing, as does a cell whose run diverged.
        """
        from .result import load

        record = self.read(index, key, need_result=True)
        if record is None or record.get("diverged_at") is not None:
            return None
        return load(self.result_path(index))

    @staticmethod
    def _damaged(path: Path, why: str) -> None:
        warnings.warn(f"sweep store: {path} {why}; the cell is computed again", StoreWarning, stacklevel=3)


class StoreWarning(UserWarning):
    """A damaged cell file was found and will be recomputed."""
