"""infer: real predictions through torchvision's cache and preprocessing, and clear failures."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from pathlib import Path

import pytest
import torch
from conftest import image_kinds, photo, plant_weights, run
from PIL import Image
from torchvision.models import get_model, get_model_weights


def reference_topk(
    name: str, path: Path, k: int, autocast: bool = False, **builder: object
) -> tuple[list[int], list[float]]:
    """The plain torchvision pipeline: PIL, weights.transforms(), the model, softmax.

    ``autocast`` runs the model under CPU bf16 autocast; ``builder`` options go to get_model.
    """
    weights = get_model_weights(name).DEFAULT
    model = get_model(name, weights=weights, **builder).eval()
    x = weights.transforms()(Image.open(path).convert("RGB")).unsqueeze(0)
    cast = torch.autocast("cpu", torch.bfloat16) if autocast else contextlib.nullcontext()
    with torch.no_grad(), cast:
        probabilities = torch.softmax(model(x).float(), dim=1)[0]
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


def test_all_kinds_predict_through_the_cli(warm_cache, tmp_path):
    plant_weights("mobilenet_v3_small")
    files = image_kinds(tmp_path)
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


def test_json_lines_hold_the_json_arrays_objects_one_per_line(warm_cache, photos, tmp_path):
    plant_weights("mobilenet_v3_small")
    bad = _bad_files(tmp_path, photos[0])
    args = ["mobilenet_v3_small", str(photos[0]), str(bad["empty.jpg"]), str(photos[1]), "-b", "2"]
    lines = run("infer", *args, "-f", "jsonl")
    array = run("infer", *args, "-f", "json")
    assert lines.exit_code == array.exit_code == 1
    assert [json.loads(line) for line in lines.stdout.splitlines()] == json.loads(array.stdout)
    assert lines.stderr == array.stderr


def test_missing_input_is_a_usage_error(warm_cache, tmp_path):
    result = run("infer", "mobilenet_v3_small", str(tmp_path / "nope.jpg"))
    assert result.exit_code == 2 and "does not exist" in result.stderr
    (tmp_path / "empty").mkdir()
    assert "no images in directory" in run("infer", "mobilenet_v3_small", str(tmp_path / "empty")).stderr


def test_directories_recurse_only_when_asked(warm_cache, photos, tmp_path):
    plant_weights("mobilenet_v3_small")
    nested = tmp_path / "more" / "deeper"
    nested.mkdir(parents=True)
    photo(9).save(nested / "deep.png")
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
    assert rows[1] == {
        "image": missing,
        "task": "classification",
        "error": "download failed: HTTP 404 File not found",
    }


def test_bf16_agrees_with_torchvision_under_autocast(warm_cache, photos):
    plant_weights("squeezenet1_1")
    result = run(
        "infer", "squeezenet1_1", *map(str, photos[:2]), "--precision", "bf16", "-f", "json", "-k", "3"
    )
    assert result.exit_code == 0, result.stderr
    for row, path in zip(json.loads(result.stdout), photos, strict=False):
        indices, values = reference_topk("squeezenet1_1", path, 3, autocast=True)
        full_indices, full_values = reference_topk("squeezenet1_1", path, 3)
        assert row["predictions"][0]["index"] == indices[0] == full_indices[0]
        # bf16 keeps about 3 significant digits: within 0.03 of both bf16 and fp32 references
        got = [p["probability"] for p in row["predictions"]]
        assert got == pytest.approx(values, abs=0.03) and got == pytest.approx(full_values, abs=0.03)


def test_quantized_models_predict_as_torchvision_does(warm_cache, photos):
    plant_weights("quantized_resnet18")
    result = run("infer", "quantized_resnet18", str(photos[0]), "-f", "json", "-k", "3")
    assert result.exit_code == 0, result.stderr
    predictions = json.loads(result.stdout)[0]["predictions"]
    indices, values = reference_topk("quantized_resnet18", photos[0], 3, quantize=True)
    assert [p["index"] for p in predictions] == indices
    assert [p["probability"] for p in predictions] == pytest.approx(values, abs=1e-4)


def test_quantized_models_refuse_other_precisions(warm_cache, photos):
    result = run("infer", "quantized_resnet18", str(photos[0]), "--precision", "bf16")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: quantized models compute in int8; leave --precision at fp32"


def test_json_probabilities_carry_no_float32_noise(warm_cache, photos):
    plant_weights("squeezenet1_1")
    rows = json.loads(run("infer", "squeezenet1_1", str(photos[0]), "-f", "json", "-k", "5").stdout)
    for p in rows[0]["predictions"]:
        assert p["probability"] == round(p["probability"], 6)
        assert len(repr(p["probability"]).split(".")[-1]) <= 6


def test_a_folder_is_read_in_natural_order(warm_cache, tmp_path):
    plant_weights("squeezenet1_1")
    for n in (10, 2, 1, 33, 3):
        photo(n).save(tmp_path / f"cat{n}.jpg")
    rows = json.loads(run("infer", "squeezenet1_1", str(tmp_path), "-f", "json", "-k", "1").stdout)
    assert [Path(r["image"]).name for r in rows] == [
        "cat1.jpg",
        "cat2.jpg",
        "cat3.jpg",
        "cat10.jpg",
        "cat33.jpg",
    ]


# --- torch.compile -------------------------------------------------------------------------------


@pytest.mark.skipif(
    not any(__import__("shutil").which(c) for c in ("g++", "c++", "clang++")), reason="no C++ compiler"
)
def test_a_compiled_model_predicts_as_the_model_as_built(warm_cache, photos, tmp_path):
    example = Path(__file__).parent.parent / "examples" / "mynet.py"
    import importlib.util

    spec = importlib.util.spec_from_file_location("mynet_for_test", example)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    net = module.TinyNet()
    with torch.no_grad():
        net.head.weight.mul_(40)  # classes well apart: a ranking can't pass on ties
    torch.save(net.state_dict(), tmp_path / "tiny.pt")
    args = [f"{example}:TinyNet", *map(str, photos), "--weights", str(tmp_path / "tiny.pt"), "-i", "32"]
    args += ["-b", "3", "-f", "json"]  # 5 images: the last batch is short
    eager = run("infer", *args, "--compile", "never")
    compiled = run("infer", *args, "--compile", "always")
    assert eager.exit_code == compiled.exit_code == 0, compiled.stderr
    assert "compiling" in compiled.stderr and "compiling" not in eager.stderr
    for a, b in zip(json.loads(eager.stdout), json.loads(compiled.stdout), strict=True):
        assert [p["index"] for p in a["predictions"]] == [p["index"] for p in b["predictions"]]
        assert [p["probability"] for p in a["predictions"]] == pytest.approx(
            [p["probability"] for p in b["predictions"]], abs=1e-4
        )
        assert len({p["probability"] for p in a["predictions"]}) == 5  # no ties


def test_compiling_is_chosen_for_long_runs_and_sooner_once_cached(monkeypatch):
    from cvzoo import runtime
    from cvzoo.runtime import Compile, compile_key, compile_pays, remember_compiled

    monkeypatch.setattr(runtime, "_cxx_compiler", lambda key: True)
    key = compile_key("resnet50", "cpu", runtime.Precision.bf16, 16)
    assert not compile_pays(Compile.auto, 1000, key)
    assert compile_pays(Compile.auto, 5000, key)
    assert not compile_pays(Compile.never, 5000, key)
    assert compile_pays(Compile.always, 1, key)
    remember_compiled(key)
    assert compile_pays(Compile.auto, 1000, key)
    assert not compile_pays(Compile.auto, 1000, compile_key("resnet50", "cpu", runtime.Precision.fp32, 16))


def test_without_a_cxx_compiler_auto_runs_as_built_and_always_says_why(warm_cache, photos, monkeypatch):
    plant_weights("squeezenet1_1")
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("CXX", raising=False)
    from cvzoo import runtime

    monkeypatch.setattr(runtime, "COMPILE_FROM", 1)
    auto = run("infer", "squeezenet1_1", str(photos[0]), "-f", "json")
    assert auto.exit_code == 0 and "compiling" not in auto.stderr
    always = run("infer", "squeezenet1_1", str(photos[0]), "--compile", "always")
    assert always.exit_code == 2 and "needs a C++ compiler" in always.stderr
