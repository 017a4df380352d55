// cvzoo graph: pan, zoom, hover for a node's numbers, click a block marked ⊕ to open its insides.
// Every view is an inline <svg class="view">; a node that opens names the view of its insides in
// data-opens. The page reads #open=ID/ID... at load (a link straight to a block) by clicking them.
(function () {
  "use strict";
  const stage = document.getElementById("stage");
  const tip = document.getElementById("tip");
  const info = document.getElementById("info");
  const crumbs = document.getElementById("crumbs");
  const back = document.getElementById("back");
  const trail = [];  // [{view, label}]
  const boxes = new Map();  // view id -> current viewBox [x, y, w, h]

  function views() { return Array.from(stage.querySelectorAll("svg.view")); }
  function current() { return trail.length ? trail[trail.length - 1].view : null; }

  function natural(svg) {
    return [0, 0, parseFloat(svg.getAttribute("width")), parseFloat(svg.getAttribute("height"))];
  }
  function apply(svg, box) {
    boxes.set(svg.id, box);
    svg.setAttribute("viewBox", box.map(function (v) { return v.toFixed(2); }).join(" "));
  }
  function fit(svg) {
    const full = natural(svg);
    const rect = stage.getBoundingClientRect();
    // show the whole picture, with the stage's aspect, centred
    const scale = Math.max(full[2] / Math.max(rect.width, 1), full[3] / Math.max(rect.height, 1));
    const w = rect.width * scale, h = rect.height * scale;
    apply(svg, [(full[2] - w) / 2, (full[3] - h) / 2, w, h]);
  }

  function show(viewId, label, replace) {
    const target = document.getElementById(viewId);
    if (!target) { return; }
    if (replace) { trail.length = 0; }
    trail.push({ view: target, label: label });
    views().forEach(function (svg) { svg.toggleAttribute("hidden", svg !== target); });
    target.setAttribute("preserveAspectRatio", "xMidYMid meet");
    if (!boxes.has(target.id)) { fit(target); }
    info.hidden = true;
    render();
    check();
  }

  function render() {
    crumbs.textContent = "";
    trail.forEach(function (step, i) {
      if (i) {
        const sep = document.createElement("span");
        sep.className = "sep";
        sep.textContent = "›";
        crumbs.appendChild(sep);
      }
      const link = document.createElement(i < trail.length - 1 ? "a" : "span");
      link.textContent = step.label;
      if (i < trail.length - 1) {
        link.addEventListener("click", function () { goBack(trail.length - 1 - i); });
      }
      crumbs.appendChild(link);
    });
    back.disabled = trail.length < 2;
  }

  function goBack(steps) {
    const keep = trail.slice(0, Math.max(1, trail.length - steps));
    const last = keep.pop();
    trail.length = 0;
    keep.forEach(function (s) { trail.push(s); });
    show(last.view.id, last.label, false);
  }

  // The page checks itself: how many nodes the view has and how many were drawn (a test reads these).
  function check() {
    const view = current();
    const nodes = Array.from(view.querySelectorAll("g.node"));
    const drawn = nodes.filter(function (g) { const b = g.getBBox(); return b.width > 0 && b.height > 0; });
    document.body.dataset.view = view.id;
    document.body.dataset.nodes = String(nodes.length);
    document.body.dataset.drawn = String(drawn.length);
    document.body.dataset.depth = String(trail.length);
  }

  function describe(g, full) {
    const d = g.dataset;
    const rows = [["type", d.type], ["output", d.shape || "-"], ["parameters", d.params], ["MACs", d.macs]];
    if (d.repeat && d.repeat !== "1") { rows.push(["repeat", "×" + d.repeat + " (identical blocks, folded)"]); }
    if (d.config) { rows.push(["settings", d.config]); }
    if (d.rf) { rows.push(["receptive field", d.rf]); }
    if (d.opens) { rows.push(["", "click to open its insides"]); }
    const table = document.createElement("table");
    rows.forEach(function (r) {
      const tr = table.insertRow();
      tr.insertCell().textContent = r[0];
      tr.insertCell().textContent = r[1];
    });
    const head = document.createElement("div");
    const name = document.createElement("b");
    name.textContent = d.name;
    head.appendChild(name);
    const out = document.createElement("div");
    out.appendChild(head);
    out.appendChild(table);
    return out;
  }

  stage.addEventListener("mousemove", function (event) {
    const g = event.target.closest && event.target.closest("g.node");
    if (!g || dragging) { tip.hidden = true; return; }
    tip.textContent = "";
    tip.appendChild(describe(g, false));
    tip.hidden = false;
    tip.style.left = Math.min(event.clientX + 14, window.innerWidth - tip.offsetWidth - 8) + "px";
    tip.style.top = Math.min(event.clientY + 14, window.innerHeight - tip.offsetHeight - 8) + "px";
  });
  stage.addEventListener("mouseleave", function () { tip.hidden = true; });

  stage.addEventListener("click", function (event) {
    if (moved) { return; }
    const g = event.target.closest && event.target.closest("g.node");
    if (!g) { info.hidden = true; return; }
    stage.querySelectorAll("g.node.picked").forEach(function (p) { p.classList.remove("picked"); });
    if (g.dataset.opens) {
      const label = g.dataset.name + (g.dataset.repeat && g.dataset.repeat !== "1" ? " ×" + g.dataset.repeat : "");
      show(g.dataset.opens, label, false);
      return;
    }
    g.classList.add("picked");
    info.textContent = "";
    info.appendChild(describe(g, true));
    info.hidden = false;
  });

  // pan by dragging, zoom with the wheel around the pointer
  let dragging = null, moved = false;
  stage.addEventListener("mousedown", function (event) {
    const view = current();
    dragging = { x: event.clientX, y: event.clientY, box: boxes.get(view.id).slice() };
    moved = false;
  });
  window.addEventListener("mousemove", function (event) {
    if (!dragging) { return; }
    const view = current();
    const rect = stage.getBoundingClientRect();
    const k = dragging.box[2] / rect.width;
    const dx = (event.clientX - dragging.x) * k, dy = (event.clientY - dragging.y) * k;
    if (Math.abs(event.clientX - dragging.x) + Math.abs(event.clientY - dragging.y) > 3) {
      moved = true;
      stage.classList.add("dragging");
    }
    apply(view, [dragging.box[0] - dx, dragging.box[1] - dy, dragging.box[2], dragging.box[3]]);
  });
  window.addEventListener("mouseup", function () {
    dragging = null;
    stage.classList.remove("dragging");
    setTimeout(function () { moved = false; }, 0);
  });
  stage.addEventListener("wheel", function (event) {
    event.preventDefault();
    const view = current();
    const box = boxes.get(view.id);
    const rect = stage.getBoundingClientRect();
    const factor = Math.exp(event.deltaY * 0.0015);
    const px = box[0] + (event.clientX - rect.left) / rect.width * box[2];
    const py = box[1] + (event.clientY - rect.top) / rect.height * box[3];
    apply(view, [px - (px - box[0]) * factor, py - (py - box[1]) * factor, box[2] * factor, box[3] * factor]);
  }, { passive: false });

  document.getElementById("fit").addEventListener("click", function () { fit(current()); });
  back.addEventListener("click", function () { goBack(1); });
  window.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && trail.length > 1) { goBack(1); }
    if (event.key === "0" || event.key === "f") { fit(current()); }
  });
  window.addEventListener("resize", function () { fit(current()); });

  const main = views()[0];
  show(main.id, main.dataset.title || "model", true);
  // #open=ID/ID: open those blocks one after another, as clicks would
  const wanted = decodeURIComponent((location.hash.match(/open=([^&]*)/) || ["", ""])[1]);
  wanted.split("/").filter(Boolean).forEach(function (id) {
    const g = Array.from(current().querySelectorAll("g.node")).find(function (n) { return n.dataset.id === id; });
    if (g) { g.dispatchEvent(new MouseEvent("click", { bubbles: true })); }
  });
})();
