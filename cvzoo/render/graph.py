"""``cvzoo graph`` as text: Graphviz DOT and Mermaid (for docs: GitHub draws Mermaid), and JSON.

JSON is the :class:`~cvzoo.graph.Graph` itself (:mod:`cvzoo.render.data`): nodes with ``id``,
``name``, ``type``, ``op``, ``output_shape``, ``params``, ``macs``, ``repeat``, ``group`` and
``config``; edges as ``[source, target]`` pairs; groups (the open modules) with their parent.
DOT and Mermaid say what the pictures say, in their own terms: a box per module with its type,
shape, parameters and MACs, a small circle or pill per wiring operation, a cluster (subgraph)
per open module, and the edges into a wiring operation in its colour. Their node names are
``n0``, ``n1``... (a module's path is no identifier in either language); labels carry the paths.
"""

from __future__ import annotations

from pathlib import Path

from cvzoo.errors import UsageError
from cvzoo.graph import Graph, Node
from cvzoo.render import GraphFormat
from cvzoo.render.data import to_json
from cvzoo.render.style import MARKS, PILLS, colours, details, op_colour, short_name, type_text

SUFFIXES = {
    ".svg": GraphFormat.svg,
    ".png": GraphFormat.png,
    ".html": GraphFormat.html,
    ".htm": GraphFormat.html,
    ".dot": GraphFormat.dot,
    ".gv": GraphFormat.dot,
    ".mmd": GraphFormat.mermaid,
    ".mermaid": GraphFormat.mermaid,
    ".json": GraphFormat.json,
}


def format_for(out: Path | None, fmt: GraphFormat | None) -> GraphFormat:
    """The format asked for: ``--format``, else ``--out``'s suffix, else HTML.

    Raises:
        UsageError: for an ``--out`` whose suffix names no format, without ``--format``.
    """
    if fmt is not None:
        return fmt
    if out is None:
        return GraphFormat.html
    found = SUFFIXES.get(out.suffix.lower())
    if found is None:
        formats = ", ".join(f.value for f in GraphFormat)
        raise UsageError(f"--out '{out}' must end in {', '.join(SUFFIXES)}, or give --format ({formats})")
    return found


def draw(result: Graph, fmt: GraphFormat) -> str | bytes:
    """``result`` in ``fmt``: text, or PNG bytes. HTML needs the graph built with its insides."""
    from cvzoo.render import diagram, page, paint

    if fmt is GraphFormat.json:
        return to_json(result)
    if fmt is GraphFormat.dot:
        return dot(result)
    if fmt is GraphFormat.mermaid:
        return mermaid(result)
    if fmt is GraphFormat.html:
        return page.html(result)
    picture = diagram.scene(result)
    return paint.png(picture) if fmt is GraphFormat.png else paint.svg(picture)


def _label_lines(node: Node, scope: str) -> list[str]:
    if node.op in MARKS:
        return [MARKS[node.op or ""][0]]
    if node.op not in (None, "input"):
        return [node.op or ""]
    name = short_name(node, scope) + (f" ×{node.repeat}" if node.repeat > 1 else "")
    return [f"{name} · {type_text(node)}", details(node)]


def _nest(result: Graph) -> list[tuple[int, str, str | None]]:
    """Nodes and clusters in nesting order: (depth, kind, id) with kind "node", "open" or "close".

    DOT's subgraphs and Mermaid's both need a cluster's members written inside it.
    """
    members: dict[str | None, list[str]] = {}
    for node in result.nodes:
        members.setdefault(node.group, []).append(node.id)
    nested: dict[str | None, list[str]] = {}
    for group in result.groups:
        nested.setdefault(group.parent, []).append(group.id)
    out: list[tuple[int, str, str | None]] = []

    def walk(group: str | None, depth: int) -> None:
        out.extend((depth, "node", n) for n in members.get(group, []))
        for child in nested.get(group, []):
            out.append((depth, "open", child))
            walk(child, depth + 1)
            out.append((depth, "close", child))

    walk(None, 1)
    return out


def group_label(result: Graph, group_id: str) -> str:
    """A group's frame label: its name inside its parent group and its type (``0 · BasicBlock``)."""
    groups = {g.id: g for g in result.groups}
    group = groups[group_id]
    parent = groups.get(group.parent or "")
    name = group.name
    if parent is not None and name.startswith(parent.name + "."):
        name = name[len(parent.name) + 1 :]
    return f"{name} · {group.type}"


def _wiring(op: str | None) -> bool:
    return op in MARKS or op in PILLS


# --- DOT -----------------------------------------------------------------------------------------


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot(result: Graph) -> str:
    """``result`` as a Graphviz digraph (``dot -Tsvg`` draws it, where Graphviz is installed)."""
    ids = {n.id: f"n{i}" for i, n in enumerate(result.nodes)}
    nodes = {n.id: n for n in result.nodes}
    title = _dot_text(result.title)
    lines = [
        f"digraph {_dot_text(result.title or result.model)} {{",
        f"  graph [rankdir=TB, fontname=Helvetica, fontsize=12, labelloc=t, label={title}];",
        '  node [shape=box, style="rounded,filled", fontname=Helvetica, fontsize=10];',
        '  edge [color="#94a3b8", arrowsize=0.6];',
    ]
    for depth, kind, key in _nest(result):
        indent = "  " * depth
        if kind == "node" and key is not None:
            lines.append(f"{indent}{ids[key]} [{_dot_node(nodes[key], result.scope)}];")
        elif kind == "open" and key is not None:
            lines.append(f"{indent}subgraph {_dot_text('cluster_' + key)} {{")
            lines.append(
                f'{indent}  label={_dot_text(group_label(result, key))}; style=dashed; color="#94a3b8";'
            )
        else:
            lines.append(f"{indent}}}")
    for source, target in result.edges:
        op = nodes[target].op
        style = f' [color="{op_colour(op)}", penwidth=1.6]' if _wiring(op) else ""
        lines.append(f"  {ids[source]} -> {ids[target]}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_node(node: Node, scope: str) -> str:
    label = '"' + "\\n".join(_dot_text(line)[1:-1] for line in _label_lines(node, scope)) + '"'
    if node.op in MARKS:
        colour = op_colour(node.op)
        return (
            f'label={label}, shape=circle, style=solid, color="{colour}", fontcolor="{colour}", fontsize=14'
        )
    if node.op not in (None, "input"):
        colour = op_colour(node.op)
        return f'label={label}, style=rounded, color="{colour}", fontcolor="{colour}"'
    fill, stroke = colours(node)
    extra = ", peripheries=2" if node.repeat > 1 else ""
    return f'label={label}, fillcolor="{fill}", color="{stroke}"{extra}'


# --- Mermaid -------------------------------------------------------------------------------------


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def mermaid(result: Graph) -> str:
    """``result`` as a Mermaid flowchart (GitHub draws it in Markdown: a ```mermaid block)."""
    ids = {n.id: f"n{i}" for i, n in enumerate(result.nodes)}
    nodes = {n.id: n for n in result.nodes}
    clusters = {g.id: f"g{i}" for i, g in enumerate(result.groups)}
    lines = ["flowchart TB"]
    for depth, kind, key in _nest(result):
        indent = "  " * depth
        if kind == "node" and key is not None:
            lines.append(f"{indent}{ids[key]}{_mermaid_node(nodes[key], result.scope)}")
        elif kind == "open" and key is not None:
            lines.append(f'{indent}subgraph {clusters[key]}["{_mermaid_text(group_label(result, key))}"]')
        else:
            lines.append(f"{indent}end")
    coloured: dict[str, list[str]] = {}
    for i, (source, target) in enumerate(result.edges):
        lines.append(f"  {ids[source]} --> {ids[target]}")
        if _wiring(nodes[target].op):
            coloured.setdefault(op_colour(nodes[target].op), []).append(str(i))
    for colour, edges in coloured.items():
        lines.append(f"  linkStyle {','.join(edges)} stroke:{colour},stroke-width:2px")
    for node in result.nodes:
        fill, stroke = colours(node) if node.op in (None, "input") else ("#ffffff", op_colour(node.op))
        lines.append(f"  style {ids[node.id]} fill:{fill},stroke:{stroke}")
    return "\n".join(lines) + "\n"


def _mermaid_node(node: Node, scope: str) -> str:
    text = "<br/>".join(_mermaid_text(line) for line in _label_lines(node, scope))
    if node.op in MARKS:
        return f'(("{text}"))'
    if node.op not in (None, "input"):
        return f'(["{text}"])'
    if node.repeat > 1:
        return f'[["{text}"]]'
    return f'["{text}"]'
