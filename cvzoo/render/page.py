"""``cvzoo graph --format html``: one self-contained page that works offline.

The page holds the picture of the graph as inline SVG and, for every node that has insides (a
closed block, a folded run of blocks), the picture of those insides, laid out here in Python: the
browser only shows them. A little inline script (``assets/graph.js``, no library, no network)
pans (drag), zooms (wheel, ``f`` to fit), shows a node's numbers on hover and on click, and opens
a block marked ⊕ on click, with a trail back (``Esc``). ``#open=ID/ID`` in the address opens those
blocks at load, as clicks would: a link straight to a block's insides.
"""

from __future__ import annotations

from importlib import resources
from xml.sax.saxutils import escape, quoteattr

from cvzoo.graph import Graph
from cvzoo.render.diagram import scene
from cvzoo.render.paint import svg


def _asset(name: str) -> str:
    return (resources.files("cvzoo.render") / "assets" / name).read_text(encoding="utf-8")


def _views(result: Graph) -> list[Graph]:
    """``result`` and every graph of insides reachable from it, each once, in order of discovery."""
    found: dict[int, Graph] = {}
    pending = [result]
    while pending:
        graph = pending.pop(0)
        if id(graph) in found:
            continue
        found[id(graph)] = graph
        pending.extend(graph.insides.values())
    return list(found.values())


def html(result: Graph) -> str:
    """``result`` (with its ``insides``) as one HTML page."""
    graphs = _views(result)
    names = {id(g): f"v{i}" for i, g in enumerate(graphs)}
    parts = []
    for graph in graphs:
        picture = scene(graph, openable=True)

        def attributes(node_id: str, graph: Graph = graph) -> dict[str, str]:
            node = next(n for n in graph.nodes if n.id == node_id)
            data = {
                "data-name": node.name,
                "data-type": node.type,
                "data-shape": _shape(node.output_shape),
                "data-params": f"{node.params:,}",
                "data-macs": f"{node.macs:,}",
                "data-repeat": str(node.repeat),
            }
            if node.config:
                data["data-config"] = node.config
            if node.receptive_field and node.rf_stride:
                data["data-rf"] = f"{_pair(node.receptive_field)} px, stride {_pair(node.rf_stride)}"
            inner = graph.insides.get(node_id)
            if inner is not None:
                data["data-opens"] = names[id(inner)]
            return data

        drawn = svg(picture, attributes, names[id(graph)])
        title = result.model if graph is result else graph.scope
        drawn = drawn.replace("<svg ", f'<svg class="view" data-title={quoteattr(title)} hidden ', 1)
        parts.append(drawn)
    return _page(result, "\n".join(parts))


def _pair(values: list[int] | list[int | float]) -> str:
    """``[h, w]`` as one number where they agree, else ``hxw``."""
    text = [f"{v:g}" for v in values]
    return text[0] if len(set(text)) == 1 else "x".join(text)


def _shape(shape: object) -> str:
    if isinstance(shape, list) and shape and all(isinstance(d, int) for d in shape):
        return "[" + ", ".join(str(d) for d in shape) + "]"
    return "" if shape is None else str(shape)


HINT = (
    "drag to pan · wheel to zoom · hover or click a node for its numbers · click a block marked ⊕ to open it"
)


def _page(result: Graph, views: str) -> str:
    title = escape(f"{result.model}: dataflow graph (cvzoo)")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
{_asset("graph.css")}
</style>
</head>
<body>
<header>
  <div class="crumbs" id="crumbs"></div>
  <button id="back" type="button" disabled>Back</button>
  <button id="fit" type="button">Fit</button>
  <span class="hint">{HINT}</span>
</header>
<div id="stage">
{views}
<div id="info" hidden></div>
</div>
<div id="tip" hidden></div>
<script>
{_asset("graph.js")}
</script>
</body>
</html>
"""
