"""A filesystem sandbox for grading workers, with Linux Landlock (unprivileged, kernel 5.13 or later).

After `restrict_filesystem(repo_root, writable)` the calling process and everything it starts:
- can list any folder and read any file outside the checkout (Python, its packages, the system);
- inside the checkout can read only the course package (`utils/`, minus `utils/exercises/` and
  `utils/grading/`) and Python environments (folders holding `pyvenv.cfg`): not `solutions/`,
  `tests/`, `.git/`, the built book or anything else the grader did not hand over;
- can create, change or delete files only under `writable` (the worker's own job folder) and `/dev`.

So a submission can neither read the solutions or the hidden cases nor change the course, another
submission or its own output files elsewhere. Where Landlock is missing (another OS, an old kernel,
a container that filters the system calls) the function says why and restricts nothing; the grader
then warns once and still grades.
"""
from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Iterable

__all__ = ["restrict_filesystem", "HIDDEN_IN_UTILS"]

#: Parts of the course package a submission must not read: the exercise specs and the grading engine.
HIDDEN_IN_UTILS = ("exercises", "grading")

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446   # the same on x86-64 and arm64
_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38
_EXECUTE, _WRITE_FILE, _READ_FILE, _READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_MAKE_AND_REMOVE = sum(1 << b for b in range(4, 13))          # remove dir/file, make char/dir/reg/sock/fifo/block/sym
_REFER, _TRUNCATE = 1 << 13, 1 << 14
_FILE_RIGHTS = _EXECUTE | _WRITE_FILE | _READ_FILE | _TRUNCATE


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _abi(libc: ctypes.CDLL) -> int:
    version = libc.syscall(_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return int(version)


def _readable(repo_root: Path) -> list[Path]:
    """Every path to grant read access to: the siblings of each folder on the way to the checkout,
    and inside it the course package (minus the hidden parts) and Python environments."""
    grants: list[Path] = []
    here = Path("/")
    for part in repo_root.parts[1:]:
        grants += [p for p in _children(here) if p.name != part]
        here = here / part
    for child in _children(repo_root):
        if child.name == "utils" and child.is_dir():
            grants += [p for p in _children(child) if p.name not in HIDDEN_IN_UTILS]
        elif child.is_dir() and (child / "pyvenv.cfg").is_file():
            grants.append(child)
    return grants


def _children(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError:
        return []


def restrict_filesystem(repo_root: Path, writable: Iterable[Path]) -> str | None:
    """Sandbox this process (see the module docstring). None on success, else why it could not."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        abi = _abi(libc)
    except (OSError, AttributeError) as exc:
        return f"Landlock is not available here ({exc})"
    if abi < 1:
        return f"Landlock is not available here ({os.strerror(ctypes.get_errno()) or 'unsupported'})"
    write = _WRITE_FILE | _MAKE_AND_REMOVE | (_REFER if abi >= 2 else 0) | (_TRUNCATE if abi >= 3 else 0)
    read = _EXECUTE | _READ_FILE | _READ_DIR
    handled = ctypes.c_uint64(read | write)
    fd = libc.syscall(_CREATE_RULESET, ctypes.byref(handled), ctypes.c_size_t(8), ctypes.c_uint32(0))
    if fd < 0:
        return f"could not create a Landlock ruleset ({os.strerror(ctypes.get_errno())})"
    try:
        rules = [(Path("/"), _READ_DIR)]
        rules += [(p, read) for p in _readable(Path(repo_root).resolve())]
        rules += [(Path(p), read | write) for p in (*writable, "/dev")]
        for path, access in rules:
            try:
                target = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # a dangling link or a path that vanished: nothing to grant
            try:
                if not os.path.isdir(path):
                    access &= _FILE_RIGHTS
                rule = _PathBeneath(access, target)
                if libc.syscall(_ADD_RULE, fd, _PATH_BENEATH, ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
                    return f"could not add a Landlock rule for {path} ({os.strerror(ctypes.get_errno())})"
            finally:
                os.close(target)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return f"could not set no_new_privs ({os.strerror(ctypes.get_errno())})"
        if libc.syscall(_RESTRICT_SELF, fd, ctypes.c_uint32(0)) != 0:
            return f"could not enforce the Landlock ruleset ({os.strerror(ctypes.get_errno())})"
    finally:
        os.close(fd)
    return None
