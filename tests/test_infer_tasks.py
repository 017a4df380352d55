"""infer for every task: cvzoo's results equal torchvision's own reference pipeline on the same input.

Weights are planted (random, in a temporary TORCH_HOME); the reference is what torchvision's docs
and references do with a model: ``get_model(name, weights=DEFAULT)``, ``weights.transforms()``, a
forward pass, and the task's own post-processing, written out here independently of cvzoo.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TASK_PACKAGES, photo, plant_weights, run, zoo_catalog
from PIL import Image
from torchvision.models import get_model, get_model_weights
from torchvision.transforms.functional import pil_to_tensor

from cvzoo.catalog import Task

DETECTION = sorted(
    zoo_catalog().models[n].name
    for n in zoo_catalog().models
    if zoo_catalog().models[n].task is Task.detection
)
SEGMENTATION = sorted(n for n, e in zoo_catalog().models.items() if e.task is Task.segmentation)


@pytest.fixture
def street(tmp_path) -> Path:
    """A smooth random picture of an odd size (not a multiple of 8 or 32)."""
    path = tmp_path / "street.jpg"
    photo(11, (203, 157)).save(path, quality=95)
    return path


def reference(name: str):
    weights = get_model_weights(name).DEFAULT
    return weights, get_model(name, weights=weights).eval()


def infer_json(*args: str) -> list[dict]:
    result = run("infer", *args, "-f", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def unrle(mask: dict) -> np.ndarray:
    runs, value, flat = mask["runs"], False, []
    for length in runs:
        flat += [value] * length
        value = not value
    return np.array(flat, dtype=bool).reshape(mask["size"])


@pytest.fixture
def smaller_detectors(monkeypatch):
    """Detectors that resize images to 320-416 pixels inside, not to 800-1333: the same code, sooner.

    A two-stage detector scales every image so its short side is 800 before the backbone, which is
    what makes these tests slow on a CPU. The patch changes the size for the reference and for
    cvzoo alike (both build through torchvision's builder in this process); one model in the reference
    test and the pictures' test keep the published size.
    """
    from torchvision.models.detection.transform import GeneralizedRCNNTransform

    made = GeneralizedRCNNTransform.__init__

    def smaller(self, *args, **kwargs):
        made(self, *args, **kwargs)
        if self.fixed_size is None:  # SSD's fixed 300 or 320 stays
            self.min_size, self.max_size = (320,), 416

    monkeypatch.setattr(GeneralizedRCNNTransform, "__init__", smaller)


FULL_SIZE = "maskrcnn_resnet50_fpn"  # boxes and masks checked at the size the weights were made for


# --- detection, instance segmentation, keypoints: every DEFAULT set -------------------------------


@pytest.mark.parametrize("name", DETECTION)
def test_detections_equal_torchvisions_reference(warm_cache, street, name, request):
    if name != FULL_SIZE:
        request.getfixturevalue("smaller_detectors")
    plant_weights(name)
    weights, model = reference(name)
    with torch.no_grad():
        expected = model([weights.transforms()(Image.open(street).convert("RGB"))])[0]
    assert len(expected["scores"]) > 0, "planted weights must find something, or this proves nothing"
    rows = infer_json(name, str(street), "--threshold", "0")
    found = rows[0]["detections"]
    assert [d["index"] for d in found] == expected["labels"].tolist()
    assert [d["label"] for d in found] == [weights.meta["categories"][i] for i in expected["labels"]]
    assert np.allclose([d["score"] for d in found], expected["scores"].numpy(), atol=1e-4)
    assert np.allclose(
        np.array([d["box"] for d in found]).reshape(-1, 4), expected["boxes"].numpy(), atol=1e-4
    )
    if "masks" in expected:
        for d, m in zip(found, expected["masks"], strict=True):
            assert (unrle(d["mask"]) == (m[0] >= 0.5).numpy()).all()  # the same pixels, every one
    if "keypoints" in expected:
        names = weights.meta["keypoint_names"]
        for d, points, scores in zip(found, expected["keypoints"], expected["keypoints_scores"], strict=True):
            assert [k["name"] for k in d["keypoints"]] == names
            assert np.allclose([[k["x"], k["y"]] for k in d["keypoints"]], points[:, :2].numpy(), atol=1e-4)
            assert np.allclose([k["score"] for k in d["keypoints"]], scores.numpy(), atol=1e-4)


def test_threshold_and_top_k_limit_what_is_shown(warm_cache, street, smaller_detectors):
    name = "retinanet_resnet50_fpn"
    plant_weights(name)
    everything = infer_json(name, str(street), "--threshold", "0")[0]["detections"]
    scores = [d["score"] for d in everything]
    assert scores == sorted(scores, reverse=True) and len(scores) > 3
    cut = scores[2]
    over = infer_json(name, str(street), "--threshold", str(cut))[0]["detections"]
    assert [d["score"] for d in over] == [s for s in scores if s >= cut]
    assert infer_json(name, str(street), "--threshold", "0", "-k", "2")[0]["detections"] == everything[:2]


# --- semantic segmentation: every DEFAULT set -------------------------------------------------------


@pytest.fixture
def smaller_segmenters(monkeypatch):
    """Segmentation presets that resize to a short side of 260, not 520: the same code, sooner.

    The patch changes the preset for the reference and for cvzoo alike (both take the weights'
    ``transforms()`` in this process); one model keeps the published size.
    """
    from torchvision.transforms._presets import SemanticSegmentation

    made = SemanticSegmentation.__init__

    def smaller(self, *args, **kwargs):
        made(self, *args, **kwargs)
        self.resize_size = [260]

    monkeypatch.setattr(SemanticSegmentation, "__init__", smaller)


@pytest.mark.parametrize("name", SEGMENTATION)
def test_segment_shares_equal_torchvisions_class_map(warm_cache, street, name, request):
    if name != "deeplabv3_mobilenet_v3_large":  # at the published size; the others at half of it
        request.getfixturevalue("smaller_segmenters")
    plant_weights(name)
    weights, model = reference(name)
    with torch.no_grad():
        out = model(weights.transforms()(Image.open(street).convert("RGB")).unsqueeze(0))["out"][0]
    classes = out.argmax(0)
    counts = torch.bincount(classes.flatten(), minlength=out.shape[0])
    expected = {
        weights.meta["categories"][i]: round(int(c) / classes.numel(), 6) for i, c in enumerate(counts) if c
    }
    segments = infer_json(name, str(street))[0]["segments"]
    assert {s["label"]: s["share"] for s in segments} == expected
    assert [s["share"] for s in segments] == sorted((s["share"] for s in segments), reverse=True)


# --- video ------------------------------------------------------------------------------------------


def _frames(folder: Path, count: int, size=(96, 80)) -> list[Path]:
    folder.mkdir()
    paths = []
    for i in range(count):
        paths.append(folder / f"frame{i}.png")
        photo(100 + i, size).save(paths[-1])
    return paths


def _video_reference(name: str, frames: torch.Tensor, clips: int, length: int) -> torch.Tensor:
    """Clips evenly spread over the frames, the weights' transforms, softmax averaged."""
    weights, model = reference(name)
    starts = torch.linspace(0, frames.shape[0] - length, clips).round().long().unique()
    batch = weights.transforms()(torch.stack([frames[s : s + length] for s in starts]))
    with torch.no_grad():
        return torch.softmax(model(batch), dim=1).mean(0)


@pytest.mark.parametrize("size", [(96, 80), (400, 300)], ids=["small", "shrunk-as-decoded"])
def test_a_clip_from_a_folder_of_frames_equals_the_reference(warm_cache, tmp_path, size):
    """Frames larger than the weights' resize are shrunk as they are decoded: the same numbers."""
    plant_weights("r3d_18")
    paths = _frames(tmp_path / "clip", 24, size)
    frames = torch.stack([pil_to_tensor(Image.open(p).convert("RGB")) for p in paths])
    expected = _video_reference("r3d_18", frames, clips=5, length=16)  # r3d_18: 5 clips of 16 frames
    row = infer_json("r3d_18", str(tmp_path / "clip"), "-k", "3")[0]
    values, indices = expected.topk(3)
    assert [p["index"] for p in row["predictions"]] == indices.tolist()
    assert np.allclose([p["probability"] for p in row["predictions"]], values.numpy(), atol=1e-4)
    assert row["task"] == "video" and "warning" not in row


def test_a_video_file_is_resampled_to_the_weights_frame_rate(warm_cache, tmp_path):
    av = pytest.importorskip("av", reason="the video extra (PyAV) is not installed")
    plant_weights("r3d_18")
    path = tmp_path / "clip.mp4"
    raw = [np.asarray(photo(200 + i, (96, 80))) for i in range(40)]
    with av.open(str(path), "w") as container:  # 40 frames at 30 fps: 20 at r3d_18's 15
        stream = container.add_stream("mpeg4", rate=30)
        stream.width, stream.height, stream.pix_fmt = 96, 80, "yuv420p"
        for picture in raw:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode())
    with av.open(str(path)) as container:  # the decoded frames (the codec is lossy), every other one
        decoded = [
            torch.from_numpy(f.to_ndarray(format="rgb24")).permute(2, 0, 1) for f in container.decode(video=0)
        ]
    expected = _video_reference("r3d_18", torch.stack(decoded[::2]), clips=5, length=16)
    row = infer_json("r3d_18", str(path), "-k", "2")[0]
    values, indices = expected.topk(2)
    assert [p["index"] for p in row["predictions"]] == indices.tolist()
    assert np.allclose([p["probability"] for p in row["predictions"]], values.numpy(), atol=1e-4)


def test_a_short_gif_is_looped_and_says_so(warm_cache, tmp_path):
    plant_weights("r3d_18")
    gif = tmp_path / "short.gif"
    frames = [photo(300 + i, (64, 48)) for i in range(5)]
    frames[0].save(gif, save_all=True, append_images=frames[1:])
    result = run("infer", "r3d_18", str(gif), "-f", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)[0]["warning"] == "the clip has 5 frames, fewer than 16: looped"
    assert result.stderr.startswith("warning: the clip has 5 frames")


# --- optical flow -----------------------------------------------------------------------------------


def _flow_reference(first: Path, second: Path) -> torch.Tensor:
    weights, model = reference("raft_small")
    a, b = (pil_to_tensor(Image.open(p).convert("RGB")).unsqueeze(0) for p in (first, second))
    a, b = weights.transforms()(a, b)
    height, width = a.shape[-2:]
    tall, wide = -height % 8, -width % 8
    pads = (wide // 2, wide - wide // 2, tall // 2, tall - tall // 2)  # as torchvision's Sintel padder
    a, b = (torch.nn.functional.pad(t, pads, mode="replicate") for t in (a, b))
    with torch.no_grad():
        field = model(a, b)[-1][0]
    return field[:, pads[2] : field.shape[1] - pads[3], pads[0] : field.shape[2] - pads[1]]


@pytest.mark.parametrize("size", [(160, 128), (157, 131)], ids=["multiple-of-8", "padded"])
def test_flow_equals_the_reference_and_pairs_consecutive_inputs(warm_cache, tmp_path, size):
    plant_weights("raft_small")
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"f{i}.png")
        photo(400 + i, size).save(paths[-1])
    rows = infer_json("raft_small", *map(str, paths), "--out", str(tmp_path / "out"))
    assert [(r["image"], r["next"]) for r in rows] == [
        (str(paths[0]), str(paths[1])),
        (str(paths[1]), str(paths[2])),
    ]
    for row, (a, b) in zip(rows, [(paths[0], paths[1]), (paths[1], paths[2])], strict=True):
        field = _flow_reference(a, b)
        magnitude = field.norm(dim=0)
        assert row["flow"]["size"] == [size[1], size[0]]
        assert row["flow"]["mean_magnitude"] == pytest.approx(float(magnitude.mean()), abs=1e-4)
        assert row["flow"]["max_magnitude"] == pytest.approx(float(magnitude.max()), abs=1e-4)
        from torchvision.utils import flow_to_image

        drawn = np.asarray(Image.open(row["output"]))
        colours = flow_to_image(field).permute(1, 2, 0).numpy()
        above = drawn[: colours.shape[0], : colours.shape[1]]  # the key and the speeds are below
        assert np.abs(above.astype(int) - colours).max() <= 1
        assert drawn.shape[0] > colours.shape[0] and (drawn[colours.shape[0] :] < 128).any()


def test_flow_needs_two_frames(warm_cache, tmp_path):
    photo(1).save(tmp_path / "one.jpg")
    result = run("infer", "raft_small", str(tmp_path / "one.jpg"))
    assert result.exit_code == 2
    assert (
        result.stderr.strip() == "error: optical flow needs two frames: give two or more images, or a video"
    )


def test_every_task_is_served(warm_cache):
    """Every task of the zoo has its runner: none is refused any more."""
    from torchvision.models import list_models

    from cvzoo.infer import kind
    from cvzoo.registry import build

    served = {kind(build(list_models(module=TASK_PACKAGES[t])[0], catalog=warm_cache)) for t in Task}
    assert served == set(Task) - {Task.quantized}  # quantized models are classifiers


@pytest.mark.parametrize(
    ("name", "task"),
    [
        ("ssdlite320_mobilenet_v3_large", "detection"),
        ("lraspp_mobilenet_v3_large", "segmentation"),
        ("r3d_18", "video"),
        ("raft_small", "optical_flow"),
    ],
)
def test_every_task_computes_in_the_precision_asked_for(warm_cache, tmp_path, name, task, compute_dtypes):
    """--precision bf16 reaches the model of every task (autocast), and the results stay fp32 numbers."""
    plant_weights(name)
    if task == "video":
        inputs = [str(tmp_path / "clip")]
        _frames(tmp_path / "clip", 16, (64, 48))
    else:
        inputs = []
        for i in range(2):
            photo(40 + i, (160, 128)).save(tmp_path / f"p{i}.png")
            inputs.append(str(tmp_path / f"p{i}.png"))
    compute_dtypes.clear()  # planting may have run the model in fp32
    rows = infer_json(name, *inputs, "--precision", "bf16", "--threshold", "0")
    assert {str(d) for d in compute_dtypes} == {"torch.bfloat16"}
    assert rows and all(row["task"] == task and "error" not in row for row in rows)
    numbers = {
        "detection": lambda row: [d["score"] for d in row["detections"]] + row["detections"][0]["box"],
        "segmentation": lambda row: [s["share"] for s in row["segments"]],
        "video": lambda row: [p["probability"] for p in row["predictions"]],
        "optical_flow": lambda row: [row["flow"]["mean_magnitude"], row["flow"]["max_magnitude"]],
    }[task](rows[0])
    assert numbers and all(isinstance(v, float) and math.isfinite(v) for v in numbers)


def test_frames_smaller_than_the_model_takes_are_an_error_of_their_own(warm_cache, tmp_path):
    plant_weights("raft_small")
    for i in range(2):
        photo(i, (120, 96)).save(tmp_path / f"s{i}.png")
    result = run("infer", "raft_small", str(tmp_path / "s0.png"), str(tmp_path / "s1.png"), "-f", "json")
    assert result.exit_code == 1
    assert (
        json.loads(result.stdout)[0]["error"]
        == "the frames are 120x96, smaller than the 128x128 the model needs"
    )


# --- a fine-tuned checkpoint, and a user's own model with its checkpoint ---------------------------


def test_a_fine_tuned_resnet18_predicts_as_the_same_model_run_by_hand(warm_cache, photos, tmp_path):
    torch.manual_seed(3)
    tuned = get_model("resnet18", weights=None, num_classes=10).eval()
    with torch.no_grad():  # a head whose outputs are well apart, as after training
        tuned.fc.weight.mul_(40)
    checkpoint = tmp_path / "my_finetuned.pt"
    torch.save({"state_dict": tuned.state_dict()}, checkpoint)
    names = [f"class {c}" for c in "ABCDEFGHIJ"]
    (tmp_path / "classes.txt").write_text("\n".join(names) + "\n")
    rows = infer_json(
        "resnet18",
        *map(str, photos[:2]),
        "--weights",
        str(checkpoint),
        "--labels",
        str(tmp_path / "classes.txt"),
    )
    preprocess = get_model_weights("resnet18").DEFAULT.transforms()  # the architecture's own
    for row, path in zip(rows, photos, strict=False):
        with torch.no_grad():
            expected = torch.softmax(tuned(preprocess(Image.open(path).convert("RGB")).unsqueeze(0)), 1)[0]
        values, indices = expected.topk(5)
        assert [p["index"] for p in row["predictions"]] == indices.tolist()
        assert [p["label"] for p in row["predictions"]] == [names[i] for i in indices]
        assert np.allclose([p["probability"] for p in row["predictions"]], values.numpy(), atol=1e-4)
    plain = infer_json("resnet18", str(photos[0]), "--weights", str(checkpoint), "-k", "1")
    assert plain[0]["predictions"][0]["label"] == str(
        plain[0]["predictions"][0]["index"]
    )  # no labels: indices


def test_labels_that_do_not_match_the_outputs_are_a_usage_error(warm_cache, photos, tmp_path):
    torch.save(get_model("resnet18", weights=None, num_classes=3).state_dict(), tmp_path / "three.pt")
    (tmp_path / "labels.json").write_text('["a", "b"]')
    result = run(
        "infer",
        "resnet18",
        str(photos[0]),
        "-w",
        str(tmp_path / "three.pt"),
        "--labels",
        str(tmp_path / "labels.json"),
    )
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: --labels has 2 names but the model gives 3 outputs"


def test_a_users_model_with_its_checkpoint_predicts_as_by_hand(warm_cache, photos, tmp_path):
    from torchvision import transforms as T

    net = tmp_path / "net.py"
    net.write_text(
        "from torch import nn\n\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())\n"
        "        self.body = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), pool)\n"
        "        self.head = nn.Linear(8, 4)\n\n"
        "    def forward(self, x):\n"
        "        return self.head(self.body(x))\n"
    )
    import importlib.util

    spec = importlib.util.spec_from_file_location("net_by_hand", net)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(4)
    model = module.Net().eval()
    with torch.no_grad():
        model.head.weight.mul_(50)
    torch.save(model.state_dict(), tmp_path / "net.pt")
    rows = infer_json(
        f"{net}:Net", str(photos[1]), "--weights", str(tmp_path / "net.pt"), "-i", "64", "-k", "4"
    )
    # ImageNet preprocessing written out by hand: resize to 256/224 of the crop, centre crop, normalise
    by_hand = T.Compose(
        [
            T.Resize(73),
            T.CenterCrop(64),
            T.ToTensor(),
            T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ]
    )
    with torch.no_grad():
        expected = torch.softmax(model(by_hand(Image.open(photos[1]).convert("RGB")).unsqueeze(0)), 1)[0]
    values, indices = expected.topk(4)
    assert [p["index"] for p in rows[0]["predictions"]] == indices.tolist()
    assert np.allclose([p["probability"] for p in rows[0]["predictions"]], values.numpy(), atol=1e-4)


# --- pictures out: real images, the drawing checked pixel by pixel ----------------------------------


def _picture(row: dict) -> np.ndarray:
    path = Path(row["output"])
    assert path.suffix == ".png" and path.is_file()
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def test_a_classification_picture_is_the_image_with_its_top_k_written_on_it(warm_cache, photos, tmp_path):
    plant_weights("squeezenet1_1")
    row = infer_json("squeezenet1_1", str(photos[0]), "--out", str(tmp_path / "out"))[0]
    assert Path(row["output"]).name == "photo0.classification.png"
    drawn, original = _picture(row), np.asarray(Image.open(photos[0]).convert("RGB")).astype(int)
    height = original.shape[0]
    assert (drawn[:height, : original.shape[1]] == original).all()  # the image itself, untouched
    band = drawn[height:]
    assert band.shape[0] > 5 * 11 and (band < 128).any() and (band == 255).any()  # 5 lines of dark text


def test_detection_pictures_draw_boxes_masks_and_skeletons(warm_cache, street, tmp_path, smaller_detectors):
    from torchvision.utils import draw_segmentation_masks

    from cvzoo.render.pictures import colour

    for name in ("fasterrcnn_resnet50_fpn", "maskrcnn_resnet50_fpn", "keypointrcnn_resnet50_fpn"):
        plant_weights(name)
        row = infer_json(name, str(street), "--threshold", "0", "-k", "1", "--out", str(tmp_path / name))[0]
        drawn, box = _picture(row), [round(c) for c in row["detections"][0]["box"]]
        fill = colour(row["detections"][0]["index"])
        x_mid, bottom = (box[0] + box[2]) // 2, min(int(row["detections"][0]["box"][3]), drawn.shape[0] - 1)
        assert tuple(drawn[bottom, x_mid]) == fill  # the box's bottom edge, in its class's colour
        if name.startswith("mask"):
            weights, model = reference(name)
            image = pil_to_tensor(Image.open(street).convert("RGB"))
            with torch.no_grad():
                mask = (
                    model([weights.transforms()(Image.open(street).convert("RGB"))])[0]["masks"][:1, 0] >= 0.5
                )
            expected = (
                draw_segmentation_masks(image, mask, alpha=0.45, colors=[fill]).permute(1, 2, 0).numpy()
            )
            inside = mask[0].numpy().copy()
            inside[: box[1] + 25] = False  # leave out the label tab and the box's top edge
            inside[:, : box[0] + 4] = inside[:, box[2] - 4 :] = False
            if inside.any():
                assert (drawn[inside] == expected[inside]).all()
        if name.startswith("keypoint"):
            tab = row["detections"][0]["box"][1] + 25  # leave out the label tab, drawn over the points
            points = [k for k in row["detections"][0]["keypoints"] if k["score"] > 0 and k["y"] > tab]
            height, width = drawn.shape[:2]
            at = [tuple(drawn[min(int(k["y"]), height - 1), min(int(k["x"]), width - 1)]) for k in points]
            # torchvision draws each point as a yellow dot, then the skeleton's lines over them in white
            assert points and all(p in ((255, 255, 0), (255, 255, 255)) for p in at)


def test_a_segmentation_picture_is_the_class_map_over_the_image_with_a_legend(warm_cache, street, tmp_path):
    from torchvision.utils import draw_segmentation_masks

    from cvzoo.render.pictures import colour

    name = "lraspp_mobilenet_v3_large"
    plant_weights(name)
    row = infer_json(name, str(street), "--out", str(tmp_path / "out"))[0]
    weights, model = reference(name)
    image = pil_to_tensor(Image.open(street).convert("RGB"))
    with torch.no_grad():
        classes = model(weights.transforms()(Image.open(street).convert("RGB")).unsqueeze(0))["out"][
            0
        ].argmax(0)
    classes = torch.nn.functional.interpolate(
        classes[None, None].float(), size=image.shape[-2:], mode="nearest"
    )[0, 0]
    background = weights.meta["categories"].index("__background__")
    present = [s["index"] for s in row["segments"] if s["index"] != background]  # left unpainted
    assert len(present) < len(row["segments"]), "the background must be present, or this proves nothing"
    masks = torch.stack([classes == i for i in present])
    expected = draw_segmentation_masks(image, masks, alpha=0.55, colors=[colour(i) for i in present])
    drawn = _picture(row)
    width = image.shape[-1]
    assert (drawn[: image.shape[1], :width] == expected.permute(1, 2, 0).numpy()).all()
    assert drawn.shape[1] > width and (drawn[:, width:] != 255).any()  # the legend beside it


def test_a_video_picture_is_a_strip_of_its_frames(warm_cache, tmp_path):
    plant_weights("r3d_18")
    paths = _frames(tmp_path / "clip", 20, size=(64, 48))
    row = infer_json("r3d_18", str(tmp_path / "clip"), "--out", str(tmp_path / "out"))[0]
    drawn = _picture(row)
    assert drawn.shape[0] > 48 and drawn.shape[1] >= 4 * 64  # four frames, the top-k below them
    first, last = (np.asarray(Image.open(p).convert("RGB")).astype(int) for p in (paths[0], paths[-1]))
    assert (drawn[:48, :64] == first).all() and (drawn[:48, 3 * 64 : 4 * 64] == last).all()


def test_pictures_are_named_after_their_inputs_and_never_overwrite_one(warm_cache, tmp_path):
    plant_weights("squeezenet1_1")
    out = tmp_path / "out"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    out.mkdir()
    photo(1).save(tmp_path / "a" / "cat.jpg")
    photo(2).save(tmp_path / "b" / "cat.jpg")
    own = out / "cat.classification.png"  # an input that sits where a picture would go
    photo(3).save(own, format="PNG")
    before = own.read_bytes()
    rows = infer_json(
        "squeezenet1_1",
        str(tmp_path / "a" / "cat.jpg"),
        str(tmp_path / "b" / "cat.jpg"),
        str(own),
        "--out",
        str(out),
    )
    names = [Path(r["output"]).name for r in rows]
    # the first would be cat.classification.png, but that is an input: it gets the next free name
    assert names == [
        "cat-2.classification.png",
        "cat-3.classification.png",
        "cat.classification.classification.png",
    ]
    assert own.read_bytes() == before and str(own) not in [r["output"] for r in rows]
    assert all(Path(r["output"]).parent == out for r in rows)


def test_out_that_is_a_file_is_a_usage_error(warm_cache, photos, tmp_path):
    plant_weights("squeezenet1_1")
    blocker = tmp_path / "file.txt"
    blocker.write_text("mine")
    result = run("infer", "squeezenet1_1", str(photos[0]), "--out", str(blocker))
    assert result.exit_code == 2 and "is a file" in result.stderr and blocker.read_text() == "mine"


# --- bad inputs, per task -----------------------------------------------------------------------------


def test_a_video_that_cannot_be_decoded_is_an_error_of_its_own(warm_cache, tmp_path):
    pytest.importorskip("av", reason="the video extra (PyAV) is not installed")
    plant_weights("r3d_18")
    (tmp_path / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x17" * 500)
    _frames(tmp_path / "good", 16)
    result = run("infer", "r3d_18", str(tmp_path / "broken.mp4"), str(tmp_path / "good"), "-f", "json")
    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    assert rows[0]["error"].startswith("cannot decode the video") and "predictions" in rows[1]
    assert result.stderr.splitlines()[0].startswith(
        f"error: {tmp_path / 'broken.mp4'}: cannot decode the video"
    )


def test_without_pyav_a_video_file_says_how_to_install_it(warm_cache, tmp_path, monkeypatch):
    import sys

    plant_weights("r3d_18")
    (tmp_path / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    _frames(tmp_path / "frames", 16)
    monkeypatch.setitem(sys.modules, "av", None)
    rows = json.loads(
        run("infer", "r3d_18", str(tmp_path / "clip.mp4"), str(tmp_path / "frames"), "-f", "json").stdout
    )
    assert (
        rows[0]["error"]
        == "reading video files needs PyAV: pip install 'cvzoo[video]' (or use a folder of frames or a GIF)"
    )
    assert "predictions" in rows[1]  # frame folders always work


def test_a_bad_image_among_detections_fails_alone(warm_cache, street, tmp_path):
    plant_weights("ssdlite320_mobilenet_v3_large")
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    result = run("infer", "ssdlite320_mobilenet_v3_large", str(bad), str(street), "-f", "json")
    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    assert (
        rows[0] == {"image": str(bad), "task": "detection", "error": rows[0]["error"]}
        and "detections" in rows[1]
    )


# --- output for scripts: a JSON object and CSV lines per input, per task ------------------------------


@pytest.mark.parametrize(
    ("name", "extra", "fields", "header"),
    [
        ("squeezenet1_1", [], {"predictions"}, "image,rank,index,label,probability,error"),
        ("maskrcnn_resnet50_fpn", ["--threshold", "0", "-k", "2"], {"detections"},
         "image,rank,index,label,score,x1,y1,x2,y2,mask_pixels,keypoints,error"),
        ("lraspp_mobilenet_v3_large", [], {"segments"}, "image,index,label,share,error"),
    ],
)  # fmt: skip
def test_json_and_csv_per_task(warm_cache, street, name, extra, fields, header, smaller_detectors):
    import csv
    import io

    plant_weights(name)
    row = infer_json(name, str(street), *extra)[0]
    assert set(row) == {"image", "task"} | fields and row["task"] == zoo_catalog().get(name).task.value
    text = run("infer", name, str(street), *extra, "-f", "csv").stdout
    lines = list(csv.reader(io.StringIO(text)))
    assert ",".join(lines[0]) == header
    found = row[next(iter(fields))]
    assert len(lines) - 1 == len(found) and all(line[0] == str(street) for line in lines[1:])
    if "detections" in fields:
        assert [float(v) for v in lines[1][5:9]] == found[0]["box"]
        assert int(lines[1][9]) == found[0]["mask"]["pixels"]


# --- what a review tried: batches of mixed sizes, slivers, odd names, fine-tuned detectors -----------


def test_an_image_in_a_batch_of_other_sizes_gets_what_it_gets_alone(warm_cache, tmp_path):
    """Detectors pad a batch to its largest image; cvzoo never batches images of different sizes."""
    name = "fasterrcnn_mobilenet_v3_large_320_fpn"
    plant_weights(name)
    paths = [tmp_path / "big.jpg", tmp_path / "small.jpg", tmp_path / "big2.jpg"]
    for path, seed, size in zip(paths, (1, 2, 3), [(320, 240), (150, 200), (320, 240)], strict=True):
        photo(seed, size).save(path, quality=95)
    weights, model = reference(name)
    rows = infer_json(name, *map(str, paths), "--threshold", "0")
    for row, path in zip(rows, paths, strict=True):
        with torch.no_grad():
            alone = model([weights.transforms()(Image.open(path).convert("RGB"))])[0]
        assert len(alone["scores"]) > 0
        found = row["detections"]
        assert np.allclose([d["score"] for d in found], alone["scores"].numpy(), atol=1e-4)
        assert np.allclose(
            np.array([d["box"] for d in found]).reshape(-1, 4), alone["boxes"].numpy(), atol=1e-4
        )


@pytest.mark.parametrize(
    "name", ["squeezenet1_1", "lraspp_mobilenet_v3_large", "fasterrcnn_mobilenet_v3_large_320_fpn"]
)
def test_a_sliver_of_an_image_fails_alone(warm_cache, tmp_path, name):
    """A 3x4000 image would be resized to hundreds of thousands of pixels a side: an error of its own."""
    plant_weights(name)
    Image.new("RGB", (4000, 3), "white").save(tmp_path / "sliver.png")
    photo(1, (200, 150)).save(tmp_path / "fine.jpg")
    result = run("infer", name, str(tmp_path / "sliver.png"), str(tmp_path / "fine.jpg"), "-f", "json")
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    sliver, fine = json.loads(result.stdout)
    assert set(sliver) == {"image", "task", "error"} and "\n" not in sliver["error"]
    assert "error" not in fine


def test_a_hash_in_an_input_path_is_part_of_the_picture_name(warm_cache, tmp_path):
    plant_weights("squeezenet1_1")
    (tmp_path / "run#2").mkdir()
    photo(1).save(tmp_path / "run#2" / "a.jpg")
    rows = infer_json("squeezenet1_1", str(tmp_path / "run#2" / "a.jpg"), "--out", str(tmp_path / "out"))
    assert rows[0]["output"] == str(tmp_path / "out" / "a.classification.png")


def test_flow_from_one_gif_pairs_its_frames_and_an_undecodable_video_is_an_error(warm_cache, tmp_path):
    plant_weights("raft_small")
    frames = [photo(60 + i, (160, 128)) for i in range(3)]
    frames[0].save(tmp_path / "moving.gif", save_all=True, append_images=frames[1:])
    rows = infer_json("raft_small", str(tmp_path / "moving.gif"))
    assert [(r["image"], r["next"]) for r in rows] == [
        (f"{tmp_path / 'moving.gif'}#0", f"{tmp_path / 'moving.gif'}#1"),
        (f"{tmp_path / 'moving.gif'}#1", f"{tmp_path / 'moving.gif'}#2"),
    ]
    pytest.importorskip("av", reason="the video extra (PyAV) is not installed")
    (tmp_path / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x17" * 500)
    result = run("infer", "raft_small", str(tmp_path / "broken.mp4"), "-f", "json")
    assert result.exit_code == 1
    (row,) = json.loads(result.stdout)
    assert row["error"] == "cannot decode the video: Invalid data found when processing input"


def test_an_image_with_nothing_found_still_has_a_csv_line():
    from cvzoo.infer.results import Result
    from cvzoo.render.predictions import predictions_csv

    results = [
        Result("empty.jpg", "detection", detections=[]),
        Result("bad.jpg", "detection", error="empty file"),
    ]
    assert predictions_csv(results).splitlines()[1:] == [
        "empty.jpg,,,,,,,,,,,",
        "bad.jpg,,,,,,,,,,,empty file",
    ]


@pytest.mark.xdist_group("architectures")  # summary FILE indexes the zoo once per worker: one worker
def test_a_detector_fine_tuned_as_the_tutorial_does_predicts_as_by_hand(warm_cache, street, tmp_path):
    """The tutorial's recipe: a pretrained Faster R-CNN, its box predictor replaced for 2 classes."""
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor

    name = "fasterrcnn_mobilenet_v3_large_320_fpn"
    plant_weights(name)
    _, model = reference(name)
    model.roi_heads.box_predictor = FastRCNNPredictor(model.roi_heads.box_predictor.cls_score.in_features, 2)
    torch.manual_seed(0)
    with torch.no_grad():  # a head that finds things, as after training
        model.roi_heads.box_predictor.cls_score.weight.normal_(0, 0.5)
    checkpoint = tmp_path / "pedestrians.pt"
    torch.save(model.state_dict(), checkpoint)
    (tmp_path / "names.txt").write_text("pedestrian\n")  # the objects alone: the background is implied
    summary = run("summary", str(checkpoint))
    assert f"{name}, num_classes=2" in summary.stdout
    labels = str(tmp_path / "names.txt")
    rows = infer_json(name, str(street), "-w", str(checkpoint), "--labels", labels, "--threshold", "0")
    weights = get_model_weights(name).DEFAULT
    with torch.no_grad():
        expected = model.eval()([weights.transforms()(Image.open(street).convert("RGB"))])[0]
    assert len(expected["scores"]) > 0, "the fine-tuned head must find something, or this proves nothing"
    found = rows[0]["detections"]
    assert {d["label"] for d in found} == {"pedestrian"}
    assert np.allclose([d["score"] for d in found], expected["scores"].numpy(), atol=1e-4)
    boxes = np.array([d["box"] for d in found]).reshape(-1, 4)
    assert np.allclose(boxes, expected["boxes"].numpy(), atol=1e-4)


def test_a_segmenter_fine_tuned_for_five_classes_takes_their_names(warm_cache, street, tmp_path):
    name = "lraspp_mobilenet_v3_large"
    plant_weights(name)
    weights, model = reference(name)
    model.classifier.low_classifier = torch.nn.Conv2d(40, 5, 1)
    model.classifier.high_classifier = torch.nn.Conv2d(128, 5, 1)
    torch.save(model.state_dict(), tmp_path / "five.pt")
    names = ["sky", "road", "tree", "car", "person"]
    (tmp_path / "names.json").write_text(json.dumps(names))
    row = infer_json(
        name, str(street), "-w", str(tmp_path / "five.pt"), "--labels", str(tmp_path / "names.json")
    )[0]
    with torch.no_grad():
        classes = model.eval()(weights.transforms()(Image.open(street).convert("RGB"))[None])["out"][
            0
        ].argmax(0)
    present = classes.unique().tolist()
    assert {s["index"] for s in row["segments"]} == set(present)
    assert {s["label"] for s in row["segments"]} == {names[i] for i in present}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda path: path.write_text("hello"),
            "cannot read checkpoint '{path}': neither a file of torch.save",
        ),
        (
            lambda path: torch.save(torch.nn.Linear(2, 2), path),
            "refused to load '{path}': it holds Python objects",
        ),
        (lambda path: None, "checkpoint '{path}' does not exist"),
    ],
    ids=["text", "a-whole-pickled-model", "missing"],
)
def test_a_checkpoint_that_is_no_state_dict_is_one_clear_line(warm_cache, tmp_path, make, message):
    path = tmp_path / "model.pt"
    make(path)
    result = run("summary", str(path))
    assert result.exit_code in (1, 2) and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: " + message.format(path=path)) and "\x1b" not in line


def test_flow_gives_a_frame_with_no_neighbour_an_error_of_its_own(warm_cache, tmp_path):
    plant_weights("raft_small")
    for name, seed in (("a", 1), ("c", 2), ("d", 3)):
        photo(seed, (160, 128)).save(tmp_path / f"{name}.png")
    (tmp_path / "b.png").write_text("not an image")
    result = run("infer", "raft_small", *(str(tmp_path / f"{n}.png") for n in "abcd"), "-f", "json")
    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    assert [Path(r["image"]).name for r in rows] == ["a.png", "b.png", "c.png"]
    assert rows[0]["error"].startswith("optical flow needs two frames in a row")
    assert "error" in rows[1] and Path(rows[2]["next"]).name == "d.png" and "flow" in rows[2]


def test_labels_for_a_segmenter_are_checked_before_any_image(warm_cache, street, tmp_path):
    plant_weights("lraspp_mobilenet_v3_large")
    (tmp_path / "three.txt").write_text("a\nb\nc\n")
    result = run("infer", "lraspp_mobilenet_v3_large", str(street), "--labels", str(tmp_path / "three.txt"))
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.strip() == "error: --labels has 3 names but the model gives 21 outputs"


def test_a_segmenter_fine_tuned_for_one_class_fits():
    from cvzoo import architectures
    from cvzoo.builders import build_architecture

    entry = zoo_catalog().get("deeplabv3_mobilenet_v3_large")
    arguments = {"num_classes": 1, "aux_loss": False}
    binary = build_architecture(entry, None, arguments, pretrained_backbone=True)
    fit = architectures.fit_model(entry, architectures.shapes_of(binary.state_dict()))
    assert fit is not None and fit.describe() == "deeplabv3_mobilenet_v3_large, num_classes=1, aux_loss=False"
