"""The sweep engine: a grid of cells, one job per cell, a backend that runs the jobs, and
the store that records each finished run exactly once.

Guarantees of :func:`run_sweep`:

- a cell whose configuration key is already in the store is never run again;
- a run directory left without a result (an interrupted run) is wiped and redone; one whose
  job finished but whose row was not written yet (the parent died in between) is recorded
  from its ``sweep_result.json`` without training again;
- only the parent process writes the store, one transaction per finished run;
- worker processes exit within a second or two when the parent dies (even by kill -9), so
  an orphan never writes into a run directory a rerun is using; a lock file refuses a second
  sweep writing into the same directory at the same time.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import pickle
import platform
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_futures
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from anchorlab.sweeps.store import (
    STORE_FILENAME,
    RunRecord,
    SweepError,
    SweepStore,
    canonical_json,
    config_key,
)

logger = logging.getLogger(__name__)

RESULT_FILENAME = "sweep_result.json"
RunFunction = Callable[[dict, Path], dict]
"""``run(config, run_dir) -> metrics``: a module-level function (it must pickle by name)."""


# -- what to run ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """The work of one cell: a JSON configuration and the function that runs it.

    ``config`` must be the *fully resolved* configuration (every default filled in): its
    hash, together with ``kind``, is the run's key in the store, so two cells with the same
    configuration are the same run. Leave settings that do not change the result (thread
    counts, log levels) out of it. ``run(config, run_dir)`` returns a JSON-serializable dict
    of metrics (a ``solution`` string, if any, gets its own store column) and may write
    files into ``run_dir``, which is empty when it starts.
    """

    config: Mapping[str, Any]
    run: RunFunction
    label: str = ""
    """Short human-readable name; the run directory is ``runs/<label>-<key prefix>``."""
    kind: str = ""
    """Names the experiment in the key; defaults to ``module.function`` of ``run``."""
    gpus: float = 0.0
    """GPUs one run needs (the ray backend reserves them)."""

    def __post_init__(self) -> None:
        if not callable(self.run):
            raise SweepError(f"Job.run must be a function, got {self.run!r}")
        name = f"{self.run.__module__}.{getattr(self.run, '__qualname__', '')}"
        if "<" in name:
            raise SweepError(
                f"Job.run must be a module-level function (it is sent to worker processes "
                f"by name), got {name}"
            )
        if not self.kind:
            object.__setattr__(self, "kind", name)
        object.__setattr__(self, "config", json.loads(canonical_json(dict(self.config))))

    @property
    def key(self) -> str:
        return config_key(self.config, self.kind)


Cell = dict[str, Any]


@dataclass
class Sweep:
    """A named grid over ``axes`` (name -> values, in order) and how to turn a cell into a
    :class:`Job`. ``spec`` is any JSON description kept with the grid in the store (for
    redrawing figures later without the code that built the sweep)."""

    name: str
    axes: Mapping[str, Sequence[Any]]
    make_job: Callable[[Cell], Job]
    spec: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9._-]+", self.name):
            raise SweepError(f"sweep name {self.name!r}: use letters, digits, '.', '_', '-'")
        for axis, values in self.axes.items():
            if len(values) == 0:
                raise SweepError(f"axis {axis!r} has no values")
            if len({canonical_json(v) for v in values}) != len(values):
                raise SweepError(f"axis {axis!r} repeats a value: {list(values)}")

    def cells(self) -> list[Cell]:
        """Every combination of axis values, the last axis varying fastest."""
        names = list(self.axes)
        return [
            dict(zip(names, combo, strict=True)) for combo in itertools.product(*self.axes.values())
        ]

    def jobs(self) -> list[tuple[Cell, Job]]:
        """(cell, job) for every cell; a bad cell raises the error of ``make_job``."""
        return [(cell, self.make_job(dict(cell))) for cell in self.cells()]


# -- progress and results ---------------------------------------------------------------------


@dataclass
class SweepProgress:
    """Where a running sweep stands; passed to the ``on_progress`` callback."""

    total: int
    done: int
    """Cells with a stored result (reused ones included)."""
    running: int
    left: int
    """Cells not started yet."""
    failed: int
    reused: int
    eta_seconds: float | None
    last: RunRecord | None = None
    """The run that just finished (None on other updates)."""


@dataclass
class SweepResult:
    cells: list[Cell]
    records: list[RunRecord | None]
    """Aligned with ``cells``; None where the cell failed."""
    trained: int
    reused: int
    recovered: int
    failures: list[tuple[Cell, str]]
    seconds: float
    out_dir: Path

    @property
    def complete(self) -> bool:
        return not self.failures and all(r is not None for r in self.records)


# -- the work a worker does -------------------------------------------------------------------


@dataclass
class _Task:
    key: str
    job: Job
    run_dir: str
    threads: int | None


@dataclass
class _Outcome:
    key: str
    metrics: dict
    seconds: float
    cpu_seconds: float
    threads: int | None
    host: str
    versions: dict
    files: dict[str, bytes] | None = None


def _versions() -> dict[str, str]:
    import anchorlab

    found = {"anchorlab": anchorlab.__version__, "python": platform.python_version()}
    torch = sys.modules.get("torch")
    if torch is not None:
        found["torch"] = torch.__version__
    return found


def _execute(task: _Task) -> _Outcome:
    """Run one job into an emptied run directory; write ``sweep_result.json`` last."""
    run_dir = Path(task.run_dir)
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)

    threads = task.threads
    torch = sys.modules.get("torch")
    if threads and torch is not None:
        torch.set_num_threads(threads)
    started, cpu_started = time.perf_counter(), time.process_time()
    metrics = task.job.run(dict(task.job.config), run_dir)
    if not isinstance(metrics, dict):
        raise TypeError(f"{task.job.kind} returned {type(metrics).__name__}, not a metrics dict")
    json.dumps(metrics, allow_nan=True)
    torch = sys.modules.get("torch")
    if torch is not None:
        threads = torch.get_num_threads()
    outcome = _Outcome(
        key=task.key,
        metrics=metrics,
        seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - cpu_started,
        threads=threads,
        host=socket.gethostname(),
        versions=_versions(),
    )
    _write_result(run_dir, task, outcome)
    return outcome


def _write_result(run_dir: Path, task: _Task, outcome: _Outcome) -> None:
    data = {
        "key": task.key,
        "kind": task.job.kind,
        "metrics": outcome.metrics,
        "seconds": outcome.seconds,
        "cpu_seconds": outcome.cpu_seconds,
        "threads": outcome.threads,
        "host": outcome.host,
        "versions": outcome.versions,
    }
    tmp = run_dir / (RESULT_FILENAME + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, run_dir / RESULT_FILENAME)


def _init_worker(threads: int | None, parent_pid: int, gpus=(), counter=None) -> None:
    """Pool worker start-up: ignore Ctrl-C (the parent handles it), take a GPU of its own
    (when given), pin torch threads, and exit as soon as the parent is gone."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if gpus and counter is not None:
        with counter.get_lock():
            slot = counter.value
            counter.value += 1
        os.environ["CUDA_VISIBLE_DEVICES"] = gpus[slot % len(gpus)]
    if threads:
        os.environ["OMP_NUM_THREADS"] = str(threads)
        import torch

        torch.set_num_threads(threads)

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(3)
            time.sleep(0.5)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


# -- backends ---------------------------------------------------------------------------------


class Backend(Protocol):
    """Runs tasks somewhere and hands their outcomes back to the parent."""

    name: str
    capacity: int
    """How many tasks to keep in flight."""
    threads: int | None

    def submit(self, task: _Task) -> Any: ...

    def wait(self, handles: list[Any], timeout: float) -> list[Any]:
        """The handles among ``handles`` that finished (possibly none after ``timeout``)."""

    def result(self, handle: Any) -> _Outcome:
        """The outcome of a finished handle; raises the job's exception."""

    def close(self, cancel: bool) -> None: ...


class LocalBackend:
    """Worker processes on this machine (``spawn``ed), ``workers`` x ``threads`` torch
    threads. Default: one worker per core, one thread each. With ``gpus`` (device ids as
    ``CUDA_VISIBLE_DEVICES`` names them), worker i sees only GPU ``gpus[i % len(gpus)]``."""

    name = "local"

    def __init__(
        self,
        workers: int | None = None,
        threads: int | None = None,
        gpus: Sequence[str] = (),
    ):
        cores = os.cpu_count() or 1
        self.capacity = max(1, workers or len(gpus) or cores)
        self.threads = threads or max(1, cores // self.capacity)
        self.gpus = tuple(gpus)
        self._pool: ProcessPoolExecutor | None = None

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            import multiprocessing

            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                max_workers=self.capacity,
                mp_context=context,
                initializer=_init_worker,
                initargs=(self.threads, os.getpid(), self.gpus, context.Value("i", 0)),
            )
        return self._pool

    def submit(self, task: _Task) -> Future:
        try:
            return self._ensure_pool().submit(_execute, task)
        except BrokenProcessPool:
            self.restart()
            return self._ensure_pool().submit(_execute, task)

    def wait(self, handles: list[Future], timeout: float) -> list[Future]:
        done, _ = wait_futures(handles, timeout=timeout, return_when=FIRST_COMPLETED)
        return list(done)

    def result(self, handle: Future) -> _Outcome:
        return handle.result()

    def restart(self) -> None:
        """Replace a broken pool (a worker died) by a fresh one."""
        self.close(cancel=True)

    def close(self, cancel: bool) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if cancel:
            processes = list(getattr(pool, "_processes", {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                if process.is_alive():
                    process.kill()
            for process in processes:
                process.join(timeout=5)
        else:
            pool.shutdown(wait=True)


class InlineBackend:
    """Runs each job in the calling process, one at a time: for debugging (breakpoints and
    tracebacks work) and for quick tests. An interruption here interrupts the job too."""

    name = "inline"
    capacity = 1

    def __init__(self, threads: int | None = None):
        self.threads = threads

    def submit(self, task: _Task) -> Future:
        handle: Future = Future()
        try:
            handle.set_result(_execute(task))
        except Exception as error:
            handle.set_exception(error)
        return handle

    def wait(self, handles: list[Future], timeout: float) -> list[Future]:
        return list(handles)

    def result(self, handle: Future) -> _Outcome:
        return handle.result()

    def close(self, cancel: bool) -> None:
        pass


def _ray_execute(task: _Task) -> _Outcome:
    """Ray task: run into a scratch directory and ship the run directory's files back."""
    with tempfile.TemporaryDirectory(prefix="anchorlab-run-") as scratch:
        run_dir = Path(scratch) / "run"
        outcome = _execute(_Task(task.key, task.job, str(run_dir), task.threads))
        outcome.files = {
            str(path.relative_to(run_dir)): path.read_bytes()
            for path in sorted(run_dir.rglob("*"))
            if path.is_file()
        }
    return outcome


class RayBackend:
    """Ray tasks on a cluster (``address``: ``auto`` or ``HOST:PORT``) or, without an
    address, on a local Ray instance started for the sweep. Results come back to the driver,
    which writes the run directories and the store; the cluster's nodes need anchorlab
    installed in the same Python environment layout."""

    name = "ray"

    def __init__(
        self, address: str | None = None, workers: int | None = None, threads: int | None = None
    ):
        try:
            import ray
        except ImportError:
            raise SweepError(
                "the ray backend needs Ray: pip install 'ray>=2.9' (the extra anchorlab[ray])"
            ) from None
        self._ray = ray
        self.threads = threads or 1
        self._started_here = False
        if not ray.is_initialized():
            options: dict[str, Any] = {"include_dashboard": False, "logging_level": "WARNING"}
            if address:
                options["address"] = address
            else:
                cores = os.cpu_count() or 1
                options["num_cpus"] = (workers or cores) * self.threads
            try:
                ray.init(**options)
            except (ConnectionError, RuntimeError, ValueError) as error:
                target = address or "a local instance"
                raise SweepError(f"cannot start Ray on {target}: {error}") from None
            self._started_here = True
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.capacity = max(1, workers or cpus // self.threads)
        self._remote = ray.remote(_ray_execute)

    def submit(self, task: _Task) -> Any:
        options: dict[str, Any] = {"num_cpus": self.threads, "max_retries": 1}
        if task.job.gpus:
            options["num_gpus"] = task.job.gpus
        return self._remote.options(**options).remote(task)

    def wait(self, handles: list[Any], timeout: float) -> list[Any]:
        done, _ = self._ray.wait(handles, num_returns=1, timeout=timeout)
        return list(done)

    def result(self, handle: Any) -> _Outcome:
        try:
            return self._ray.get(handle)
        except self._ray.exceptions.RayTaskError as error:
            raise error.as_instanceof_cause() from None

    def close(self, cancel: bool) -> None:
        if self._started_here and self._ray.is_initialized():
            self._ray.shutdown()


def make_backend(
    backend: str | Backend,
    workers: int | None = None,
    threads: int | None = None,
    ray_address: str | None = None,
    gpus: Sequence[str] = (),
) -> Backend:
    """``"local"``, ``"ray"`` or ``"inline"`` (or an object following :class:`Backend`)."""
    if not isinstance(backend, str):
        return backend
    if ray_address is not None and backend != "ray":
        raise SweepError(f"--ray-address needs --backend ray (the backend is {backend!r})")
    if backend == "local":
        return LocalBackend(workers, threads, gpus)
    if backend == "inline":
        return InlineBackend(threads)
    if backend == "ray":
        return RayBackend(ray_address, workers, threads)
    raise SweepError(f"unknown backend {backend!r}; choose local, ray or inline")


def visible_gpus() -> tuple[str, ...]:
    """CUDA device ids this process may use (as ``CUDA_VISIBLE_DEVICES`` names them)."""
    import torch

    count = torch.cuda.device_count()
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return tuple(d.strip() for d in listed.split(",") if d.strip())[:count]
    return tuple(str(i) for i in range(count))


# -- the driver -------------------------------------------------------------------------------


def run_directory(job: Job, key: str) -> str:
    """The run directory of a job, relative to the sweep directory."""
    label = re.sub(r"[^A-Za-z0-9._=-]+", "_", job.label).strip("_")[:80]
    return f"runs/{label + '-' if label else ''}{key[:12]}"


@contextmanager
def sweep_lock(out_dir: Path) -> Iterator[None]:
    """Hold ``.sweep.lock`` in ``out_dir``; refuses a second sweep writing there."""
    try:
        import fcntl
    except ImportError:  # no advisory locks on this platform: trust the user
        yield
        return
    path = out_dir / ".sweep.lock"
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise SweepError(
                f"another sweep (pid {holder}) is writing to {out_dir}; wait for it to end or "
                "choose another output directory"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_sweep(
    sweep: Sweep,
    out_dir: str | os.PathLike,
    backend: str | Backend = "local",
    *,
    workers: int | None = None,
    threads: int | None = None,
    ray_address: str | None = None,
    on_progress: Callable[[SweepProgress], None] | None = None,
) -> SweepResult:
    """Run every cell of ``sweep`` not yet in ``out_dir``'s store; returns all results.

    Builds every job first (so a bad cell fails before anything trains), records the grid
    in the store, recovers finished-but-unrecorded runs, then keeps ``capacity`` jobs in
    flight. A job that raises is logged and reported in ``failures`` (rerunning retries it);
    a worker that dies is replaced and its job retried once. Ctrl-C stops the workers and
    re-raises KeyboardInterrupt; everything recorded so far stays.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jobs = sweep.jobs()
    keys = [job.key for _, job in jobs]
    started = time.perf_counter()
    with sweep_lock(out), SweepStore(out / STORE_FILENAME) as store:
        store.save_grid(
            sweep.name,
            dict(sweep.spec) | {"axes": {k: list(v) for k, v in sweep.axes.items()}},
            [{"cell": cell, "key": key} for (cell, _), key in zip(jobs, keys, strict=True)],
        )
        stored = store.keys()
        recovered = _recover(store, out, jobs, keys, stored)
        stored |= recovered
        reused = sum(1 for key in set(keys) if key in stored) - len(recovered)

        pending: dict[str, tuple[Cell, Job]] = {}
        for (cell, job), key in zip(jobs, keys, strict=True):
            if key not in stored and key not in pending:
                pending[key] = (cell, job)
        total = len(set(keys))
        logger.info(
            "sweep %s: %d cells, %d stored, %d to run, in %s",
            sweep.name,
            total,
            total - len(pending),
            len(pending),
            out,
        )

        failures: list[tuple[Cell, str]] = []
        trained = 0
        if pending:
            gpus: tuple[str, ...] = ()
            if backend == "local" and any(job.gpus for _, job in pending.values()):
                gpus = visible_gpus()
                if not gpus:
                    raise SweepError("the runs ask for a GPU but none is visible; use a cpu preset")
            if workers is None and backend == "local":
                workers = min(len(gpus) or os.cpu_count() or 1, len(pending))
            runner = make_backend(backend, workers, threads, ray_address, gpus)
            try:
                trained, failures = _drive(store, out, runner, pending, total, on_progress)
            except BaseException:
                runner.close(cancel=True)
                raise
            runner.close(cancel=False)
        elif on_progress:
            on_progress(SweepProgress(total, total, 0, 0, 0, total, 0.0))

        by_key = {record.key: record for record in store.records(set(keys))}
    return SweepResult(
        cells=[cell for cell, _ in jobs],
        records=[by_key.get(key) for key in keys],
        trained=trained,
        reused=reused,
        recovered=len(recovered),
        failures=failures,
        seconds=time.perf_counter() - started,
        out_dir=out,
    )


def _recover(store: SweepStore, out: Path, jobs, keys, stored: set[str]) -> set[str]:
    """Record runs whose result file exists but whose row does not; wipe half-written ones."""
    recovered = set()
    for (cell, job), key in zip(jobs, keys, strict=True):
        if key in stored or key in recovered:
            continue
        run_dir = out / run_directory(job, key)
        result_file = run_dir / RESULT_FILENAME
        if result_file.is_file():
            try:
                data = json.loads(result_file.read_text())
            except (OSError, json.JSONDecodeError):
                data = {}
            if data.get("key") == key:
                store.add(_record_from(cell, job, key, out, run_dir, data, backend="recovered"))
                recovered.add(key)
                logger.info("recorded finished run %s (its row was missing)", run_dir)
                continue
        if run_dir.exists():
            logger.info("redoing half-written run %s", run_dir)
            shutil.rmtree(run_dir)
    return recovered


def _record_from(cell, job, key, out: Path, run_dir: Path, data: dict, backend: str) -> RunRecord:
    return RunRecord(
        key=key,
        kind=job.kind,
        cell=dict(cell),
        config=dict(job.config),
        metrics=data["metrics"],
        run_dir=str(run_dir.relative_to(out)),
        seconds=data["seconds"],
        cpu_seconds=data.get("cpu_seconds"),
        backend=backend,
        threads=data.get("threads"),
        host=data.get("host", ""),
        versions=data.get("versions", {}),
    )


def _drive(store, out: Path, runner, pending: dict, total: int, on_progress):
    queue = list(pending)
    in_flight: dict[Any, str] = {}
    crashes: dict[str, int] = {}
    failures: list[tuple[Cell, str]] = []
    trained = 0
    started = time.perf_counter()
    done = total - len(pending)
    reused = done

    def report(last: RunRecord | None = None) -> None:
        if on_progress is None:
            return
        remaining = len(queue) + len(in_flight)
        eta = None
        if trained:
            eta = (time.perf_counter() - started) / trained * remaining
        on_progress(
            SweepProgress(total, done, len(in_flight), len(queue), len(failures), reused, eta, last)
        )

    report()
    while queue or in_flight:
        while queue and len(in_flight) < runner.capacity:
            key = queue.pop(0)
            cell, job = pending[key]
            run_dir = out / run_directory(job, key)
            in_flight[runner.submit(_Task(key, job, str(run_dir), runner.threads))] = key
            report()
        for handle in runner.wait(list(in_flight), timeout=1.0):
            key = in_flight.pop(handle)
            cell, job = pending[key]
            run_dir = out / run_directory(job, key)
            try:
                outcome = runner.result(handle)
            except BrokenProcessPool:
                crashes[key] = crashes.get(key, 0) + 1
                if isinstance(runner, LocalBackend) and not in_flight:
                    runner.restart()
                if crashes[key] <= 1:
                    logger.warning("a worker died while running %s; retrying it", run_dir.name)
                    queue.insert(0, key)
                else:
                    failures.append((cell, "its worker process died twice (out of memory?)"))
                    logger.error("cell %s failed: its worker died twice", cell)
                report()
                continue
            except Exception as error:  # the job itself failed: report, keep going
                message = f"{type(error).__name__}: {error}"
                failures.append((cell, message))
                logger.error("cell %s failed: %s", cell, message)
                logger.debug("failure of %s", run_dir, exc_info=error)
                report()
                continue
            if outcome.files is not None:
                _write_files(run_dir, outcome.files)
            record = RunRecord(
                key=key,
                kind=job.kind,
                cell=dict(cell),
                config=dict(job.config),
                metrics=outcome.metrics,
                run_dir=str(run_dir.relative_to(out)),
                seconds=outcome.seconds,
                cpu_seconds=outcome.cpu_seconds,
                backend=runner.name,
                threads=outcome.threads,
                host=outcome.host,
                versions=outcome.versions,
            )
            store.add(record)
            trained += 1
            done += 1
            logger.debug("recorded %s in %.1fs", run_dir.name, outcome.seconds)
            report(record)
    return trained, failures


def _write_files(run_dir: Path, files: dict[str, bytes]) -> None:
    """Write a run directory shipped back by a remote worker, its result file last."""
    if run_dir.exists():
        shutil.rmtree(run_dir)
    for name in sorted(files, key=lambda n: n == RESULT_FILENAME):
        path = run_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[name])


def check_picklable(job: Job) -> None:
    """Raise SweepError if ``job`` cannot be sent to a worker process."""
    try:
        pickle.dumps(job)
    except Exception as error:
        raise SweepError(
            f"job {job.label or job.kind} cannot be sent to a worker: {error}"
        ) from None
