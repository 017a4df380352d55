"""cvzoo graph: the wiring of the milestone models, summary's numbers on every node, folds, and
pictures that are drawn right (SVG, PNG and the HTML page in a real browser) with no Graphviz.

Counts are derived independently: residual blocks and dense layers from torchvision's own module
classes, Inception's branches from its modules' names, totals and rows from ``cvzoo summary``.
"""

from __future__ import annotations

import functools
import inspect
import io
import json
import math
import re
import shutil
import subprocess
import warnings
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import run, zoo_catalog
from PIL import Image

from cvzoo.graph import Graph, model_graph
from cvzoo.render.diagram import scene

EXAMPLE = str(Path(__file__).parent.parent / "examples" / "mynet.py")


@pytest.fixture(autouse=True)
def _no_graphviz(monkeypatch, tmp_path_factory):
    """No program on PATH: whatever is drawn here is drawn without Graphviz's ``dot``."""
    monkeypatch.setenv("PATH", str(tmp_path_factory.mktemp("empty-path")))


@functools.cache
def graph_json(*args: str) -> dict:
    result = run("graph", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@functools.cache
def built(name: str):
    import torch
    from torchvision.models import get_model

    with torch.device("meta"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # inception_v3's note on its initialisation
        return get_model(name)


def inputs_of(graph: dict) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {n["id"]: [] for n in graph["nodes"]}
    for source, target in graph["edges"]:
        found[target].append(source)
    return found


def nodes_by_id(graph: dict) -> dict[str, dict]:
    return {n["id"]: n for n in graph["nodes"]}


# --- the wiring ------------------------------------------------------------------------------------


def test_resnet18_has_a_residual_add_per_basic_block_each_fed_by_two_edges():
    from torchvision.models.resnet import BasicBlock

    graph = graph_json("resnet18", "--no-collapse")
    blocks = [p for p, m in built("resnet18").named_modules() if isinstance(m, BasicBlock)]
    adds = [n for n in graph["nodes"] if n["op"] == "add"]
    assert len(blocks) == 8
    assert sorted(n["group"] for n in adds) == sorted(blocks)
    feeds = inputs_of(graph)
    for add in adds:
        block = add["group"]
        sources = feeds[add["id"]]
        assert len(sources) == 2, sources
        # one from the block's own last BatchNorm, the other from outside the block (the skip)
        assert f"{block}.bn2" in sources
        skip = next(s for s in sources if s != f"{block}.bn2")
        assert not skip.startswith(block + ".") or skip == f"{block}.downsample"


def test_resnet18_nodes_carry_summary_numbers():
    graph = graph_json("resnet18", "--no-collapse", "--depth", "3")
    summary = run("summary", "resnet18", "--no-collapse", "--depth", "3", "--receptive-field", "-f", "json")
    rows = {r["name"]: r for r in json.loads(summary.stdout)["layers"]}
    modules = [n for n in graph["nodes"] if n["op"] is None]
    assert len(modules) > 40

    def field(item):
        return item["receptive_field"], item["rf_stride"], item["rf_offset"]

    for node in modules:
        row = rows[node["name"]]
        assert (node["params"] if ":" not in node["id"] else row["params"]) == row["params"]
        assert node["output_shape"] == row["output_shape"]
        assert node["type"] == row["type"]
        if ":" not in node["id"]:  # a module called once: summary's row, read by its own hook
            assert field(node) == field(row)
    # A block's second ReLU and its residual add see what the whole block outputs (summary's row for
    # the block), not what the first ReLU saw: each call and each operation has its own field.
    nodes = nodes_by_id(graph)
    for block in [b for b in rows if re.fullmatch(r"layer\d\.\d", b)]:
        assert field(nodes[f"{block}.relu:2"]) == field(nodes[f"{block}.add"]) == field(rows[block])
        assert nodes[f"{block}.relu:1"]["receptive_field"] != rows[block]["receptive_field"]
    fields = {n["name"]: n["receptive_field"] for n in modules}
    assert fields["conv1"] == [7, 7] and fields["fc"] is None  # the stem's kernel; global after pooling
    totals = json.loads(summary.stdout)
    assert sum(n["params"] for n in graph["nodes"]) == totals["total_params"] == graph["params"]
    assert sum(n["macs"] for n in graph["nodes"]) == totals["macs"] == graph["macs"]


def test_densenet121_concatenates_every_earlier_layer():
    from torchvision.models.densenet import _DenseBlock, _DenseLayer

    graph = graph_json("densenet121", "--depth", "3")
    feeds = inputs_of(graph)
    nodes = nodes_by_id(graph)
    model = built("densenet121")
    blocks = {p: m for p, m in model.named_modules() if isinstance(m, _DenseBlock)}
    assert len(blocks) == 4
    for path, block in blocks.items():
        layers = [f"{path}.{n}" for n, m in block.named_children() if isinstance(m, _DenseLayer)]
        (cat,) = [n for n in graph["nodes"] if n["op"] == "cat" and n["group"] == path]
        # the block's input and every layer's output, side by side
        assert len(feeds[cat["id"]]) == len(layers) + 1
        assert set(layers) <= set(feeds[cat["id"]])
        for k, layer in enumerate(layers):
            assert len(feeds[layer]) == k + 1  # the block's input and each earlier layer
            assert set(layers[:k]) <= set(feeds[layer])
        # its channels: the block's input and every layer's new ones, stacked
        channels = sum(nodes[s]["output_shape"][1] for s in feeds[cat["id"]])
        assert nodes[cat["id"]]["output_shape"][1] == channels


def branch_count(block) -> int:
    """Inception branches by torchvision's module names (branch3x3dbl_1, _2, _3a... are one branch),
    plus the pooling branch some blocks write as a function call."""
    names = {re.sub(r"_\d+[ab]?$", "", n) for n, _ in block.named_children() if n.startswith("branch")}
    pooled = "max_pool2d" in inspect.getsource(type(block)._forward)
    return len(names) + pooled


def test_inception_v3_branches_meet_in_one_concatenation():
    graph = graph_json("inception_v3", "--depth", "2")
    feeds = inputs_of(graph)
    model = built("inception_v3")
    mixed = [(n, m) for n, m in model.named_children() if n.startswith("Mixed_")]
    assert len(mixed) == 11
    for name, block in mixed:
        cats = [n for n in graph["nodes"] if n["op"] == "cat" and n["group"] == name]
        final = cats[-1]  # the block's last operation: what it returns
        assert len(feeds[final["id"]]) == branch_count(block), name
        # the branches start side by side from one tensor: the block's input
        inside = [n["id"] for n in graph["nodes"] if n["group"] == name]
        outside = Counter(s for i in inside for s in feeds[i] if s not in inside)
        assert len(outside) == 1 and outside.most_common(1)[0][1] >= 3, (name, outside)


def test_resnet152_folds_its_repeated_blocks_as_summary_does():
    graph = graph_json("resnet152")
    assert len(graph["nodes"]) < 60
    folded = {n["name"]: n for n in graph["nodes"] if n["repeat"] > 1}
    assert folded["layer3.1-35"]["repeat"] == 35
    summary = json.loads(run("summary", "resnet152", "--format", "json").stdout)
    rows = {r["name"]: r for r in summary["layers"]}
    for name, node in folded.items():
        assert (rows[name]["count"], rows[name]["params"], rows[name]["macs"]) == (
            node["repeat"],
            node["params"],
            node["macs"],
        )
    assert sum(n["params"] for n in graph["nodes"]) == summary["total_params"]
    assert sum(n["macs"] for n in graph["nodes"]) == summary["macs"]


def test_squeeze_and_excitation_multiplies_the_features_by_the_gate():
    from torchvision.ops.misc import SqueezeExcitation

    graph = graph_json("efficientnet_b0", "--depth", "6", "--no-collapse")
    feeds = inputs_of(graph)
    gates = [p for p, m in built("efficientnet_b0").named_modules() if isinstance(m, SqueezeExcitation)]
    muls = {n["group"]: n for n in graph["nodes"] if n["op"] == "mul"}
    assert set(muls) == set(gates)
    for gate, mul in muls.items():
        sources = feeds[mul["id"]]
        assert f"{gate}.scale_activation" in sources and len(sources) == 2


def test_vit_block_shows_its_residuals_and_attention_matmuls():
    graph = graph_json("vit_b_16", "--depth", "5", "--no-collapse")
    feeds = inputs_of(graph)
    block = "encoder.layers.encoder_layer_0"
    adds = [n for n in graph["nodes"] if n["op"] == "add" and n["group"] == block]
    assert len(adds) == 2 and all(len(feeds[a["id"]]) == 2 for a in adds)
    bmm = [n for n in graph["nodes"] if n["op"] == "bmm" and n["group"] == f"{block}.self_attention"]
    assert len(bmm) == 2  # queries x keys, then attention x values
    assert bmm[0]["id"] in feeds[bmm[1]["id"]]
    assert all(n["macs"] > 0 for n in bmm)
    # the class token and the position embedding join the data as parameters
    cat = next(n for n in graph["nodes"] if n["op"] == "cat" and n["group"] is None)
    assert cat["params"] == 768
    summary = json.loads(run("summary", "vit_b_16", "--format", "json").stdout)
    assert sum(n["params"] for n in graph["nodes"]) == summary["total_params"]
    assert sum(n["macs"] for n in graph["nodes"]) == summary["macs"]


def test_a_users_residual_block():
    graph = graph_json(f"{EXAMPLE}:ResidualBlock", "-k", "channels=8", "-i", "1,8,24,24")
    (add,) = [n for n in graph["nodes"] if n["op"] == "add"]
    assert sorted(inputs_of(graph)[add["id"]]) == ["bn2", "in:x"]
    tiny = graph_json(f"{EXAMPLE}:TinyNet", "-i", "32")
    assert [n["repeat"] for n in tiny["nodes"] if n["name"] == "blocks.0-1"] == [2]


def test_depth_zero_is_the_model_as_one_box():
    graph = graph_json("resnet18", "--depth", "0")
    assert [n["type"] for n in graph["nodes"]] == ["Input", "ResNet"]
    assert graph["edges"] == [["in:x", "ResNet"]] and graph["outputs"] == ["ResNet"]


def test_the_default_view_opens_blocks_that_wire_before_chains():
    dense = graph_json("densenet201")
    ops = Counter(n["op"] for n in dense["nodes"])
    assert ops["cat"] >= 2 and len(dense["nodes"]) <= 80  # one dense block open, with a layer's insides
    inception = graph_json("inception_v3")
    assert Counter(n["op"] for n in inception["nodes"])["cat"] >= 4
    assert all(n["type"] != "BatchNorm2d" for n in inception["nodes"])  # conv-bn pairs read as one box


# --- pictures --------------------------------------------------------------------------------------


def picture(name: str, *args: str, suffix: str, tmp_path: Path) -> Path:
    out = tmp_path / f"{name.rsplit(':', 1)[-1]}{suffix}"
    result = run("graph", name, *args, "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "" and f"wrote {out}" in result.stderr
    return out


def test_svg_is_valid_and_names_every_node(tmp_path):
    out = picture("resnet152", suffix=".svg", tmp_path=tmp_path)
    root = ET.parse(out).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    groups = root.findall(".//{http://www.w3.org/2000/svg}g[@class='node']")
    graph = graph_json("resnet152")
    assert [g.get("data-id") for g in groups] == [n["id"] for n in graph["nodes"]]
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"conv1", "downsample", "1-35", "×35", "+"} <= texts


def test_png_decodes_and_shows_each_box_where_the_layout_put_it(tmp_path, zoo):
    out = picture("resnet18", suffix=".png", tmp_path=tmp_path)
    image = Image.open(out)
    image.load()
    result = model_graph("resnet18", catalog=zoo)
    drawn = scene(result)
    assert image.size == (math.ceil(drawn.width), math.ceil(drawn.height))
    pixels = image.convert("RGB")
    fronts = {s.node: s for s in drawn.shapes if s.kind == "rect" and s.node and s.height > 20}
    for box in fronts.values():  # each node's box (the front one of a folded run's stack)
        # the fill colour inside the box, below its text
        x, y = round(box.x + box.width * 0.3), round(box.y + box.height - 5)
        want = tuple(int(box.fill[i : i + 2], 16) for i in (1, 3, 5))
        assert all(abs(a - b) <= 12 for a, b in zip(pixels.getpixel((x, y)), want, strict=True)), box
    ink = int((np.asarray(pixels).max(axis=2) < 90).sum())
    assert ink > 2000  # names and numbers are painted (dark text), not only boxes


def test_formats_follow_the_suffix_unless_told(tmp_path):
    for suffix, head in ((".dot", b"digraph"), (".mmd", b"flowchart TB"), (".json", b"{")):
        out = picture("resnet18", "-d", "1", suffix=suffix, tmp_path=tmp_path)
        assert out.read_bytes().startswith(head)
    forced = tmp_path / "graph.txt"
    result = run("graph", "resnet18", "-d", "1", "--out", str(forced), "--format", "mermaid")
    assert result.exit_code == 0 and forced.read_text().startswith("flowchart TB")
    bad = run("graph", "resnet18", "--out", str(tmp_path / "graph.txt"))
    assert bad.exit_code == 2 and bad.stderr.startswith("error: --out")
    missing = run("graph", "resnet18", "--out", str(tmp_path / "nowhere" / "g.svg"))
    assert missing.exit_code == 2 and "does not exist" in missing.stderr


def test_mermaid_and_dot_name_every_node_and_edge():
    graph = graph_json("inception_v3", "--depth", "2")
    text = run("graph", "inception_v3", "--depth", "2", "--format", "mermaid").stdout
    assert text.count(" --> ") == len(graph["edges"])
    assert text.count("subgraph ") == len(graph["groups"]) == text.count("\n  end") + text.count("\n    end")
    dot = run("graph", "inception_v3", "--depth", "2", "--format", "dot").stdout
    assert dot.count(" -> ") == len(graph["edges"])
    assert len(re.findall(r"^\s+n\d+ \[label=", dot, flags=re.MULTILINE)) == len(graph["nodes"])


# --- the page, in a real browser ------------------------------------------------------------------

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def browser() -> str | None:
    for name in BROWSERS:
        for folder in ("/usr/bin", "/usr/local/bin", "/snap/bin"):
            if Path(folder, name).is_file():
                return str(Path(folder, name))
        found = shutil.which(name)
        if found:
            return found
    return None


BROWSER = browser()
needs_browser = pytest.mark.skipif(
    BROWSER is None, reason="no Chromium installed (Debian: apt-get install chromium)"
)


def chromium(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    command = [
        str(BROWSER),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--proxy-server=127.0.0.1:9",  # any request for the network fails: the page must not need one
        "--window-size=1400,900",
        *args,
        url,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)


def state(dom: str) -> dict[str, str]:
    body = re.search(r"<body([^>]*)>", dom)
    assert body is not None, dom[:500]
    return dict(re.findall(r'data-(\w+)="([^"]*)"', body.group(1)))


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> tuple[Path, Graph]:
    folder = tmp_path_factory.mktemp("page")
    out = folder / "resnet50.html"
    result = run("graph", "resnet50", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    return out, model_graph("resnet50", insides=True, catalog=zoo_catalog())


def test_the_page_is_one_file_that_asks_for_nothing(page):
    text = page[0].read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "<script>" in text and "<script src" not in text and "<link" not in text
    # the graph and the insides of every block that opens, each a picture of its own
    assert text.count('class="view"') > len(page[1].insides) >= 4


@needs_browser
def test_the_page_draws_every_node_offline(page, tmp_path):
    done = chromium(tmp_path, page[0].as_uri(), "--dump-dom")
    found = state(done.stdout)
    assert found["view"] == "v0" and found["depth"] == "1"
    assert int(found["nodes"]) == len(page[1].nodes) == int(found["drawn"])


@needs_browser
def test_opening_a_folded_block_shows_its_insides(page, tmp_path):
    path, result = page
    fold = next(n for n in result.nodes if n.repeat > 1)
    inside = result.insides[fold.id]
    url = f"{path.as_uri()}#open={fold.id}"
    found = state(chromium(tmp_path, url, "--dump-dom").stdout)
    assert found["view"] != "v0" and found["depth"] == "2"
    assert int(found["nodes"]) == len(inside.nodes) == int(found["drawn"])
    assert any(n.op == "add" for n in inside.nodes)  # the block's own skip
    shots = {}
    for name, address in (("main", path.as_uri()), ("open", url)):
        target = tmp_path / f"{name}.png"
        chromium(tmp_path, address, f"--screenshot={target}")
        shots[name] = Image.open(io.BytesIO(target.read_bytes())).convert("RGB")
    assert shots["main"].tobytes() != shots["open"].tobytes()
    rgb = np.asarray(shots["open"]).astype(int)
    orange = int(((abs(rgb[..., 0] - 0xEA) < 20) & (abs(rgb[..., 1] - 0x58) < 30) & (rgb[..., 2] < 60)).sum())
    assert orange > 30  # the residual add and its two edges, drawn in the opened view


# --- the layout ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["resnet152", "inception_v3", "densenet201", "efficientnet_b0"])
def test_no_two_boxes_overlap_and_every_edge_joins_its_boxes(zoo, name):
    from cvzoo.render.layout import Box, layout

    result = model_graph(name, catalog=zoo)
    drawn = scene(result)
    fronts = {s.node: s for s in drawn.shapes if s.node and s.kind in ("rect", "circle")}
    assert set(fronts) == {n.id for n in result.nodes}  # every node is drawn
    boxes = []
    for shape in fronts.values():
        if shape.kind == "circle":
            r = shape.width
            boxes.append((shape.x - r, shape.y - r, shape.x + r, shape.y + r))
        else:
            boxes.append((shape.x, shape.y, shape.x + shape.width, shape.y + shape.height))
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
            assert apart, (a, b)
    assert all(x0 >= 0 and x1 <= drawn.width and y0 >= 0 and y1 <= drawn.height for x0, y0, x1, y1 in boxes)
    # routes leave their source's bottom and arrive at their target's top
    placed = layout([Box(n.id, 100, 30) for n in result.nodes], [tuple(e) for e in result.edges])
    for source, target, points in placed.routes:
        s, t = placed.boxes[source], placed.boxes[target]
        assert points[0][1] == pytest.approx(s.y + s.height / 2)
        assert points[-1][1] == pytest.approx(t.y - t.height / 2)
        assert abs(points[-1][0] - t.x) <= t.width / 2
