"""infer: real predictions through torchvision's cache and preprocessing, and clear failures."""

from __future__ import annotations

import http.server
import io
import json
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import plant_weights
from PIL import Image
from torchvision.models import get_model, get_model_weights
from typer.testing import CliRunner

from cvzoo import images
from cvzoo.cli import app

runner = CliRunner()


def run(*args: str, input: bytes | None = None):
    return runner.invoke(app, list(args), input=input, catch_exceptions=False)


def _photo(seed: int, size=(500, 375)) -> Image.Image:
    """A smooth random picture (JPEG-friendly), different per seed."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize(size, Image.BICUBIC)


@pytest.fixture
def photos(tmp_path) -> list[Path]:
    paths = []
    for i in range(5):
        path = tmp_path / f"photo{i}.jpg"
        _photo(i).save(path, quality=92)
        paths.append(path)
    return paths


def reference_topk(name: str, path: Path, k: int) -> tuple[list[int], list[float]]:
    """The plain torchvision pipeline: PIL, weights.transforms(), the model, softmax."""
    weights = get_model_weights(name).DEFAULT
    model = get_model(name, weights=weights).eval()
    x = weights.transforms()(Image.open(path).convert("RGB")).unsqueeze(0)
    with torch.no_grad():
        probabilities = torch.softmax(model(x), dim=1)[0]
    values, indices = probabilities.topk(k)
    return indices.tolist(), values.tolist()


@pytest.mark.parametrize(
    "name",
    [
        "mobilenet_v3_small",
        "squeezenet1_1",
        "densenet121",
        "googlenet",
        "regnet_y_400mf",
        "mnasnet0_5",
    ],
)
def test_topk_equals_the_plain_torchvision_pipeline(warm_cache, photos, name):
    plant_weights(name)
    result = run("infer", name, *map(str, photos), "--top-k", "5", "--format", "json", "--batch-size", "2")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["image"] for r in rows] == [str(p) for p in photos]
    categories = get_model_weights(name).DEFAULT.meta["categories"]
    for row, path in zip(rows, photos, strict=True):
        indices, values = reference_topk(name, path, 5)
        assert [p["index"] for p in row["predictions"]] == indices
        assert [p["probability"] for p in row["predictions"]] == pytest.approx(values, abs=1e-4)
        assert [p["label"] for p in row["predictions"]] == [categories[i] for i in indices]


def test_table_and_csv_output(warm_cache, photos):
    plant_weights("mobilenet_v3_small")
    table = run("infer", "mobilenet_v3_small", str(photos[0]), "-k", "3")
    assert (
        table.exit_code == 0
        and str(photos[0]) in table.stdout
        and "%" in table.stdout
        and "█" in table.stdout
    )
    csv_text = run(
        "infer", "mobilenet_v3_small", str(photos[0]), str(photos[1]), "-k", "2", "-f", "csv"
    ).stdout
    lines = csv_text.splitlines()
    assert lines[0] == "image,rank,index,label,probability,error" and len(lines) == 5


# --- every kind of image -----------------------------------------------------------------------


def _kinds(tmp_path: Path) -> dict[str, Path]:
    base = _photo(7, (320, 240))
    files = {}

    def save(name: str, image: Image.Image, **kwargs) -> None:
        files[name] = tmp_path / name
        image.save(files[name], **kwargs)

    save("plain.jpg", base, quality=90)
    save("plain.png", base)
    save("plain.webp", base, quality=90)
    save("plain.bmp", base)
    save("plain.tiff", base)
    frames = [base, _photo(8, (320, 240))]
    save("animated.gif", frames[0].convert("P"), save_all=True, append_images=[frames[1].convert("P")])
    save("gray.png", base.convert("L"))
    save("palette.png", base.convert("P", palette=Image.ADAPTIVE))
    rgba = base.convert("RGBA")
    rgba.putalpha(128)
    save("rgba.png", rgba)
    save("cmyk.jpg", base.convert("CMYK"), quality=90)
    sixteen = (np.asarray(base.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    save("gray16.png", Image.fromarray(sixteen))  # mode I;16
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    save("rotated.jpg", base, quality=90, exif=exif.tobytes())
    return files


def test_every_image_kind_decodes_to_rgb(tmp_path):
    for name, path in _kinds(tmp_path).items():
        image = images.decode(path.read_bytes())
        assert image.mode == "RGB", name
        expected = (240, 320) if name == "rotated.jpg" else (320, 240)
        assert image.size == expected, name


def test_conversions_keep_the_picture(tmp_path):
    files = _kinds(tmp_path)
    gray16 = np.asarray(images.decode(files["gray16.png"].read_bytes()))
    gray8 = np.asarray(images.decode(files["gray.png"].read_bytes()))
    assert np.abs(gray16.astype(int) - gray8.astype(int)).max() <= 1  # 16-bit scaled, not clipped to white
    transparent = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    buffer = io.BytesIO()
    transparent.save(buffer, format="PNG")
    assert np.asarray(images.decode(buffer.getvalue())).min() == 255  # laid on white, not black


def test_all_kinds_predict_through_the_cli(warm_cache, tmp_path):
    plant_weights("mobilenet_v3_small")
    files = _kinds(tmp_path)
    result = run("infer", "mobilenet_v3_small", str(tmp_path), "-f", "json", "-k", "1")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {Path(r["image"]).name for r in rows} == set(files)
    assert all("predictions" in r for r in rows)


# --- bad inputs --------------------------------------------------------------------------------


def _bad_files(tmp_path: Path, good: Path) -> dict[str, Path]:
    bad = {}
    bad["empty.jpg"] = tmp_path / "empty.jpg"
    bad["empty.jpg"].write_bytes(b"")
    data = good.read_bytes()
    bad["truncated.jpg"] = tmp_path / "truncated.jpg"
    bad["truncated.jpg"].write_bytes(data[: len(data) // 2])
    bad["notes.jpg"] = tmp_path / "notes.jpg"
    bad["notes.jpg"].write_text("this is not an image")
    bad["bomb.png"] = tmp_path / "bomb.png"
    Image.new("1", (12_000, 10_000)).save(bad["bomb.png"])  # 120M pixels in a few KB
    return bad


def test_bad_images_fail_alone_and_the_good_ones_still_predict(warm_cache, photos, tmp_path):
    plant_weights("mobilenet_v3_small")
    bad = _bad_files(tmp_path, photos[0])
    args = [str(photos[0]), *map(str, bad.values()), str(photos[1])]
    result = run("infer", "mobilenet_v3_small", *args, "-f", "json")
    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    assert [r["image"] for r in rows] == args
    assert "predictions" in rows[0] and "predictions" in rows[-1]
    errors = {Path(r["image"]).name: r["error"] for r in rows[1:-1]}
    assert errors["empty.jpg"] == "empty file"
    assert "truncated" in errors["truncated.jpg"]
    assert "not an image" in errors["notes.jpg"]
    assert "decompression bomb" in errors["bomb.png"]
    assert "4 of 6 inputs failed" in result.stderr and "Traceback" not in result.stderr


def test_missing_input_is_a_usage_error(warm_cache, tmp_path):
    result = run("infer", "mobilenet_v3_small", str(tmp_path / "nope.jpg"))
    assert result.exit_code == 2 and "does not exist" in result.stderr
    (tmp_path / "empty").mkdir()
    assert "no images in directory" in run("infer", "mobilenet_v3_small", str(tmp_path / "empty")).stderr


def test_directories_recurse_only_when_asked(warm_cache, photos, tmp_path):
    plant_weights("mobilenet_v3_small")
    nested = tmp_path / "more" / "deeper"
    nested.mkdir(parents=True)
    _photo(9).save(nested / "deep.png")
    flat = json.loads(run("infer", "mobilenet_v3_small", str(tmp_path), "-f", "json").stdout)
    deep = json.loads(run("infer", "mobilenet_v3_small", str(tmp_path), "-r", "-f", "json").stdout)
    assert len(flat) == len(photos) and len(deep) == len(photos) + 1
    globbed = json.loads(
        run("infer", "mobilenet_v3_small", str(tmp_path / "photo[0-1].jpg"), "-f", "json").stdout
    )
    assert [Path(r["image"]).name for r in globbed] == ["photo0.jpg", "photo1.jpg"]


def test_stdin(warm_cache, photos):
    plant_weights("mobilenet_v3_small")
    result = run("infer", "mobilenet_v3_small", "-", "-f", "json", "-k", "2", input=photos[0].read_bytes())
    assert result.exit_code == 0, result.stderr
    from_stdin = json.loads(result.stdout)[0]
    from_file = json.loads(
        run("infer", "mobilenet_v3_small", str(photos[0]), "-f", "json", "-k", "2").stdout
    )[0]
    assert from_stdin["image"] == "-" and from_stdin["predictions"] == from_file["predictions"]


@pytest.fixture
def image_server(photos):
    folder = photos[0].parent

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_urls_served_from_loopback(warm_cache, photos, image_server):
    plant_weights("mobilenet_v3_small")
    good, missing = f"{image_server}/photo0.jpg", f"{image_server}/nothing.jpg"
    result = run("infer", "mobilenet_v3_small", good, missing, "-f", "json", "-k", "2")
    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    from_file = json.loads(
        run("infer", "mobilenet_v3_small", str(photos[0]), "-f", "json", "-k", "2").stdout
    )[0]
    assert rows[0]["predictions"] == from_file["predictions"]
    assert rows[1] == {"image": missing, "error": "download failed: HTTP 404 File not found"}


# --- weights -----------------------------------------------------------------------------------


def test_offline_miss_names_the_file_url_and_folder(warm_cache, photos):
    result = run("infer", "resnet18", str(photos[0]))
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1
    assert get_model_weights("resnet18").DEFAULT.url in line
    assert str(Path(torch.hub.get_dir()) / "checkpoints") in line
    assert result.stdout == ""


def test_a_hostile_checkpoint_is_refused_and_its_code_never_runs(warm_cache, photos, tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    checkpoint = tmp_path / "evil.pth"
    torch.save({"state_dict": Exploit()}, checkpoint)  # pickling records the call; loading would make it
    legacy = tmp_path / "evil-legacy.pth"
    legacy.write_bytes(pickle.dumps({"state_dict": Exploit()}))  # not torch's zip format
    result = run("infer", "resnet18", str(photos[0]), "--weights", str(checkpoint))
    assert result.exit_code == 1
    assert "refused to load" in result.stderr and "Traceback" not in result.stderr
    result = run("infer", "resnet18", str(photos[0]), "--weights", str(legacy))
    assert result.exit_code == 1 and "refused to load" in result.stderr
    assert not marker.exists()


def test_a_checkpoint_for_another_architecture_is_explained(warm_cache, photos, tmp_path):
    checkpoint = tmp_path / "other.pth"
    torch.save({"model": get_model("squeezenet1_1", weights=None).state_dict()}, checkpoint)
    result = run("infer", "mobilenet_v3_small", str(photos[0]), "--weights", str(checkpoint))
    assert result.exit_code == 1
    assert "does not fit this architecture" in result.stderr
    assert "missing" in result.stderr and "unexpected" in result.stderr


def test_a_local_checkpoint_predicts(warm_cache, photos, tmp_path):
    planted = plant_weights("mobilenet_v3_small")
    checkpoint = tmp_path / "mine.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in torch.load(planted).items()}}, checkpoint)
    from_cache = run("infer", "mobilenet_v3_small", str(photos[0]), "-f", "json").stdout
    from_checkpoint = run(
        "infer", "mobilenet_v3_small", str(photos[0]), "-w", str(checkpoint), "-f", "json"
    ).stdout
    assert json.loads(from_checkpoint) == json.loads(from_cache)


def test_safetensors_checkpoint(warm_cache, photos, tmp_path):
    from safetensors.torch import save_file

    planted = plant_weights("mobilenet_v3_small")
    checkpoint = tmp_path / "mine.safetensors"
    save_file({k: v.contiguous() for k, v in torch.load(planted).items()}, str(checkpoint))
    result = run("infer", "mobilenet_v3_small", str(photos[0]), "-w", str(checkpoint), "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)[0]["predictions"]) == 5


def test_non_classification_models_are_turned_away(warm_cache, photos):
    result = run("infer", "fasterrcnn_resnet50_fpn", str(photos[0]))
    assert result.exit_code == 2 and "infer handles classification models" in result.stderr


def test_bf16_precision_runs(warm_cache, photos):
    plant_weights("mobilenet_v3_small")
    result = run(
        "infer", "mobilenet_v3_small", str(photos[0]), "--precision", "bf16", "-f", "json", "-k", "1"
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)[0]["predictions"][0]["probability"] > 0


def test_quantized_models_predict_on_the_cpu(warm_cache, photos):
    plant_weights("quantized_resnet18")
    result = run("infer", "quantized_resnet18", str(photos[0]), "-f", "json", "-k", "3")
    assert result.exit_code == 0, result.stderr
    predictions = json.loads(result.stdout)[0]["predictions"]
    assert len(predictions) == 3 and all(0 <= p["probability"] <= 1 for p in predictions)
    assert "quantized" in run("infer", "quantized_resnet18", str(photos[0]), "--precision", "bf16").stderr


def test_a_broken_cached_file_is_an_error_not_a_traceback(warm_cache, photos):
    path = plant_weights("squeezenet1_1")
    path.write_bytes(b"garbage")
    result = run("infer", "squeezenet1_1", str(photos[0]))
    assert result.exit_code == 1 and "Traceback" not in result.stderr and str(path) in result.stderr


def test_an_empty_checkpoint_is_a_one_line_error(warm_cache, photos, tmp_path):
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    result = run("infer", "squeezenet1_1", str(photos[0]), "--weights", str(empty))
    assert (
        result.exit_code == 1
        and "cannot read checkpoint" in result.stderr
        and "Traceback" not in result.stderr
    )


def test_a_half_precision_checkpoint_predicts(warm_cache, photos, tmp_path):
    planted = plant_weights("squeezenet1_1")
    half = tmp_path / "half.pth"
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in torch.load(planted).items()}, half)
    result = run("infer", "squeezenet1_1", str(photos[0]), "--weights", str(half), "-f", "json", "-k", "3")
    assert result.exit_code == 0, result.stderr
    full = json.loads(run("infer", "squeezenet1_1", str(photos[0]), "-f", "json", "-k", "3").stdout)
    halved = json.loads(result.stdout)
    assert [p["index"] for p in halved[0]["predictions"]] == [p["index"] for p in full[0]["predictions"]]
