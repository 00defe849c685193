"""The grading worker: runs a submission's functions in a separate process.

Usage (by the runner only): `python -m utils.grading.worker JOB.pkl` runs one job;
`python -m utils.grading.worker --serve` is a fork server: it imports torch once, then
forks a fresh worker per job line `JOB STDERR THREADS` read on stdin, answering `pid N`
and, when a worker ends, `exit N STATUS` on stdout (one process, one thread: safe to fork).

The job (a pickle written by the grader) holds the submission's kept top-level code (imports,
function and class definitions) and, per exercise, the function name and every case's
arguments, built by the grader. The worker blocks imports of the checking code, executes
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
    plans = job["plans"]  # [(function name, [(run, args), ...]), ...], arguments built by the grader
    save = torch.save  # keep our own references before any student code runs
    block_grading_imports(tuple(job["modules"]))

    namespace: dict[str, Any] = {"__name__": "__student__", "__builtins__": builtins}
    load_errors: list[str] = []
    for cell, source in job["chunks"]:
        try:
            exec(compile(source, f"<notebook cell {cell}>", "exec"), namespace)
        except BaseException as exc:  # noqa: BLE001 - anything a submission raises is data here
            load_errors.append(f"cell {cell}: {describe_error(exc)}")
    (out / "loaded").write_text("\n".join(load_errors))

    for k, (func, runs) in enumerate(plans):
        fn = namespace.get(func)
        results: list[dict[str, Any]] = []
        for run, args in runs:
            if not callable(fn):
                results.append({"ok": False, "error": f"no function named {func} after running your definitions"})
                continue
            try:
                value = run(fn, args) if run is not None else fn(*args)
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


def serve() -> int:
    """Fork server loop (see the module docstring); returns when stdin closes."""
    import select

    stdin, stdout = sys.stdin.buffer.raw, sys.stdout
    buffer = b""
    while True:
        readable, _, _ = select.select([stdin], [], [], 0.02)
        if readable:
            data = os.read(stdin.fileno(), 65536)
            if not data:
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
                stdout.write(f"pid {pid}\n")
                stdout.flush()
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            stdout.write(f"exit {pid} {os.waitstatus_to_exitcode(status)}\n")
            stdout.flush()


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        sys.exit(serve())
    if len(sys.argv) != 2:
        print("usage: python -m utils.grading.worker JOB.pkl | --serve", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
