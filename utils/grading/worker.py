"""The grading worker: runs a submission's functions in a separate process.

Usage (by the runner only): `python -m utils.grading.worker JOB.pkl` runs one job;
`python -m utils.grading.worker --serve` is a fork server: it imports torch once, then
forks a fresh worker per job line `JOB STDERR THREADS` read on stdin, answering `pid N`
and, when a worker ends, `exit N STATUS` on stdout (one process, one thread: safe to fork).

The job (a pickle written by the grader) holds the submission's kept top-level code (imports,
function and class definitions) and, per exercise, the function name and every case's
arguments, built by the grader. A plan may bring its own code instead (a known mistake, run on the
cases a submission failed): it is run in a namespace of its own, and the job then holds no submission. The worker blocks imports of the checking code, executes
the submission in a fresh namespace and calls the student's function per case. Outputs are sanitized to plain data and written
with `torch.save`; the parent loads them with `weights_only=True` and judges them
itself, so nothing the submission does in here can change a verdict.

Files written to the job's `out` folder: `loaded` once the submission is executed, then
`<k>.pt` (a list of {"ok": bool, "value"|"error": ...}, one per case and seed) for the
k-th exercise of the job, in order.
"""

from __future__ import annotations

import builtins
import os
import pickle
import tempfile
import re
import sys
from pathlib import Path
from typing import Any

import torch

BLOCKED = ("utils.grading", "utils.exercises")
MAX_ELEMENTS = 20_000_000
MAX_DEPTH = 20
UNSUPPORTED = "__grader_unsupported__"


def clean_message(text: str, limit: int = 300) -> str:
    """One line, no memory addresses, at most `limit` characters (stable across runs)."""
    text = re.sub(r"0x[0-9a-fA-F]+", "0x...", " ".join(str(text).split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_error(exc: BaseException) -> str:
    """A short, student-facing description of an exception raised by a submission."""
    if isinstance(exc, NotImplementedError):
        return "not implemented yet (the function raises NotImplementedError)"
    if isinstance(exc, SystemExit):
        return "your function called sys.exit()/exit(); return a value instead"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (KeyboardInterrupt)"
    if isinstance(exc, InPlaceModification):
        return clean_message(str(exc))
    message = clean_message(str(exc))
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def sanitize(value: Any, depth: int = 0) -> Any:
    """Convert an output to tensors/numbers/bool/str/None and lists/tuples/dicts of them."""
    if depth > MAX_DEPTH:
        return {UNSUPPORTED: "structure nested too deeply"}
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, torch.Tensor):
        if value.numel() > MAX_ELEMENTS:
            return {UNSUPPORTED: f"tensor too large ({value.numel()} elements)"}
        if value.is_sparse or value.layout != torch.strided:
            value = value.to_dense()
        return torch.Tensor.clone(torch.Tensor.detach(value)).cpu().as_subclass(torch.Tensor)
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a torch dependency here
        np = None
    if np is not None and isinstance(value, np.ndarray):
        if value.dtype == object or value.size > MAX_ELEMENTS:
            return {UNSUPPORTED: f"numpy array of dtype {value.dtype}"}
        return torch.from_numpy(np.ascontiguousarray(value).copy())
    if np is not None and isinstance(value, np.generic):
        return sanitize(value.item(), depth + 1)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, tuple):
        return tuple(sanitize(v, depth + 1) for v in value)
    if isinstance(value, list):
        return [sanitize(v, depth + 1) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if type(k) not in (str, int):
                return {UNSUPPORTED: f"dict with a key of type {type(k).__name__}"}
            out[k] = sanitize(v, depth + 1)
        return out
    return {UNSUPPORTED: type(value).__name__}


class _BlockGrading:
    """A meta-path finder that refuses to import the checking code inside the worker."""

    def __init__(self, blocked: tuple[str, ...]) -> None:
        self.blocked = blocked

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if any(name == b or name.startswith(b + ".") for b in self.blocked):
            raise ImportError(f"importing {name} is not allowed while grading")
        return None


def block_grading_imports(extra: tuple[str, ...] = ()) -> None:
    """Remove the checking code (and the `extra` spec modules) from sys.modules and `utils`; block re-imports."""
    blocked = BLOCKED + tuple(extra)
    for name in list(sys.modules):
        if any(name == b or name.startswith(b + ".") for b in blocked):
            del sys.modules[name]
    utils_pkg = sys.modules.get("utils")
    for attr in ("grading", "exercises"):
        if utils_pkg is not None and hasattr(utils_pkg, attr):
            delattr(utils_pkg, attr)
    sys.meta_path.insert(0, _BlockGrading(blocked))


class InPlaceModification(Exception):
    """A submitted function changed one of its inputs although the exercise asks for a new value."""


def _snapshot(value: Any, depth: int = 0) -> Any:
    """A copy of every tensor (and module state) reachable in `value`, to compare after a call."""
    if depth > MAX_DEPTH:
        return None
    if isinstance(value, torch.Tensor):
        return torch.Tensor.clone(torch.Tensor.detach(value))
    if isinstance(value, torch.nn.Module):
        return {k: torch.Tensor.clone(torch.Tensor.detach(v)) for k, v in value.state_dict().items()}
    if isinstance(value, (list, tuple)):
        return [_snapshot(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {k: _snapshot(v, depth + 1) for k, v in value.items()}
    return None


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.is_floating_point() or a.is_complex():
        return bool(((a == b) | (torch.isnan(a) & torch.isnan(b))).all())
    return bool(torch.equal(a, b))


def _changed(before: Any, value: Any, where: str) -> str | None:
    """Where `value` differs from its snapshot `before` (None if nowhere)."""
    if isinstance(value, torch.Tensor):
        return None if _same(before, torch.Tensor.detach(value)) else f"{where}, {describe_value(value)}"
    if isinstance(value, torch.nn.Module):
        now = value.state_dict()
        if set(now) != set(before):
            return f"{where}, a module whose parameters were added or removed"
        for k, v in now.items():
            if not _same(before[k], torch.Tensor.detach(v)):
                return f"{where}, parameter {k!r} of the module"
        return None
    if isinstance(value, (list, tuple)) and isinstance(before, list) and len(before) == len(value):
        for i, (b, v) in enumerate(zip(before, value)):
            if (found := _changed(b, v, f"{where}[{i}]")) is not None:
                return found
    if isinstance(value, dict) and isinstance(before, dict):
        for k, v in value.items():
            if k in before and (found := _changed(before[k], v, f"{where}[{k!r}]")) is not None:
                return found
    return None


def describe_value(value: Any) -> str:
    """'a tensor of shape (3, 4)' and the like, for messages."""
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return f"a {type(value).__name__}"


def guard_inputs(fn: Any) -> Any:
    """`fn`, raising InPlaceModification when a call changes any tensor or module it was given."""
    def guarded(*args: Any, **kwargs: Any) -> Any:
        inputs = [(f"argument {i + 1}", a) for i, a in enumerate(args)] + [(f"argument {k}", a) for k, a in kwargs.items()]
        before = [_snapshot(a) for _, a in inputs]
        out = fn(*args, **kwargs)
        for (label, a), b in zip(inputs, before):
            if (where := _changed(b, a, label)) is not None:
                raise InPlaceModification(f"your function modified its input in place ({where}); "
                                          "this exercise asks for a new value: work on a copy")
        return out
    return guarded


def rebuild_tensor_with_grad(data: torch.Tensor, grad: torch.Tensor, requires_grad: bool, parameter: bool) -> torch.Tensor:
    """Unpickle a tensor together with its `.grad` (plain pickling drops gradients: see the runner's job pickler)."""
    tensor = torch.nn.Parameter(data, requires_grad) if parameter else data.requires_grad_(requires_grad)
    tensor.grad = grad
    return tensor


def _write(out: Path, name: str, payload: Any) -> None:
    tmp = out / f".{name}.tmp"
    torch.save(payload, tmp)
    os.replace(tmp, out / name)


def main(job_path: str) -> int:
    """Run one job (see the module docstring); returns the process exit status."""
    with open(job_path, "rb") as f:
        job = pickle.load(f)  # written by the grader itself, never by a submission
    out = Path(job["out"])
    sys.path.extend(p for p in job["paths"] if p not in sys.path)  # where the cases' spec modules live
    job.update(pickle.loads(job.pop("payload")))
    threads = int(os.environ.get("GRADER_THREADS", "0"))
    if threads > 0:
        torch.set_num_threads(threads)
    plans = job["plans"]  # [(function name, in place?, [(run, args), ...], own code or None), ...], built by the grader
    save = torch.save  # keep our own references before any student code runs
    from utils.env import REPO_ROOT
    from utils.grading.sandbox import restrict_filesystem

    block_grading_imports(tuple(job["modules"]))
    scratch = Path(job_path).parent / "tmp"   # the submission's own temporary files
    scratch.mkdir(exist_ok=True)
    os.environ["TMPDIR"] = str(scratch)
    tempfile.tempdir = None
    problem = restrict_filesystem(REPO_ROOT, [Path(job_path).parent])
    (out / "sandbox").write_text("ok" if problem is None else problem)

    namespace: dict[str, Any] = {"__name__": "__student__", "__builtins__": builtins}
    load_errors: list[str] = []
    for cell, source in job["chunks"]:
        try:
            exec(compile(source, f"<notebook cell {cell}>", "exec"), namespace)
        except BaseException as exc:  # noqa: BLE001 - anything a submission raises is data here
            load_errors.append(f"cell {cell}: {describe_error(exc)}")
    (out / "loaded").write_text("\n".join(load_errors))

    for k, (func, in_place, runs, code) in enumerate(plans):
        own: dict[str, Any] = {"__name__": "__mistake__", "__builtins__": builtins}
        try:
            for name, source in code or ():
                exec(compile(source, name, "exec"), own)
        except BaseException:  # noqa: BLE001 - a plan whose code does not run reports its function missing
            own = {}
        fn = (own if code is not None else namespace).get(func)
        results: list[dict[str, Any]] = []
        for run, args in runs:
            if not callable(fn):
                results.append({"ok": False, "error": f"no function named {func} after running your definitions"})
                continue
            call = fn if in_place else guard_inputs(fn)
            try:
                value = run(call, args) if run is not None else call(*args)
                results.append({"ok": True, "value": sanitize(value)})
            except BaseException as exc:  # noqa: BLE001
                results.append({"ok": False, "error": describe_error(exc)})
        try:
            tmp = out / f".{k}.pt.tmp"
            save(results, tmp)
            os.replace(tmp, out / f"{k}.pt")
        except BaseException as exc:  # noqa: BLE001
            fallback = [{"ok": False, "error": f"could not save your outputs: {describe_error(exc)}"} for _ in runs]
            _write(out, f"{k}.pt", fallback)
    return 0


def child(job_path: str, stderr_path: str, threads: int) -> None:
    """Entry point of a worker forked by `serve()`: own session, quiet stdout, stderr to a file."""
    os.setsid()  # own process group: the parent can kill whatever the submission starts
    os.chdir(Path(job_path).parent)
    devnull = os.open(os.devnull, os.O_RDWR)
    err = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.dup2(err, 2)
    if threads > 0:
        os.environ["GRADER_THREADS"] = str(threads)
    code = main(job_path)
    sys.stdout.flush()
    os._exit(code)


def become_subreaper() -> bool:
    """Adopt every orphaned descendant (Linux PR_SET_CHILD_SUBREAPER), so none escapes `kill_strays`."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):  # not Linux
        return False


def kill_strays(workers: set[int]) -> int:
    """SIGKILL every child of this process that is not a running worker; how many were killed.

    With `become_subreaper()`, a process that a submission started (even after `setsid()` or a double
    fork) becomes this process's child once its parent worker ends, and is killed here.
    """
    import signal

    me, killed = os.getpid(), 0
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0
    for entry in entries:
        if not entry.isdigit() or int(entry) in workers:
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == me:
            try:
                os.kill(int(entry), signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    return killed


def serve(preload: tuple[str, ...] = ()) -> int:
    """Fork server loop (see the module docstring); returns when stdin closes.

    `preload`: modules imported once here (the course's exercise specs), so that every worker uses the
    copy loaded when grading started, whatever happens to the files afterwards.
    """
    import importlib
    import select
    import time

    for name in preload:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a module not importable here is imported by the worker from its path
            pass
    become_subreaper()
    stdin, stdout = sys.stdin.buffer.raw, sys.stdout
    buffer = b""
    workers: set[int] = set()
    while True:
        readable, _, _ = select.select([stdin], [], [], 0.02)
        if readable:
            data = os.read(stdin.fileno(), 65536)
            if not data:  # the grader is done: nothing this server started may outlive it
                while kill_strays(set()):
                    _reap(workers, stdout)
                    time.sleep(0.01)
                return 0
            buffer += data
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                job, err, threads = line.decode().rsplit(" ", 2)
                pid = os.fork()
                if pid == 0:
                    try:
                        child(job, err, int(threads))
                    finally:
                        os._exit(70)
                workers.add(pid)
                stdout.write(f"pid {pid}\n")
                stdout.flush()
        if _reap(workers, stdout):
            kill_strays(workers)


def _reap(workers: set[int], stdout: Any) -> bool:
    """Collect ended children without waiting; report ended workers on `stdout`. True if anything ended."""
    ended = False
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return ended
        if pid == 0:
            return ended
        ended = True
        if pid in workers:
            workers.discard(pid)
            stdout.write(f"exit {pid} {os.waitstatus_to_exitcode(status)}\n")
            stdout.flush()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        sys.exit(serve(tuple(sys.argv[2:])))
    if len(sys.argv) != 2:
        print("usage: python -m utils.grading.worker JOB.pkl | --serve [MODULE ...]", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
