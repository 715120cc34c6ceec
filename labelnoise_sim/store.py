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
  (even by SIGKILL) mid-write leaves at most a stray ``*.tmp`` file. A new
  store gets ``sweep.json`` before ``cells/``, so a creation cut short leaves
  only a lock file, a temporary manifest or an empty ``cells/``: no cell, and
  the next sweep to open the directory finishes making it.
- Checked: a cell record carries the SHA-256 of its own content and of its
  trajectory file; a file that does not parse, whose checksum fails, or that
  is no regular file (a directory, a FIFO, a symbolic link) or too large to be
  a record counts as missing, and the cell is computed again. Only regular
  files are read, opened without following links or waiting on a FIFO. The
  checksum detects damage, not intent: it is no signature, and a record
  edited together with its checksum is accepted.
- Never through a link: every file the store writes (lock, manifest,
  temporary files) is opened with ``O_NOFOLLOW``, temporary files are made
  afresh (``O_EXCL``), and a lock file with other hard links or a ``cells/``
  that is a link is refused (:class:`StoreWriteError`), so a planted link
  cannot make the store overwrite or delete files elsewhere.
- A failed write (a full disk) raises one :class:`StoreWriteError` naming the
  file; the cells stored before are intact, the temporary file is removed,
  and the lock is released.
- One sweep per store: a store whose ``sweep.json`` describes another sweep
  is refused (:class:`StoreMismatchError`), never mixed. Two sweeps are the
  same when they have the same cells (the same set of full configurations),
  the same grid parameters, the same fixed parameters as written and the same
  options; the order of the grid's keys and values does not matter.
- One running sweep per store: a sweep holds the store's lock from opening the
  store (before it looks at anything in the directory) to its end; another
  sweep that opens the store meanwhile (from any process, this one included,
  and while the store is still being made) is refused at once with
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

import contextlib
import datetime
import errno
import hashlib
import json
import os
import shutil
import socket
import stat
import time
import warnings
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

__all__ = ["SweepStore", "StoreMismatchError", "StoreLockedError", "StoreWriteError", "StoreWarning",
           "canonical_json", "STORE_FORMAT"]

STORE_FORMAT = 1
MANIFEST = "sweep.json"
LOCK = "sweep.lock"
CELLS = "cells"
#: Largest cell record read, in bytes: a record is about 1 KB, so a larger file is no record, and
#: reading it whole (it could be a huge or endless file) is not worth it.
RECORD_LIMIT = 1 << 20
#: Largest manifest read: a fixed part, room for another sweep's manifest of about a million cells
#: (a cell takes about 40 bytes: its 32-character fingerprint, quoted, on a line), plus up to 1 KiB per
#: cell of the sweep that reads it (its fingerprint, and the grid lists each value at most once per cell).
MANIFEST_LIMIT, MANIFEST_LIMIT_PER_CELL = 64 << 20, 1 << 10
# Where the platform lacks them (Windows), files are opened as usual.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


class StoreMismatchError(ValueError):
    """The store was made by a sweep with another grid or other fixed parameters."""


class StoreWriteError(OSError):
    """A file of the store could not be written: a full disk, a symbolic link in its place, no permission.

    An :class:`OSError` with the ``errno`` of the failure and the file in
    ``filename``; its message names the file and says what to do. Every cell
    written before the failure is intact in the store.

    Parameters
    ----------
    message : str
        What failed, naming the file, and what to do.
    path : str or os.PathLike
        The file that could not be written.
    code : int
        The ``errno`` of the failure.
    """

    def __init__(self, message: str, *, path, code: int):
        super().__init__(code, os.strerror(code), str(path))
        self.message = message

    def __str__(self) -> str:
        return self.message


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


class _Unreadable(Exception):
    """A store file that is there but is no file the store could have written (its message says what)."""


@contextlib.contextmanager
def _open_regular(path: Path):
    """A descriptor of ``path`` open for reading, if it is a regular file.

    A symbolic link is not followed and a FIFO or device is not waited for
    (``O_NOFOLLOW | O_NONBLOCK``), then the open file is checked to be regular,
    so a damaged store can neither send a read elsewhere nor hang it.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    _Unreadable
        If it exists but is not a regular file, or cannot be opened.
    """
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise _Unreadable("is a symbolic link" if os.path.islink(path) else f"cannot be read ({exc.strerror})"
                          ) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _Unreadable(f"is not a regular file but a {_file_kind(mode)}")
        yield fd
    finally:
        os.close(fd)


def _file_kind(mode: int) -> str:
    return next((kind for test, kind in ((stat.S_ISDIR, "directory"), (stat.S_ISFIFO, "FIFO"),
                                         (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"),
                                         (stat.S_ISBLK, "block device")) if test(mode)), "special file")


def _read_regular(path: Path, limit: int) -> bytes:
    """The content of ``path`` if it is a regular file of at most ``limit`` bytes (see :func:`_open_regular`)."""
    with _open_regular(path) as fd:
        chunks, size = [], 0
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise _Unreadable(f"is larger than {limit} bytes")
    return b"".join(chunks)


def _fd_sha256(fd: int) -> str:
    """SHA-256 of the whole file open as ``fd``, read from its start (the offset is left at its end)."""
    digest = hashlib.sha256()
    os.lseek(fd, 0, os.SEEK_SET)
    while block := os.read(fd, 1 << 20):
        digest.update(block)
    return digest.hexdigest()


def _remove_directory(path: Path) -> None:
    """Remove ``path`` if it is a directory (not a link to one): a damaged cell that a rename cannot replace."""
    try:
        if stat.S_ISDIR(os.lstat(path).st_mode):
            shutil.rmtree(path)
    except FileNotFoundError:
        pass


def _remove_stray(path: Path) -> None:
    """Remove a temporary file of the store left by a killed writer, whatever it now is (a link, a directory)."""
    _remove_directory(path)
    path.unlink(missing_ok=True)


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
        self.cells = self.path / CELLS
        self.spec = {"format": STORE_FORMAT, **spec}
        keys = list(dict.fromkeys(keys))
        self._lock_fd = None
        manifest = self.path / MANIFEST
        self.path.mkdir(parents=True, exist_ok=True)
        # The lock comes before any look at the directory: a sweep making the store meanwhile
        # (which holds the lock) would show it half-made.
        made_lock = self._lock()
        try:
            if os.path.lexists(manifest):
                slots = self._check_manifest(manifest, keys)
            else:
                self._refuse_foreign_directory(made_lock)
                # The manifest is written first, so that an interrupted creation leaves either a
                # store, or a directory that _refuse_foreign_directory recognises as a half-made one.
                for stray in self.path.glob(f".{MANIFEST}.*.tmp"):
                    _remove_stray(stray)
                slots = keys
                self._write_manifest({"spec": self.spec, "version": _library_version(), "cells": slots})
            self._slots = {key: slot for slot, key in enumerate(slots)}
            self._make_cells()
            # Left by a writer that was killed between writing and renaming; no
            # other sweep can be writing, since this one holds the lock.
            for stray in self.cells.glob(".*.tmp"):
                _remove_stray(stray)
        except BaseException:
            self.close()
            raise

    def _refuse_foreign_directory(self, made_lock: bool) -> None:
        """Refuse a directory without a manifest that holds more than an interrupted creation leaves.

        That is the lock file, a temporary manifest, and a ``cells/``
        directory holding at most temporary files (stores made before the
        manifest was written first made ``cells/`` first): no cell, so nothing
        to keep apart from this sweep. Anything else makes it a directory of
        someone else's; the lock file is removed again if this sweep made it.
        """
        def half_made(entry: Path) -> bool:
            if entry.name == LOCK or entry.name.startswith(f".{MANIFEST}.") and entry.name.endswith(".tmp"):
                return True
            return (entry.name == CELLS and not entry.is_symlink() and entry.is_dir()
                    and all(cell.name.startswith(".") and cell.name.endswith(".tmp") for cell in entry.iterdir()))

        if not all(half_made(entry) for entry in self.path.iterdir()):
            if made_lock:
                (self.path / LOCK).unlink(missing_ok=True)
            raise StoreMismatchError(
                f"store={str(self.path)!r} is a non-empty directory without {MANIFEST}: not a sweep "
                "store; give a new or empty directory"
            )

    def _make_cells(self) -> None:
        """Make ``cells/`` if missing; refuse one that is a symbolic link or no directory."""
        try:
            self.cells.mkdir()
        except FileExistsError:
            pass
        except OSError as exc:
            raise self._write_error(self.cells, exc) from None
        mode = os.lstat(self.cells).st_mode
        if stat.S_ISLNK(mode):
            raise StoreWriteError(
                f"store={str(self.path)!r}: {self.cells} is a symbolic link; the store keeps its cells in a "
                "directory of its own, never through a link (it would write and delete files where the link "
                "points): remove the link", path=self.cells, code=errno.ELOOP)
        if not stat.S_ISDIR(mode):
            raise StoreWriteError(
                f"store={str(self.path)!r}: {self.cells} is a {_file_kind(mode)}, not the directory of the "
                "store's cells: remove it", path=self.cells, code=errno.ENOTDIR)

    # Lock ---------------------------------------------------------------------

    def _lock(self) -> bool:
        """Take the store's lock for this sweep, or raise :class:`StoreLockedError` at once.

        Returns whether the lock file was made here (it did not exist).
        """
        lock = self.path / LOCK
        if fcntl is None:
            warnings.warn(f"store={str(self.path)!r}: no fcntl on this platform, so the store is not locked; "
                          "make sure no other sweep uses it at the same time", StoreWarning, stacklevel=3)
            return False
        # Not truncated on opening: the holder's pid in it is what a refused sweep reports. Never
        # through a symbolic link, whose target the pid would overwrite.
        flags = os.O_RDWR | _NOFOLLOW | _NONBLOCK
        while True:
            try:
                fd, made = os.open(lock, flags | os.O_CREAT | os.O_EXCL, 0o644), True
            except FileExistsError:
                try:
                    fd, made = os.open(lock, flags), False
                except FileNotFoundError:  # removed meanwhile by a sweep that found a foreign directory
                    continue
                except OSError as exc:
                    raise self._write_error(lock, exc) from None
            except OSError as exc:
                raise self._write_error(lock, exc) from None
            break
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise StoreWriteError(f"store={str(self.path)!r}: {lock} is a {_file_kind(info.st_mode)}, not the "
                                      "store's lock file: remove it", path=lock, code=errno.EINVAL)
            if info.st_nlink > 1:
                raise StoreWriteError(f"store={str(self.path)!r}: {lock} has other hard links; the store would "
                                      "overwrite a file linked to it: remove it", path=lock, code=errno.EMLINK)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            error = self._locked_error(fd, lock)
            os.close(fd)
            raise error from None
        except BaseException:
            os.close(fd)
            raise
        holder = {"pid": os.getpid(), "host": socket.gethostname(),
                  "since": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
        except BaseException as exc:
            # Closing releases the lock: held on, it would refuse every later sweep of this process.
            os.close(fd)
            if isinstance(exc, OSError):
                raise self._write_error(lock, exc) from None
            raise
        self._lock_fd = fd
        return made

    def _locked_error(self, fd: int, lock: Path) -> StoreLockedError:
        # The holder writes its pid just after taking the lock; give it a moment.
        holder = {}
        for _ in range(20):
            try:
                holder = json.loads(os.pread(fd, 4096, 0))
            except (OSError, ValueError, RecursionError):
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

    # Writing ------------------------------------------------------------------

    @contextlib.contextmanager
    def _writing(self, final: Path):
        """A binary file to write ``final``'s new content to; it replaces ``final`` once flushed to disk.

        The content goes to a temporary name in the same directory, made
        without following a symbolic link, and is renamed over ``final`` only
        when complete, so ``final`` is the old file or the new one. On any
        failure the temporary file is removed; a failure of the file system
        (a full disk) raises :class:`StoreWriteError` naming the file.
        """
        tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        try:
            # Made afresh: one already there (a link, a hard link to another file) is none of this
            # sweep's, since it removes its own on failure and strays are cleared at opening. Read as well
            # as written: a trajectory is hashed through it once written.
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644)
        except OSError as exc:
            raise self._write_error(tmp, exc) from None
        try:
            with os.fdopen(fd, "wb") as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            _remove_directory(final)
            os.replace(tmp, final)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            if isinstance(exc, OSError) and not isinstance(exc, StoreWriteError):
                raise self._write_error(final, exc) from None
            raise

    def _write_error(self, path: Path, exc: OSError) -> StoreWriteError:
        """The error of a store file ``path`` that could not be made or written (``exc``)."""
        if os.path.islink(path):
            return StoreWriteError(
                f"store={str(self.path)!r}: {path} is a symbolic link; the store writes no file through a "
                "link, which would overwrite the file it points to: remove the link", path=path, code=errno.ELOOP)
        if exc.errno == errno.EEXIST:
            return StoreWriteError(
                f"store={str(self.path)!r}: {path} is in the way of a temporary file the store makes afresh, "
                "and not of this sweep's making: remove it", path=path, code=errno.EEXIST)
        return StoreWriteError(
            f"store={str(self.path)!r}: cannot write {path} ({exc.strerror}). Nothing finished is lost: every "
            "cell finished before is in the store, and rerunning the same sweep once the cause is fixed (free "
            "some space) computes only the others", path=path, code=exc.errno or errno.EIO)

    def _write_manifest(self, payload: dict) -> None:
        with self._writing(self.path / MANIFEST) as fh:
            fh.write((json.dumps(payload, indent=1, sort_keys=True) + "\n").encode())

    def _check_manifest(self, manifest: Path, keys: list[str]) -> list[str]:
        """Refuse a store of another sweep; return the store's cell keys in slot order."""
        try:
            payload = json.loads(_read_regular(manifest, MANIFEST_LIMIT + MANIFEST_LIMIT_PER_CELL * len(keys)))
            stored = payload["spec"]
            slots = payload.get("cells")
            if not isinstance(stored, dict) or not (slots is None or isinstance(slots, list)):
                raise TypeError("spec must be an object and cells a list")
        except RecursionError:
            raise StoreMismatchError(f"store={str(self.path)!r}: unreadable {MANIFEST} (nested too deeply)"
                                     ) from None
        except (ValueError, KeyError, TypeError, _Unreadable) as exc:
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
            payload = json.loads(_read_regular(path, RECORD_LIMIT))
        except FileNotFoundError:
            return None
        except _Unreadable as exc:
            self._damaged(path, str(exc))
            return None
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
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
            if expected is None or not os.path.lexists(result):
                return None
            try:
                with _open_regular(result) as fd:
                    intact = _fd_sha256(fd) == expected
            except (FileNotFoundError, _Unreadable) as exc:
                intact, why = False, str(exc)
            else:
                why = "fails its checksum"
            if not intact:
                self._damaged(result, why)
                return None
        return record

    def write(self, key: str, record: dict, result=None) -> None:
        """Store the cell of fingerprint ``key``: its trajectory first (if any), then its record.

        The record is written last, so a record on disk always finds the
        trajectory it names. It is stored with its identity: ``key`` and its
        slot, ``index``. Whatever is in the way of either file (a damaged one,
        a link, a directory) is replaced.

        Parameters
        ----------
        key : str
            The fingerprint of the cell's configuration.
        record : dict
            The cell's record, JSON-ready.
        result : SimulationResult or None, default None
            The cell's trajectory, if it is kept.

        Raises
        ------
        StoreWriteError
            If a file cannot be written (a full disk); the cells written before are intact.
        """
        slot = self._slots[key]
        record = {**record, "key": key, "index": slot}
        if result is not None:
            with self._writing(self._result_path(slot)) as fh:
                result.save(fh)
                fh.flush()
                record["result_sha256"] = _fd_sha256(fh.fileno())
        payload = {"record": record, "sha256": _sha256(canonical_json(record))}
        with self._writing(self._record_path(slot)) as fh:
            fh.write((canonical_json(payload) + "\n").encode())

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
