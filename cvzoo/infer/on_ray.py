"""``infer --engine ray``: the same classification job on a Ray cluster, for image sets beyond one machine.

Ray Data does the work, as people already run batch inference on it: the files are listed and
read by Ray (a folder, a glob, or any URI pyarrow's filesystems read: ``s3://``, ``gs://``...),
decoding and the weights' transforms run in Ray tasks, and the model in a pool of actors
(``map_batches``) that each load the weights once, one GPU each where the cluster has GPUs.
Results go to ``--out`` as sharded Parquet or JSON Lines files, a row per image with the local
JSON's fields (``image``, ``task``, ``indices``, ``labels``, ``probabilities``, ``error``); a bad
image is a row with its error, never a failed job. ``--resume`` skips the images already there.
Actors that die are restarted and their batches retried, so a lost worker loses no image.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cvzoo.catalog import Task
from cvzoo.errors import CvzooError, UsageError, first_line

if TYPE_CHECKING:
    from cvzoo.registry import BuiltModel

INSTALL_RAY = "the Ray engine needs Ray Data: pip install 'cvzoo[ray]'"
FORMATS = ("parquet", "jsonl")


@dataclass(frozen=True)
class Job:
    """What to run on the cluster: everything an actor needs to build its own model."""

    model: str
    weights: str
    top_k: int
    batch_size: int
    precision: str


@dataclass(frozen=True)
class Outcome:
    """What a run on Ray did."""

    out: str
    images: int  # in the source
    skipped: int  # already in --out (--resume)
    written: int  # rows written by this run
    failed: int  # of them, rows with an error
    workers: int  # model actors
    gpus: int  # of which on a GPU each


def run(
    job: Job,
    source: str,
    out: Path,
    output_format: str = "parquet",
    resume: bool = False,
    address: str | None = None,
    workers: int | None = None,
    on_download: Callable[[int, int | None], None] | None = None,
) -> Outcome:
    """Classify every image of ``source`` on Ray, writing a row per image under ``out``.

    On a local cluster (no ``address`` nor ``$RAY_ADDRESS``) the weights are fetched here first,
    once, rather than by every actor at the same time. A cluster this call started is shut
    down before it returns; one that was already running (``ray.init`` by the caller) is kept.

    Raises:
        CvzooError: without Ray installed, when the cluster can't be reached, or when the job
            fails (the reason in one line, Ray's own account in ``ray.log`` in the cache folder).
        UsageError: for a model that isn't a classifier, or a source with no images.
    """
    ray = _import_ray()
    built = _check_model(job)
    if output_format not in FORMATS:
        raise UsageError(f"--engine ray writes {' or '.join(FORMATS)}, not {output_format}")
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address is None and built.weights is not None and built.weights.weight_set is not None:
        from cvzoo.weights import fetch_weights

        fetch_weights(built.weights.weight_set, on_download)
    with _ray_talk_to_log() as log:
        started = _connect(ray, address)
        try:
            return _run(ray, job, source, out, output_format, resume, workers)
        except (CvzooError, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise CvzooError(f"the Ray job failed: {failure(exc)} (Ray's account: {log})") from None
        finally:
            if started:
                ray.shutdown()


def failure(exc: BaseException) -> str:
    """The reason behind a Ray error, in one line: cvzoo's own message when a worker raised one."""
    text = str(exc)
    ours: list[str] = re.findall(r"^cvzoo\.errors\.\w+: (.+)$", text, flags=re.MULTILINE)
    if ours:
        return ours[-1]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def _run(
    ray: Any,
    job: Job,
    source: str,
    out: Path,
    output_format: str,
    resume: bool,
    workers: int | None,
) -> Outcome:
    done = _done(out, output_format) if resume else set()
    paths, filesystem = _listing(source)
    todo = [p for p in paths if p not in done]
    gpus = int(ray.cluster_resources().get("GPU", 0))
    pool = workers or gpus or max(1, int(ray.cluster_resources().get("CPU", 1)) // 2)
    if todo:
        data = ray.data.read_binary_files(todo, include_paths=True, filesystem=filesystem)
        # Ray tasks decode and transform; asking them for other resources than the actors keeps
        # Ray from fusing them into the actors, so that decoding scales across the cluster's CPUs.
        data = data.map(_Decoder(job), num_cpus=0.5)
        # The job rides on the class itself: constructor arguments would sit in the object store,
        # where an actor restarted after a crash might no longer find them.
        predictor = type("Predictor", (_Predictor,), {"job": job})
        data = data.map_batches(predictor, batch_size=job.batch_size, **actor_pool(pool, gpus > 0))
        data = data.materialize()
        out.mkdir(parents=True, exist_ok=True)
        (data.write_parquet if output_format == "parquet" else data.write_json)(str(out))
        written = data.count()
        errors = data.select_columns(["error"]).iter_batches(batch_format="numpy")
        failed = sum(int((batch["error"] != "").sum()) for batch in errors)
    else:
        written = failed = 0
    return Outcome(str(out), len(paths), len(paths) - len(todo), written, failed, pool, min(gpus, pool))


def actor_pool(size: int, on_gpu: bool, map_batches: Callable[..., Any] | None = None) -> dict[str, Any]:
    """The ``map_batches`` arguments for a pool of ``size`` restartable actors, as this Ray takes them.

    How the pool's size is given has changed between Ray releases: ``compute=ActorPoolStrategy``
    (Ray 2.0-2.8), then ``concurrency=`` (2.9 on), with ``compute=`` back in favour since; this
    asks the installed ``map_batches`` which it accepts.
    """
    import ray.data

    accepted = inspect.signature(map_batches or ray.data.Dataset.map_batches).parameters
    # Ray Data restarts an actor that dies (a node lost, a process killed) and retries its batch
    # (max_restarts and max_task_retries are -1 by default for actor pools): no image is lost.
    arguments: dict[str, Any] = {"num_cpus": 1}
    if on_gpu:
        arguments["num_gpus"] = 1
    if "concurrency" in accepted:
        arguments["concurrency"] = size
    else:
        arguments["compute"] = ray.data.ActorPoolStrategy(size=size)
    return arguments


class _Decoder:
    """A Ray task's work: one file's bytes to the tensor the model takes, or the reason it can't be."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.transform: Any = None
        self.blank: Any = None  # what a bad image's row carries: a block's tensors share one shape

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        import torch

        from cvzoo.errors import BadImage
        from cvzoo.images import decode

        if self.transform is None:
            self.transform = _transform(self.job)
            self.blank = self.transform(torch.zeros(3, 8, 8, dtype=torch.uint8)).numpy()
        try:
            tensor = self.transform(decode(row["bytes"])).numpy()
            return {"image": row["path"], "tensor": tensor, "error": ""}
        except BadImage as exc:
            return {"image": row["path"], "tensor": self.blank, "error": str(exc)}
        except Exception as exc:  # one odd image must not fail the job
            return {"image": row["path"], "tensor": self.blank, "error": first_line(exc)}


class _Predictor:
    """A model actor: loads the weights once, then classifies batch after batch.

    ``job`` is set on a subclass made per run (see :func:`run`).
    """

    job: Job

    def __init__(self) -> None:
        from cvzoo import registry
        from cvzoo.infer import prepared, target_device
        from cvzoo.runtime import Precision

        job = self.job
        self.built = registry.build(job.model, job.weights)
        device = target_device(self.built, None)  # the actor's GPU if Ray gave it one; int8 on the CPU
        model = registry.load(self.built, device)
        self.ready = prepared(self.built, model, Precision(job.precision), device)
        self.names: list[str] | None = None

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import torch

        from cvzoo.infer import Options, class_names

        good = [i for i, e in enumerate(batch["error"]) if not e]
        rows: dict[str, list[Any]] = {"image": list(batch["image"])}
        rows["task"] = [Task.classification.value] * len(batch["image"])
        rows["indices"] = [[] for _ in batch["image"]]
        rows["labels"] = [[] for _ in batch["image"]]
        rows["probabilities"] = [[] for _ in batch["image"]]
        rows["error"] = list(batch["error"])
        if good:
            x = torch.stack([torch.from_numpy(batch["tensor"][i]) for i in good]).to(self.ready.device)
            with torch.inference_mode(), self.ready.autocast():
                logits = self.ready.model(self.ready.layout(x))
            probabilities = torch.softmax(logits.float(), dim=1).cpu()
            self.names = self.names or class_names(self.built, probabilities.shape[1], Options())
            values, indices = probabilities.topk(min(self.job.top_k, probabilities.shape[1]), dim=1)
            for n, i in enumerate(good):
                rows["indices"][i] = indices[n].tolist()
                rows["labels"][i] = [self.names[j] for j in indices[n].tolist()]
                rows["probabilities"][i] = [round(p, 6) for p in values[n].tolist()]
        return rows


@contextlib.contextmanager
def _ray_talk_to_log() -> Iterator[Path]:
    """Send what Ray says while the job runs to ``ray.log`` in cvzoo's cache folder; yields its path.

    Ray narrates on the process's own stderr from its C++ core (beyond Python's reach), and
    prints its workers' errors on ``sys.stdout``, where they would corrupt the JSON a script
    reads. cvzoo's output says what matters; a failure still reaches the user as one line.
    """
    from cvzoo.cache import cache_dir

    log = cache_dir() / "ray.log"
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        target = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError:  # no cache folder: let Ray talk
        yield log
        return
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr
        saved = -1
    sys.stdout.flush()
    sys.stderr.flush()
    if saved >= 0:
        os.dup2(target, 2)
    try:
        with open(target, "a", closefd=False) as text, contextlib.redirect_stdout(text):
            yield log
    finally:
        sys.stderr.flush()
        if saved >= 0:
            os.dup2(saved, 2)
            os.close(saved)
        os.close(target)


def _transform(job: Job) -> Any:
    from cvzoo import registry
    from cvzoo.infer import Options
    from cvzoo.infer.classify import transform_for

    return transform_for(registry.build(job.model, job.weights), Options())


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError:
        raise CvzooError(INSTALL_RAY) from None
    return ray


def _check_model(job: Job) -> BuiltModel:
    from cvzoo import registry
    from cvzoo.runtime import Precision, check_precision

    built = registry.build(job.model, job.weights)
    if built.entry is None or built.task not in (Task.classification, Task.quantized):
        kind = built.task.value if built.task else "a model of your own"
        raise UsageError(
            f"the Ray engine runs the zoo's classifiers; {job.model} is {kind}: run it without --engine"
        )
    check_precision(Precision(job.precision), built.task is Task.quantized)
    return built


def _connect(ray: Any, address: str | None) -> bool:
    """Join the cluster at ``address``, else start a local one; False when Ray was already up."""
    if ray.is_initialized():
        return False
    try:
        ray.init(address=address, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    except Exception as exc:
        raise CvzooError(
            f"cannot reach the Ray cluster at {address or 'a new local one'}: {first_line(exc)}"
        ) from None
    import logging

    for name in ("ray", "ray.data"):  # Ray Data narrates every execution at INFO: not the user's concern
        logging.getLogger(name).setLevel(logging.ERROR)
    ray.data.DataContext.get_current().enable_progress_bars = False
    return True


def _listing(source: str) -> tuple[list[str], Any]:
    """The image files of ``source`` and the pyarrow filesystem to read them with (None: local)."""
    from cvzoo.images import EXTENSIONS

    if "://" in source:
        import pyarrow.fs

        filesystem, root = pyarrow.fs.FileSystem.from_uri(source)
        found = filesystem.get_file_info(pyarrow.fs.FileSelector(root, recursive=True))
        paths = sorted(f.path for f in found if f.is_file and Path(f.path).suffix.lower() in EXTENSIONS)
        if not paths:
            raise UsageError(f"no images under '{source}'")
        return paths, filesystem
    from cvzoo.images import gather

    return [str(s.path.resolve()) for s in gather([source], recursive=True) if s.path is not None], None


def _done(out: Path, output_format: str) -> set[str]:
    """The images ``out`` already holds a row for."""
    if not out.is_dir():
        return set()
    import pyarrow.dataset

    files = [str(p) for p in out.iterdir() if p.suffix in (".parquet", ".json", ".jsonl")]
    if not files:
        return set()
    table = pyarrow.dataset.dataset(
        files, format="parquet" if output_format == "parquet" else "json"
    ).to_table(columns=["image"])
    return set(table.column("image").to_pylist())
