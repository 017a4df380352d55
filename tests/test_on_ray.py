"""``infer --engine ray``: a local Ray cluster gives the rows the local engine gives, loses none.

One cluster for the module (starting Ray takes seconds); its workers find the planted weights
through the ``TORCH_HOME`` of the cluster's runtime environment.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from conftest import photo, plant_weights, run

ray = pytest.importorskip("ray", reason="the ray extra is not installed")
pytest.importorskip("ray.data", reason="the ray extra is not installed")
pyarrow_dataset = pytest.importorskip("pyarrow.dataset")

from cvzoo.errors import CvzooError  # noqa: E402
from cvzoo.infer import on_ray  # noqa: E402

pytestmark = pytest.mark.xdist_group("ray")  # one local cluster, in one worker, when tests run in parallel


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A local two-CPU Ray cluster whose workers see resnet18's planted weights; yields TORCH_HOME."""
    home = tmp_path_factory.mktemp("ray-torch-home")
    saved = os.environ.get("TORCH_HOME")
    os.environ["TORCH_HOME"] = str(home)
    try:
        plant_weights("resnet18")
    finally:
        os.environ.pop("TORCH_HOME") if saved is None else os.environ.__setitem__("TORCH_HOME", saved)
    environment = {"TORCH_HOME": str(home), "OMP_NUM_THREADS": "1"}
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level="ERROR",
        _node_ip_address="127.0.0.1",
        runtime_env={"env_vars": environment},
    )
    yield home
    ray.shutdown()


@pytest.fixture
def images(tmp_path) -> Path:
    """Five photos and a file that is not an image, in one folder."""
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(5):
        photo(i, (160, 120)).save(folder / f"photo{i}.jpg", quality=92)
    (folder / "broken.jpg").write_bytes(b"this is not a JPEG")
    return folder


def rows(out: Path, fmt: str = "parquet") -> dict[str, dict]:
    files = [str(p) for p in out.iterdir() if p.suffix in (".parquet", ".json", ".jsonl")]
    table = pyarrow_dataset.dataset(files, format="parquet" if fmt == "parquet" else "json").to_table()
    found = table.to_pylist()
    assert len({r["image"] for r in found}) == len(found), "an image has two rows"
    return {Path(r["image"]).name: r for r in found}


JOB = on_ray.Job("resnet18", "DEFAULT", top_k=3, batch_size=2, precision="fp32")


def test_rows_equal_the_local_engines_results(cluster, images, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(cluster))
    outcome = on_ray.run(JOB, str(images), tmp_path / "out")
    assert (outcome.images, outcome.written, outcome.failed, outcome.skipped) == (6, 6, 1, 0)
    found = rows(tmp_path / "out")
    local = run("infer", "resnet18", str(images), "-k", "3", "-f", "json")
    assert local.exit_code == 1  # the broken file fails there too
    for result in json.loads(local.stdout):
        row = found[Path(result["image"]).name]
        if result.get("error"):
            assert row["error"] and not row["labels"]
            continue
        assert row["error"] == ""
        assert row["labels"] == [p["label"] for p in result["predictions"]]
        assert row["indices"] == [p["index"] for p in result["predictions"]]
        assert row["probabilities"] == pytest.approx(
            [p["probability"] for p in result["predictions"]], abs=2e-4
        )


def test_resume_runs_only_the_images_not_yet_written(cluster, images, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(cluster))
    out = tmp_path / "out"
    (images / "broken.jpg").unlink()
    for name in ("photo3.jpg", "photo4.jpg"):
        (images / name).rename(tmp_path / name)
    first = on_ray.run(JOB, str(images), out, "jsonl")
    assert (first.written, first.skipped) == (3, 0)
    for name in ("photo3.jpg", "photo4.jpg"):
        (tmp_path / name).rename(images / name)
    again = on_ray.run(JOB, str(images), out, "jsonl", resume=True)
    assert (again.images, again.skipped, again.written, again.failed) == (5, 3, 2, 0)
    assert sorted(rows(out, "jsonl")) == [f"photo{i}.jpg" for i in range(5)]
    done = on_ray.run(JOB, str(images), out, "jsonl", resume=True)
    assert (done.skipped, done.written) == (5, 0)


def _model_actors() -> list[int]:
    """The processes of Ray's model actors on this machine (Ray names them in their command line)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"MapBatches(Predictor)" in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="finds Ray's actors through /proc")
def test_a_killed_model_actor_loses_no_image(cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(cluster))
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(160):
        photo(i, (64, 48)).save(folder / f"{i:03}.jpg")
    job = on_ray.Job("resnet18", "DEFAULT", top_k=1, batch_size=4, precision="fp32")
    stale = set(_model_actors())  # earlier jobs' actors, maybe still on their way out
    outcomes: list = []
    worker = threading.Thread(target=lambda: outcomes.append(on_ray.run(job, str(folder), tmp_path / "out")))
    worker.start()
    killed = None
    deadline = time.monotonic() + 60
    while killed is None and worker.is_alive() and time.monotonic() < deadline:
        actors = [pid for pid in _model_actors() if pid not in stale]
        if actors:
            time.sleep(1.5)  # let it load the weights and take batches
            try:
                os.kill(actors[0], signal.SIGKILL)
                killed = actors[0]
            except ProcessLookupError:  # it ended on its own meanwhile: find the job's actor again
                stale.add(actors[0])
        time.sleep(0.05)
    worker.join(timeout=120)
    assert killed is not None, "the job ended before its model actor could be killed"
    assert outcomes and outcomes[0].written == 160 and outcomes[0].failed == 0
    found = rows(tmp_path / "out")
    assert sorted(found) == [f"{i:03}.jpg" for i in range(160)]
    assert all(r["labels"] for r in found.values())


def test_workers_that_cannot_load_the_weights_fail_the_job_in_one_line(cluster, images, tmp_path):
    # The cluster's workers have no efficientnet_b0 weights, and the driver doesn't fetch them
    # for a cluster it joined rather than started.
    job = on_ray.Job("efficientnet_b0", "DEFAULT", top_k=1, batch_size=2, precision="fp32")
    with pytest.raises(CvzooError) as caught:
        on_ray.run(job, str(images), tmp_path / "out", address="auto")
    message = str(caught.value)
    assert "\n" not in message
    assert "EfficientNet_B0_Weights" in message and "not in the cache" in message


def test_the_cli_writes_its_summary_to_stdout_and_nothing_of_rays(cluster, images, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(cluster))
    result = run(
        "infer", "resnet18", str(images), "--engine", "ray", "--out", str(tmp_path / "o"), "-f", "json"
    )
    assert result.exit_code == 1  # one image failed
    summary = json.loads(result.stdout)
    assert (summary["images"], summary["written"], summary["failed"]) == (6, 6, 1)
    assert result.stderr.strip().splitlines() == [
        f"1 of 6 images failed: their rows in {tmp_path / 'o'} say why"
    ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["fcos_resnet50_fpn", "IMAGES", "--engine", "ray", "--out", "O"], "runs the zoo's classifiers"),
        (["resnet18", "IMAGES", "--engine", "ray"], "give --out DIR"),
        (["resnet18", "IMAGES", "IMAGES", "--engine", "ray", "--out", "O"], "takes one source"),
    ],
)
def test_usage_errors(warm_cache, images, tmp_path, arguments, message):
    swapped = [str(images) if a == "IMAGES" else str(tmp_path / "o") if a == "O" else a for a in arguments]
    result = run("infer", *swapped)
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
