"""Grade submitted notebooks: extract code, run it in worker processes, judge outputs here."""

from __future__ import annotations

import io
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from utils import env
from utils.grading.mistakes import PRELUDE, likely_cause
from utils.grading.source import NotebookError, extract, forbidden_used, read_notebook, syntax_error_for
from utils.grading.spec import Case, CheckFailed, Exercise, NotGradable
from utils.grading.worker import UNSUPPORTED, clean_message, rebuild_tensor_with_grad

REPO_ROOT = env.REPO_ROOT

POLL_S = 0.02
#: `Case.make` may seed torch's global RNG: judging in several threads at once must not interleave.
_JUDGE_LOCK = threading.Lock()


class GradingError(Exception):
    """The grader itself cannot grade this path (bad path, not a notebook, no known exercises)."""


@dataclass
class ExerciseResult:
    """Points and feedback for one exercise of one notebook."""

    id: str
    points: float
    max_points: float
    feedback: str
    case_messages: list[str] = field(default_factory=list)


@dataclass
class NotebookResult:
    """All exercise results of one submitted notebook."""

    path: str
    exercises: list[ExerciseResult]

    @property
    def total(self) -> float:
        """Sum of points, rounded to 2 decimals."""
        return round(sum(e.points for e in self.exercises), 2)

    @property
    def max_total(self) -> float:
        """Sum of maximum points."""
        return round(sum(e.max_points for e in self.exercises), 2)

    def to_json(self) -> dict[str, Any]:
        """The `--json` record of this notebook."""
        return {
            "exercises": {
                e.id: {"points": e.points, "max": e.max_points, "feedback": e.feedback} for e in self.exercises
            },
            "total": self.total,
            "max_total": self.max_total,
        }


def _zero(ex: Exercise, feedback: str) -> ExerciseResult:
    return ExerciseResult(ex.id, 0.0, float(ex.points), feedback)


@dataclass(frozen=True)
class _Task:
    """Work for a worker: call `func` on the arguments of `runs`; `code` is the task's own definitions
    (a known mistake) run in a namespace of their own, None for the submission's."""

    key: str
    func: str
    in_place: bool
    runs: tuple[tuple[Case, int], ...]
    code: tuple[tuple[str, str], ...] | None = None
    timeout: float | None = None   # the exercise's own (longer) timeout, if it has one

    def limit(self, timeout: float) -> float:
        """Seconds this task may run: the grader's limit, or the exercise's own when that is longer."""
        return max(timeout, self.timeout or 0)


def _runs(ex: Exercise) -> tuple[tuple[Case, int], ...]:
    return tuple((case, seed) for case in ex.cases for seed in case.seeds)


@dataclass
class _Verdict:
    """One run judged: its message (None if it passed) and, when its output was judged wrong, `(output,)`."""

    label: str
    message: str | None
    wrong: tuple[Any] | None = None


def _verdicts(ex: Exercise, outputs: list[dict[str, Any]] | str) -> list[_Verdict] | str:
    """Verify outputs in this process; a message for the whole exercise when there are no outputs to verify."""
    runs = _runs(ex)
    if isinstance(outputs, str) or len(outputs) != len(runs):
        return outputs if isinstance(outputs, str) else "the grading process returned an unexpected number of results"
    verdicts: list[_Verdict] = []
    for (case, seed), out in zip(runs, outputs):
        label, judged = f"case '{case.name}' (seed {seed})", False
        try:
            if not isinstance(out, dict) or "ok" not in out:
                raise CheckFailed("the grading process returned an unreadable result")
            if not out["ok"]:
                raise CheckFailed(str(out.get("error", "error")))
            value = out.get("value")
            if isinstance(value, dict) and set(value) == {UNSUPPORTED}:
                raise CheckFailed(f"returned an unsupported type ({value[UNSUPPORTED]})")
            judged = True
            case.verify(case.make(seed), value)
            verdicts.append(_Verdict(label, None))
        except CheckFailed as exc:
            verdicts.append(_Verdict(label, clean_message(str(exc)), (value,) if judged else None))
        except Exception as exc:  # noqa: BLE001 - verify choked on a malformed output
            verdicts.append(_Verdict(label, f"your output could not be checked ({type(exc).__name__}: {clean_message(str(exc))})"))
    return verdicts


def _mistake_tasks(ex: Exercise, verdicts: list[_Verdict] | str) -> list[_Task]:
    """One task per known mistake of `ex`, on the runs whose output was judged wrong (none if there are none)."""
    if isinstance(verdicts, str) or not ex.mistakes:
        return []
    failed = tuple(run for run, v in zip(_runs(ex), verdicts) if v.wrong is not None and run[0].name_mistakes)
    if not failed:
        return []
    return [_Task(f"{ex.id} mistake {k}", ex.func, ex.in_place, failed, (("<prelude>", PRELUDE), (f"<mistake {k}>", m.source)),
                  ex.timeout) for k, m in enumerate(ex.mistakes)]


def _judge(ex: Exercise, verdicts: list[_Verdict] | str, mistake_outcome: dict[str, Any]) -> ExerciseResult:
    """Points and feedback; a failure whose output matches a known mistake's (same run) names it as the likely cause."""
    if isinstance(verdicts, str):
        return _zero(ex, verdicts)
    messages: list[str] = []
    j = 0  # index among the runs judged wrong: the mistake tasks ran on those only
    for (case, seed), v in zip(_runs(ex), verdicts):
        if v.message is None:
            continue
        message = f"{v.label}: {v.message}"
        if v.wrong is not None and case.name_mistakes:
            outputs = []
            for k in range(len(ex.mistakes)):
                got = mistake_outcome.get(f"{ex.id} mistake {k}")
                out = got[j] if isinstance(got, list) and j < len(got) else None
                outputs.append((out["value"],) if isinstance(out, dict) and out.get("ok") else None)
            j += 1
            if cause := likely_cause(ex, case, seed, v.wrong[0], outputs):
                message += f"; likely cause: {cause}"
        messages.append(message)
    passed = len(verdicts) - len(messages)
    points = round(float(ex.points) * passed / len(verdicts), 2)
    if passed == len(verdicts):
        feedback = f"all {len(verdicts)} cases passed"
    else:
        feedback = f"{passed}/{len(verdicts)} cases passed; first failure: {messages[0]}"
    return ExerciseResult(ex.id, points, float(ex.points), feedback, messages)


class _ForkServer:
    """One `python -m utils.grading.worker --serve` per grader process: forks workers with torch (and the
    exercise specs of the first job) already imported; it kills whatever a worker leaves running."""

    def __init__(self, preload: tuple[str, ...] = ()) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "utils.grading.worker", "--serve", *preload],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_worker_env(),
        )
        self.lock = threading.Lock()
        self.changed = threading.Condition()
        self.pids: list[int] = []
        self.exits: dict[int, int] = {}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for raw in self.proc.stdout:
            kind, pid, *rest = raw.decode().split()
            with self.changed:
                if kind == "pid":
                    self.pids.append(int(pid))
                else:
                    self.exits[int(pid)] = int(rest[0])
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def start(self, job: Path, stderr: Path, threads: int) -> int:
        """Fork a worker for `job`; its pid."""
        with self.lock:
            self.proc.stdin.write(f"{job} {stderr} {threads}\n".encode())
            self.proc.stdin.flush()
            with self.changed:
                if not self.changed.wait_for(lambda: self.pids or not self.alive(), timeout=30):
                    raise GradingError("the grader's fork server did not answer")
                if not self.pids:
                    raise GradingError("the grader's fork server stopped")
                return self.pids.pop(0)

    def exit_status(self, pid: int, wait: float = 0.0) -> int | None:
        """The worker's exit status once it has ended (waiting up to `wait` s), else None."""
        with self.changed:
            self.changed.wait_for(lambda: pid in self.exits or not self.alive(), timeout=wait)
            return self.exits.get(pid)


#: Why workers of this process ran without the filesystem sandbox (utils.grading.sandbox), if they did.
SANDBOX_PROBLEMS: set[str] = set()

_SERVER_LOCK = threading.Lock()
_SERVER: list[_ForkServer] = []


def _fork_server(preload: tuple[str, ...] = ()) -> _ForkServer | None:
    """The shared fork server (started on first use), or None where fork is unavailable."""
    if not hasattr(os, "fork") or env.grader_fork_disabled():
        return None
    with _SERVER_LOCK:
        if not _SERVER or not _SERVER[0].alive():
            _SERVER[:] = [_ForkServer(preload)]
        return _SERVER[0]


def _worker_env(threads: int = 0) -> dict[str, str]:
    env = dict(os.environ, GRADER_THREADS=str(threads))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


class _Worker:
    """A worker process: forked by the fork server, or `python -m utils.grading.worker JOB` without one."""

    def __init__(self, job: Path, stderr: Path, threads: int, preload: tuple[str, ...] = ()) -> None:
        self.server = _fork_server(preload)
        self.popen = None
        if self.server is not None:
            self.pid = self.server.start(job, stderr, threads)
        else:
            with open(stderr, "wb") as err:
                self.popen = subprocess.Popen(
                    [sys.executable, "-m", "utils.grading.worker", str(job)],
                    cwd=job.parent, env=_worker_env(threads), stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
                )
            self.pid = self.popen.pid

    def poll(self) -> int | None:
        """The exit status, or None while running."""
        if self.popen is not None:
            return self.popen.poll()
        status = self.server.exit_status(self.pid)
        return -1 if status is None and not self.server.alive() else status

    def stop(self) -> int | None:
        """Kill the worker and everything in its process group if still running; its exit status."""
        if self.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.popen is not None:
            self.popen.kill()
            return self.popen.wait()
        return self.server.exit_status(self.pid, wait=10)


class _JobPickler(pickle.Pickler):
    """Pickles a job's arguments keeping each tensor's `.grad` (cases may hand a function stale gradients)."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, torch.Tensor) and obj.grad is not None:
            return rebuild_tensor_with_grad, (obj.detach().clone(), obj.grad.detach().clone(), obj.requires_grad,
                                              isinstance(obj, torch.nn.Parameter))
        return NotImplemented


def _dumps(payload: Any) -> bytes:
    buffer = io.BytesIO()
    _JobPickler(buffer).dump(payload)
    return buffer.getvalue()


def _spec_modules(tasks: list[_Task]) -> tuple[list[str], list[str]]:
    """The spec modules the job's cases refer to (blocked in the worker once loaded), and the sys.path
    entries from which the worker can import them."""
    names, roots = [], []
    for task in tasks:
        for case, _ in task.runs:
            for fn in (case.make, case.run):
                module = sys.modules.get(getattr(fn, "__module__", None) or "")
                if module is None or not getattr(module, "__file__", None):
                    continue
                if module.__name__ not in names:
                    names.append(module.__name__)
                root = Path(module.__file__).resolve().parent
                for _ in range(module.__name__.count(".")):
                    root = root.parent
                if str(root) not in roots:
                    roots.append(str(root))
    return names, roots


def _load(path: Path) -> list[dict[str, Any]] | str:
    try:
        data = torch.load(path, weights_only=True)
    except Exception as exc:  # noqa: BLE001
        return f"could not read your function's outputs ({type(exc).__name__}); return tensors, numbers, strings or lists/tuples/dicts of them"
    return data if isinstance(data, list) else "could not read your function's outputs"


def _run_workers(chunks: list, tasks: list[_Task], timeout: float, deadline: float, threads: int) -> dict[str, Any]:
    """Run tasks (after the submission's `chunks`) in as few worker processes as the timeouts allow;
    task key -> outputs or a failure message."""
    outcome: dict[str, Any] = {}
    pending = list(tasks)
    while pending:
        if time.monotonic() >= deadline:
            for task in pending:
                outcome[task.key] = "not graded: the notebook's time budget ran out (--notebook-timeout)"
            break
        plans, ready = [], []
        with _JUDGE_LOCK:  # Case.make may seed torch's global RNG
            for t in pending:
                try:
                    plans.append((t.func, t.in_place, [(case.run, case.make(seed)) for case, seed in t.runs], t.code))
                    ready.append(t)
                except NotGradable as exc:  # this machine lacks what the case needs: say so, grade the others
                    outcome[t.key] = f"not graded here: {clean_message(str(exc))}"
        pending = ready
        if not pending:
            break
        with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
            out = Path(tmp) / "out"
            out.mkdir()
            job = Path(tmp) / "job.pkl"
            with open(job, "wb") as f:
                modules, roots = _spec_modules(pending)
                pickle.dump({"paths": roots, "modules": modules, "out": str(out),
                             "payload": _dumps({"plans": plans, "chunks": chunks})}, f)
            stderr = Path(tmp) / "stderr.txt"
            proc = _Worker(job, stderr, threads, tuple(modules))
            current, started, reason = -1, time.monotonic(), None
            try:
                while True:
                    rc = proc.poll()
                    if current == -1 and (out / "loaded").exists():
                        current, started = 0, time.monotonic()
                    while 0 <= current < len(pending) and (out / f"{current}.pt").exists():
                        outcome[pending[current].key] = _load(out / f"{current}.pt")
                        current, started = current + 1, time.monotonic()
                    if current == len(pending) or rc is not None:
                        break
                    now = time.monotonic()
                    limit = pending[current].limit(timeout) if current >= 0 else timeout
                    if now - started > limit:
                        reason = "timeout"
                        break
                    if now >= deadline:
                        reason = "budget"
                        break
                    time.sleep(POLL_S)
            finally:
                rc = proc.stop()
            sandbox = out / "sandbox"
            if sandbox.exists() and (status := sandbox.read_text(errors="replace").strip()) != "ok":
                SANDBOX_PROBLEMS.add(clean_message(status))
            lines = stderr.read_text(errors="replace").strip().splitlines() if stderr.exists() else []
            last_error = f"; last error line: {clean_message(lines[-1])}" if lines else ""
        if current == len(pending):
            break
        if current == -1:  # died or hung while loading the submission: retrying would do the same
            if reason == "timeout":
                msg = f"timed out: loading your notebook's definitions took more than {timeout:g} s"
            elif reason == "budget":
                msg = "not graded: the notebook's time budget ran out (--notebook-timeout)"
            else:
                msg = f"the grading process stopped while loading your definitions (exit code {rc}){last_error}"
            for task in pending:
                outcome[task.key] = msg
            break
        key = pending[current].key
        if reason == "timeout":
            outcome[key] = f"timed out: your function ran longer than {pending[current].limit(timeout):g} s (infinite loop?)"
        elif reason == "budget":
            outcome[key] = "not graded: the notebook's time budget ran out (--notebook-timeout)"
        else:
            outcome[key] = f"the grading process stopped while running your function (exit code {rc}); did it call os._exit or crash?"
        pending = pending[current + 1 :]
    return outcome


def grade_notebook(
    path: str | Path,
    *,
    timeout: float = 60.0,
    notebook_timeout: float = 600.0,
    exercises: list[Exercise],
    threads: int = 0,
) -> NotebookResult:
    """Grade one notebook (never modified) on `exercises`; raises GradingError if it cannot be graded at all."""
    path = Path(path)
    if not path.is_file():
        raise GradingError(f"{path}: no such file")
    try:
        notebook = read_notebook(path)
    except NotebookError as exc:
        raise GradingError(str(exc)) from None
    if not exercises:
        raise GradingError(f"{path}: no known exercises for this notebook name (see utils/exercises/)")
    deadline = time.monotonic() + notebook_timeout
    sub = extract(notebook)
    results: dict[str, ExerciseResult] = {}
    to_run: list[Exercise] = []
    for ex in exercises:
        if ex.func not in sub.defs:
            msg = syntax_error_for(sub, ex.func) or f"no function named {ex.func} found in the notebook"
            results[ex.id] = _zero(ex, msg)
        elif bad := forbidden_used(sub, ex.func, ex.forbidden):
            results[ex.id] = _zero(ex, f"uses {bad}, which this exercise forbids; write it from scratch")
        else:
            to_run.append(ex)
    if to_run:
        outcome = _run_workers(sub.chunks, [_Task(ex.id, ex.func, ex.in_place, _runs(ex), timeout=ex.timeout)
                                            for ex in to_run], timeout, deadline, threads)
        with _JUDGE_LOCK:
            verdicts = {ex.id: _verdicts(ex, outcome.get(ex.id, "not graded (internal error)")) for ex in to_run}
        # The known mistakes run on the failed cases in workers of their own (no submission code loaded),
        # with the same per-exercise timeout, in what is left of the notebook's time budget.
        tasks = [task for ex in to_run for task in _mistake_tasks(ex, verdicts[ex.id])]
        mistakes = _run_workers([], tasks, timeout, deadline, threads) if tasks else {}
        for ex in to_run:
            with _JUDGE_LOCK:
                results[ex.id] = _judge(ex, verdicts[ex.id], mistakes)
    return NotebookResult(str(path), [results[ex.id] for ex in exercises])


def find_notebooks(path: str | Path) -> list[Path]:
    """The notebook itself, or every .ipynb under a folder (sorted, skipping checkpoints)."""
    path = Path(path)
    if path.is_dir():
        return sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if path.is_file():
        return [path]
    raise GradingError(f"{path}: no such file or folder")


def course_fingerprint(root: Path | None = None) -> dict[str, str]:
    """SHA-256 of every file of the course package and the solution notebooks, by path relative to `root`
    (default: the checkout the grader runs from)."""
    import hashlib

    root = REPO_ROOT if root is None else root
    files = [p for folder in ("utils", "solutions") for p in sorted((root / folder).rglob("*"))
             if p.is_file() and "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts]
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def grade_many(
    notebooks: list[Path],
    exercises_for: Callable[[Path], list[Exercise]],
    *,
    timeout: float = 60.0,
    notebook_timeout: float = 600.0,
    jobs: int = 1,
) -> list[NotebookResult | GradingError]:
    """Grade notebooks, `jobs` at a time, each on `exercises_for(path)`; a GradingError stands in for each one
    that could not be graded."""
    jobs = max(1, jobs)
    threads = max(1, (os.cpu_count() or 1) // jobs)
    fingerprint = course_fingerprint()
    tampered: list[str] = []

    def one(nb: Path) -> NotebookResult | GradingError:
        if tampered:
            return GradingError(f"{nb}: not graded: the course files changed while grading ({', '.join(tampered[:3])})")
        try:
            result: NotebookResult | GradingError = grade_notebook(
                nb, exercises=exercises_for(nb), timeout=timeout, notebook_timeout=notebook_timeout, threads=threads)
        except GradingError as exc:
            result = exc
        if changed := _changes(fingerprint, course_fingerprint()):
            tampered[:] = changed
            return GradingError(f"{nb}: the course files changed while this notebook was graded "
                                f"({', '.join(changed[:3])}); its grades are discarded. Restore the files "
                                "(git checkout -- utils solutions) and grade again")
        return result

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, notebooks))
