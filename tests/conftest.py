"""Shared fixtures: an isolated cache and TORCH_HOME, no network, a fixed terminal."""

from __future__ import annotations

import functools
import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from cvzoo import catalog as catalog_mod
from cvzoo.cli import app

runner = CliRunner()


def run(*args: str, input: bytes | None = None):
    """``cvzoo ARGS`` in this process; stdout and stderr apart, exceptions not caught."""
    return runner.invoke(app, list(args), input=input, catch_exceptions=False)


def photo(seed: int, size=(500, 375)) -> Image.Image:
    """A smooth random picture (JPEG-friendly), different per seed."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize(size, Image.BICUBIC)


@pytest.fixture
def photos(tmp_path) -> list[Path]:
    """Five JPEGs of 500x375 in the test's folder."""
    paths = []
    for i in range(5):
        path = tmp_path / f"photo{i}.jpg"
        photo(i).save(path, quality=92)
        paths.append(path)
    return paths


def _task_packages() -> dict:
    from torchvision import models

    return {
        catalog_mod.Task.classification: models,
        catalog_mod.Task.quantized: models.quantization,
        catalog_mod.Task.detection: models.detection,
        catalog_mod.Task.segmentation: models.segmentation,
        catalog_mod.Task.video: models.video,
        catalog_mod.Task.optical_flow: models.optical_flow,
    }


TASK_PACKAGES = _task_packages()  # torchvision's own sub-package of each task


@functools.cache
def zoo_catalog() -> catalog_mod.Catalog:
    """The catalogue, read from torchvision once per test session (parametrization uses it too)."""
    return catalog_mod.build_catalog()


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, the cores shared out: two workers on two cores run a thread each, not two."""
    import os

    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        import torch

        threads = max(1, (os.cpu_count() or 1) // workers)
        os.environ["OMP_NUM_THREADS"] = str(threads)  # for the commands tests start as processes
        torch.set_num_threads(threads)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="Rewrite tests/golden/* from the output.")


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory):
    return tmp_path_factory.mktemp("cvzoo-cache")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, session_cache, tmp_path_factory) -> None:
    """Every test: its own TORCH_HOME, a shared cvzoo cache, a 100-column plain terminal, no network."""
    monkeypatch.setenv("CVZOO_CACHE_DIR", str(session_cache))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch-home")))
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("CVZOO_DEBUG", raising=False)

    real_connect = socket.socket.connect

    def loopback_only(self: socket.socket, address):  # tests never reach beyond this machine
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not host.startswith(("127.", "localhost", "::1", "/")):
            raise OSError(f"test tried to reach {address}: tests run offline")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", loopback_only)


@pytest.fixture(scope="session")
def zoo(session_cache) -> catalog_mod.Catalog:
    """The catalogue, built from torchvision once per test session."""
    return zoo_catalog()


@pytest.fixture
def warm_cache(zoo, session_cache) -> catalog_mod.Catalog:
    """Make sure the cache holds the catalogue, as after a user's first command."""
    if catalog_mod.cached_catalog() is None:
        catalog_mod.store(zoo)
    return zoo


@pytest.fixture
def compute_dtypes():
    """The dtypes that convolutions and linear layers output on real tensors while the test runs.

    What a model really computes in: autocast casts inside each operator, so a layer's output, not
    its input, tells whether ``--precision`` reached it.
    """
    import torch

    seen: set = set()

    layers = (torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.Linear)

    def hook(module, args, output):
        real = isinstance(output, torch.Tensor) and not output.is_meta  # not the counting pass
        if real and isinstance(module, layers):
            seen.add(output.dtype)

    handle = torch.nn.modules.module.register_module_forward_hook(hook)
    yield seen
    handle.remove()


@pytest.fixture
def golden(request: pytest.FixtureRequest):
    """Compare text with tests/golden/<name>, or rewrite it with --update-golden."""

    def check(name: str, text: str) -> None:
        path = Path(__file__).parent / "golden" / name
        if request.config.getoption("--update-golden") or not path.exists():
            path.write_text(text, encoding="utf-8")
            if not request.config.getoption("--update-golden"):
                pytest.fail(f"golden file {name} was missing and has been written; check it and rerun")
        assert text == path.read_text(encoding="utf-8"), f"output differs from tests/golden/{name}"

    return check


def image_kinds(tmp_path: Path) -> dict[str, Path]:
    """One file per image kind people have (formats, modes, EXIF rotation), 320x240 each."""
    base = photo(7, (320, 240))
    files = {}

    def save(name: str, image: Image.Image, **kwargs) -> None:
        files[name] = tmp_path / name
        image.save(files[name], **kwargs)

    save("plain.jpg", base, quality=90)
    save("plain.png", base)
    save("plain.webp", base, quality=90)
    save("plain.bmp", base)
    save("plain.tiff", base)
    frames = [base, photo(8, (320, 240))]
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


def _spread_detection_scores(model, spread: float) -> None:
    """Rescale a detector's class-score layers so their logits on an image spread by ``spread``."""
    import torch
    from torch import nn

    heads = [
        m
        for path, m in model.named_modules()
        if isinstance(m, (nn.Linear, nn.Conv2d))
        and any(key in path for key in ("cls_score", "cls_logits", "classification_head"))
    ]
    seen: dict[nn.Module, list[torch.Tensor]] = {m: [] for m in heads}
    hooks = [m.register_forward_hook(lambda mod, args, out: seen[mod].append(out)) for m in heads]
    with torch.no_grad():
        for m in heads:
            if m.bias is not None:
                m.bias.zero_()  # no prior towards background
        image = np.asarray(photo(5, (203, 157))).transpose(2, 0, 1).copy()
        sizes = model.transform.min_size, model.transform.max_size
        if model.transform.fixed_size is None:  # a smaller pass spreads the scores as well, sooner
            model.transform.min_size, model.transform.max_size = (320,), 416
        model([torch.from_numpy(image).float() / 255])
        model.transform.min_size, model.transform.max_size = sizes
        for m in heads:
            std = float(torch.cat([o.flatten() for o in seen[m]]).std())
            if std > 0:
                m.weight.mul_(spread / std)
    for hook in hooks:
        hook.remove()


def _spread_segment_scores(model, classes: int, spread: float) -> None:
    """Rescale a segmenter's per-pixel class layers so their logits spread by ``spread``, no bias."""
    import torch
    from torch import nn

    heads = [
        m
        for path, m in model.named_modules()
        if path.startswith("classifier") and isinstance(m, nn.Conv2d) and m.out_channels == classes
    ]
    seen: dict[nn.Module, list[torch.Tensor]] = {m: [] for m in heads}
    hooks = [m.register_forward_hook(lambda mod, args, out: seen[mod].append(out)) for m in heads]
    with torch.no_grad():
        for m in heads:
            if m.bias is not None:
                m.bias.zero_()
        image = torch.from_numpy(np.asarray(photo(5, (203, 157))).transpose(2, 0, 1).copy()).float() / 255
        model(image[None])
        for m in heads:
            std = float(seen[m][0].std(dim=1).mean())  # across classes, per pixel
            if std > 0:
                m.weight.mul_(spread / std)
        # the background (class 0) wins on about 40% of the picture, as in a real photo
        out = model(image[None])["out"][0]
        lead = (out[1:].max(0).values - out[0]).flatten()
        if heads[-1].bias is not None:
            heads[-1].bias[0] = float(lead.quantile(0.4))
    for hook in hooks:
        hook.remove()


_PLANTED: dict[tuple, Path] = {}  # each planted file, made once per session and copied after


def plant_weights(name: str, weights_name: str = "DEFAULT", seed: int = 0, spread: float = 3.0):
    """Write a random-init state dict where torchvision's cache looks for ``name``'s weights.

    The state dict has exactly the keys (and metadata) the builder loads, aux heads included,
    from a real CPU build with the builder's own initialisation. The classifier is rescaled so
    that the logits of a random image have a standard deviation of ``spread``: the top classes
    are then well apart, and a ranking test cannot pass on ties. Returns the path written.

    The same arguments always give the same file, so each is made once per session (the
    detectors' take seconds) and copied into the test's own TORCH_HOME after that.
    """
    import shutil

    import torch

    key = (name, weights_name, seed, spread)
    if key not in _PLANTED:
        made = _make_planted(name, weights_name, seed, spread)
        _PLANTED[key] = _planted_store() / f"{len(_PLANTED)}-{made.name}"
        shutil.copyfile(made, _PLANTED[key])
        return made
    path = Path(torch.hub.get_dir()) / "checkpoints" / _PLANTED[key].name.split("-", 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_PLANTED[key], path)
    return path


@functools.cache
def _planted_store() -> Path:
    import atexit
    import shutil
    import tempfile

    store = Path(tempfile.mkdtemp(prefix="cvzoo-planted-"))
    atexit.register(shutil.rmtree, store, ignore_errors=True)
    return store


def _make_planted(name: str, weights_name: str, seed: int, spread: float) -> Path:
    import torch
    from torch import nn
    from torchvision.models import get_model_builder, get_model_weights

    from cvzoo.builders import intercepted_weights

    enum = get_model_weights(name)
    weights = enum.DEFAULT if weights_name == "DEFAULT" else enum[weights_name]
    quantized = "unquantized" in weights.meta  # built and calibrated as the builder does, then saved
    captured = []

    def capture(module, state_dict, *args, **kwargs):
        captured.append((module, module.state_dict()))

    with intercepted_weights(dict, capture):
        torch.manual_seed(seed)
        if quantized:
            torch.backends.quantized.engine = weights.meta["backend"]
            get_model_builder(name)(weights=weights, quantize=True)
        else:
            get_model_builder(name)(weights=weights)
    model, state = captured[0]  # the state as loading sees it, before any head is pruned
    model.eval()
    if quantized:
        path = Path(torch.hub.get_dir()) / "checkpoints" / weights.url.rsplit("/", 1)[-1]
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(state, path)
        return path
    preset = type(weights.transforms()).__name__
    if preset in ("ImageClassification", "VideoClassification"):  # spread the class scores apart
        heads = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.Conv3d))]
        crop = weights.transforms().crop_size
        size = (2, 3, *crop * (2 if len(crop) == 1 else 1))
        if preset == "VideoClassification":
            size = (1, 3, 16, *crop * (2 if len(crop) == 1 else 1))
        with torch.no_grad():
            logits = model(torch.rand(*size)[..., :224, :224])
            logits = logits[0] if isinstance(logits, tuple) else logits
            std = float(logits.std())
            if std > 0:
                heads[-1].weight.mul_(spread / std)
                if heads[-1].bias is not None:
                    heads[-1].bias.mul_(spread / std)
    if preset == "ObjectDetection":  # class scores spread wide, so that some boxes pass 0.05
        _spread_detection_scores(model, spread)
    if preset == "SemanticSegmentation":  # several classes win somewhere, not one everywhere
        _spread_segment_scores(model, len(weights.meta["categories"]), spread)
    path = Path(torch.hub.get_dir()) / "checkpoints" / weights.url.rsplit("/", 1)[-1]
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path
