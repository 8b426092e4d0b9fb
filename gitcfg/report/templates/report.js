// gitcfg report: the page's behaviour. Data comes from the JSON element, user text is written
// with textContent only (never innerHTML), so markup in a value stays text.
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("gitcfg-data").textContent);
  const $ = (id) => document.getElementById(id);
  const PAGE_SIZE = 100;        // table rows per page: 10,000 runs are 100 pages, not 10,000 rows
  const PARCOORDS_MAX = 1000;   // lines drawn at most: the best 100 and an even sample of the rest
  const PARCOORDS_AXES = 12;    // config axes at most, besides the metric's
  const SCATTER_MAX = 3000;     // points drawn at most, chosen the same way
  const GROUPS_MAX = 30;        // bars and colours at most; the smaller groups are left out
  const PLOT_CONFIG = { displaylogo: false, responsive: true };
  const RUNS = D.runs;
  RUNS.forEach((run, i) => { run.index = i; });

  // ---- values ----------------------------------------------------------------------------
  function isNum(v) { return typeof v === "number" && isFinite(v); }
  function fmt(v) {
    if (v === undefined) return "";
    if (v === null) return "null";
    if (typeof v === "number") {
      if (Number.isInteger(v)) return String(v);
      const short = Number(v.toPrecision(4));
      return String(short);
    }
    if (typeof v === "string") return v;
    if (typeof v === "boolean") return v ? "true" : "false";
    return JSON.stringify(v);
  }
  function rank(v) {  // numbers, strings, bools, the rest; missing is handled by the caller
    if (isNum(v)) return 0;
    if (typeof v === "string") return 1;
    if (typeof v === "boolean") return 2;
    return 3;
  }
  function compare(a, b) {
    const ra = rank(a), rb = rank(b);
    if (ra !== rb) return ra - rb;
    if (ra === 0) return a - b;
    const sa = ra === 1 ? a : fmt(a), sb = rb === 1 ? b : fmt(b);
    return sa < sb ? -1 : sa > sb ? 1 : 0;
  }
  function same(a, b) {
    if (a === b) return true;
    return typeof a === "object" && typeof b === "object" && JSON.stringify(a) === JSON.stringify(b);
  }

  // ---- columns ---------------------------------------------------------------------------
  const projects = new Set(RUNS.map((r) => r.project));
  const FIELDS = [
    { id: "id", label: "id", kind: "field", get: (r) => r.id },
    { id: "project", label: "project", kind: "field", get: (r) => r.project, show: projects.size > 1 },
    { id: "name", label: "name", kind: "field", get: (r) => r.name ?? undefined,
      show: RUNS.some((r) => r.name) },
    { id: "group", label: "group", kind: "field", get: (r) => r.group ?? undefined,
      show: RUNS.some((r) => r.group) },
    { id: "tags", label: "tags", kind: "field", get: (r) => (r.tags.length ? r.tags.join(", ") : undefined),
      show: RUNS.some((r) => r.tags.length) },
    // shown once a run failed: its exit code, and "0" for the runs that ended well (when known)
    { id: "exit", label: "exit", kind: "field", get: (r) => r.exit ?? undefined,
      show: RUNS.some((r) => r.exit !== null && r.exit !== 0) },
    { id: "created", label: "created", kind: "field", get: (r) => r.created ?? undefined },
    { id: "commit", label: "code", kind: "field", get: (r) => r.commit ?? undefined },
  ].filter((c) => c.show !== false);
  const CONFIG_COLS = D.keys.map((k) => ({ id: "c:" + k, key: k, label: k, kind: "config",
    get: (r) => r.config[k] }));
  const METRIC_COLS = D.metrics.map((k) => ({ id: "s:" + k, key: k, label: k, kind: "metric",
    get: (r) => r.summary[k] }));
  const COLUMNS = [...FIELDS, ...CONFIG_COLS, ...METRIC_COLS];
  const byId = new Map(COLUMNS.map((c) => [c.id, c]));
  function columnNamed(name) {  // for conditions: a config key, else a metric, else a field
    // summary:KEY and config:KEY name one side only, as in 'gitcfg runs'
    if (name.startsWith("summary:")) return byId.get("s:" + name.slice(8));
    if (name.startsWith("config:")) {
      const key = name.slice(7);
      return byId.get("c:" + key) || (key in D.common ? { id: "common:" + key, key, label: key,
        kind: "config", get: () => D.common[key] } : undefined);
    }
    return byId.get("c:" + name) || byId.get("s:" + name) || FIELDS.find((c) => c.id === name ||
      c.label === name) || (name in D.common ? { id: "common:" + name, key: name, label: name,
      kind: "config", get: () => D.common[name] } : undefined);
  }

  const state = {
    metric: D.metric, goal: D.goal, text: "", conditions: [], brush: [], sort: "created",
    descending: false, page: 0, groupKey: null,
  };
  const metricOf = (r) => (state.metric === null ? undefined : r.summary[state.metric]);
  function better(a, b) { return state.goal === "min" ? a < b : a > b; }

  // ---- filtering -------------------------------------------------------------------------
  function textOf(r) {
    if (r._text === undefined) {
      r._text = COLUMNS.map((c) => fmt(c.get(r))).join("\u0001").toLowerCase();
    }
    return r._text;
  }
  function parseValue(text) {
    const t = text.trim();
    if (/^'.*'$/.test(t)) return t.slice(1, -1);
    try { return JSON.parse(t); } catch (e) { return t; }
  }
  const OPS = ["!=", ">=", "<=", "=", ">", "<"];
  function parseConditions(text) {
    const out = [], errors = [];
    for (const part of text.split(/,(?![^[\]{}]*[\]}])/)) {
      if (!part.trim()) continue;
      let found = null;
      for (const op of OPS) {
        const at = part.indexOf(op);
        if (at > 0 && (found === null || at < found.at || (at === found.at && op.length > found.op.length))) {
          found = { at, op };
        }
      }
      if (found === null) { errors.push(`"${part.trim()}": expected KEY=VALUE, KEY>VALUE, ...`); continue; }
      const key = part.slice(0, found.at).trim();
      const column = columnNamed(key);
      if (!column) { errors.push(`no key "${key}"`); continue; }
      out.push({ column, op: found.op, value: parseValue(part.slice(found.at + found.op.length)) });
    }
    return { conditions: out, errors };
  }
  function meets(r, c) {  // as gitcfg runs --where: missing meets only !=
    const v = c.column.get(r);
    if (v === undefined) return c.op === "!=";
    switch (c.op) {
      case "=": return same(v, c.value);
      case "!=": return !same(v, c.value);
      default: {
        const comparable = (isNum(v) && isNum(c.value)) ||
          (typeof v === "string" && typeof c.value === "string");
        if (!comparable) return false;
        if (c.op === ">") return v > c.value;
        if (c.op === ">=") return v >= c.value;
        if (c.op === "<") return v < c.value;
        return v <= c.value;
      }
    }
  }
  function baseRuns() {  // text and conditions: what the parallel coordinates show
    const text = state.text.toLowerCase();
    return RUNS.filter((r) => (!text || textOf(r).includes(text)) &&
      state.conditions.every((c) => meets(r, c)));
  }
  function shownRuns(base) {  // and the ranges brushed on the parallel coordinates
    if (!state.brush.length) return base;
    return base.filter((r) => state.brush.every((b) => b.test(r)));
  }

  // ---- sampling: keep the best, then an even spread of the others -------------------------
  function sample(runs, limit) {
    if (runs.length <= limit) return runs;
    const scored = runs.filter((r) => isNum(metricOf(r)));
    scored.sort((a, b) => (better(metricOf(a), metricOf(b)) ? -1 : better(metricOf(b), metricOf(a)) ? 1 : 0));
    const keep = new Set(scored.slice(0, Math.floor(limit / 10)));
    const rest = runs.filter((r) => !keep.has(r));
    const step = rest.length / (limit - keep.size);
    for (let i = 0; keep.size < limit && Math.floor(i) < rest.length; i += step) keep.add(rest[Math.floor(i)]);
    return runs.filter((r) => keep.has(r));
  }

  // ---- DOM helpers -----------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }
  function fill(select, options, chosen) {
    select.replaceChildren(...options.map(([value, label]) => {
      const option = el("option", { value }, label);
      option.selected = value === chosen;
      return option;
    }));
  }
  function cellText(r, column) {
    const v = column.get(r);
    if (column.id === "created" && typeof v === "string") return v.slice(0, 19).replace("T", " ");
    if (column.id === "commit" && typeof v === "string") return v.slice(0, 7);
    return fmt(v);
  }

  // ---- the best run ------------------------------------------------------------------------
  function bestOf(runs) {
    let best = null;
    for (const r of runs) {
      const v = metricOf(r);
      if (isNum(v) && (best === null || better(v, metricOf(best)))) best = r;
    }
    return best;
  }
  function renderBest(runs) {
    const box = $("best");
    const best = bestOf(runs);
    if (best === null) { box.replaceChildren(); return; }
    const settings = D.keys.filter((k) => best.config[k] !== undefined)
      .map((k) => el("span", { class: "setting" }, `${k} = ${fmt(best.config[k])}`));
    const link = el("a", { onclick: () => openDetail(best), title: "open this run" }, best.id);
    box.replaceChildren(
      el("div", {}, `Best ${state.metric} (${state.goal === "min" ? "lowest" : "highest"}) of ${runs.length} run(s): `,
        el("span", { class: "value" }, fmt(metricOf(best))), " — run ", link,
        best.name ? ` (${best.name})` : ""),
      el("div", {}, settings.length ? "with " : "", ...settings));
  }

  // ---- the runs table ------------------------------------------------------------------------
  function renderHead() {
    const band = el("tr", { class: "band" },
      el("th", { colspan: String(FIELDS.length) }, "run"),
      CONFIG_COLS.length ? el("th", { colspan: String(CONFIG_COLS.length) }, "config (keys that differ)") : null,
      METRIC_COLS.length ? el("th", { colspan: String(METRIC_COLS.length) }, "results") : null);
    const names = el("tr", {}, ...COLUMNS.map((c) => {
      const th = el("th", { class: c.kind, "data-column": c.id, scope: "col" },
        el("button", { type: "button", title: "sort by " + c.label, onclick: () => sortBy(c.id) }, c.label));
      if (state.sort === c.id) th.setAttribute("aria-sort", state.descending ? "descending" : "ascending");
      return th;
    }));
    $("runs").tHead.replaceChildren(band, names);
  }
  function sortBy(id) {
    if (state.sort === id) state.descending = !state.descending;
    else { state.sort = id; state.descending = false; }
    state.page = 0;
    renderHead();
    renderTable(shownRuns(baseRuns()));
  }
  function sorted(runs) {
    const column = byId.get(state.sort);
    if (!column) return runs;
    const present = runs.filter((r) => column.get(r) !== undefined);
    const absent = runs.filter((r) => column.get(r) === undefined);
    present.sort((a, b) => compare(column.get(a), column.get(b)) * (state.descending ? -1 : 1));
    return present.concat(absent);  // runs without the value last, either way
  }
  function metricRange(runs) {
    const values = runs.map(metricOf).filter(isNum);
    return values.length ? [Math.min(...values), Math.max(...values)] : null;
  }
  function renderTable(runs) {
    const ordered = sorted(runs);
    const pages = Math.max(1, Math.ceil(ordered.length / PAGE_SIZE));
    state.page = Math.min(state.page, pages - 1);
    const start = state.page * PAGE_SIZE;
    const page = ordered.slice(start, start + PAGE_SIZE);
    const best = bestOf(runs);
    const range = metricRange(runs);
    const rows = page.map((r) => {
      const tr = el("tr", { "data-run": r.project + "/" + r.id, class: r === best ? "is-best" : "" });
      tr.addEventListener("click", () => openDetail(r));
      for (const c of COLUMNS) {
        const v = c.get(r);
        const td = el("td", { class: isNum(v) ? "num" : "" }, cellText(r, c));
        if (c.id === "commit" && r.dirty) td.append(el("span", { class: "dirty", title: "uncommitted changes, snapshotted" }, "-dirty"));
        if (v === undefined && c.kind !== "field") td.classList.add("missing");
        if (c.kind === "metric" && c.key === state.metric && isNum(v) && range && range[1] > range[0]) {
          let t = (v - range[0]) / (range[1] - range[0]);
          if (state.goal === "min") t = 1 - t;
          td.style.background = `rgba(26, 127, 55, ${(0.08 + 0.42 * t).toFixed(3)})`;
        }
        tr.append(td);
      }
      return tr;
    });
    $("runs").tBodies[0].replaceChildren(...rows);
    const filtered = runs.length === RUNS.length ? "" : ` (filtered from ${RUNS.length})`;
    $("count").textContent = `${runs.length} run(s)${filtered}`;
    $("page-info").textContent = ordered.length
      ? `rows ${start + 1} to ${start + page.length} of ${ordered.length}, page ${state.page + 1} of ${pages}` : "no runs";
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.page >= pages - 1;
  }

  // ---- axes for categories and wide numeric ranges --------------------------------------
  function axisFor(key, get, runs) {
    const values = runs.map(get);
    const present = values.filter((v) => v !== undefined);
    if (present.length === values.length && present.length && present.every(isNum)) {
      const lo = Math.min(...present), hi = Math.max(...present);
      if (lo > 0 && hi / lo >= 100) {  // learning rates and the like: a log axis
        const ticks = [];
        for (let p = Math.floor(Math.log10(lo)); p <= Math.ceil(Math.log10(hi)); p++) ticks.push(p);
        return { label: key + " (log)", map: (v) => (isNum(v) && v > 0 ? Math.log10(v) : NaN),
          tickvals: ticks, ticktext: ticks.map((p) => fmt(Math.pow(10, p))), range: [Math.log10(lo), Math.log10(hi)] };
      }
      return { label: key, map: (v) => (isNum(v) ? v : NaN), range: [lo, hi] };
    }
    const labels = new Map();
    for (const v of values) labels.set(v === undefined ? "\u0000" : JSON.stringify(v), v);
    const ordered = [...labels.entries()].sort((a, b) =>
      a[1] === undefined ? 1 : b[1] === undefined ? -1 : compare(a[1], b[1]));
    if (ordered.length > 60) return null;  // too many values for an axis (ids, free text)
    const index = new Map(ordered.map(([k], i) => [k, i]));
    return { label: key, categorical: true,
      map: (v) => index.get(v === undefined ? "\u0000" : JSON.stringify(v)) ?? NaN,
      tickvals: ordered.map((_, i) => i),
      ticktext: ordered.map(([, v]) => (v === undefined ? "(none)" : fmt(v).slice(0, 24))),
      range: [0, Math.max(1, ordered.length - 1)] };
  }

  // ---- parallel coordinates -------------------------------------------------------------
  let parcoordsAxes = [];
  function renderParcoords(base) {
    const node = $("parcoords");
    const scored = state.metric === null ? base : base.filter((r) => isNum(metricOf(r)));
    const drawn = sample(scored, PARCOORDS_MAX);
    const axes = [];
    let skipped = 0;
    let columns = CONFIG_COLS;
    if (columns.length > PARCOORDS_AXES) {  // the most telling keys, in their table order
      const scores = keyScores();
      const kept = new Set([...columns].sort((a, b) => scores.get(b.id).score - scores.get(a.id).score)
        .slice(0, PARCOORDS_AXES));
      columns = columns.filter((c) => kept.has(c));
    }
    const dropped = CONFIG_COLS.length - columns.length;
    for (const c of columns) {
      const axis = axisFor(c.key, c.get, scored);
      if (axis === null) { skipped++; continue; }
      axes.push({ ...axis, get: c.get });
    }
    if (state.metric !== null) {
      const get = (r) => r.summary[state.metric];
      axes.push({ ...axisFor(state.metric, get, scored), get, metric: true });
    }
    parcoordsAxes = axes;
    state.brush = [];
    const dims = axes.map((a) => {
      const dim = { label: a.label, values: drawn.map((r) => a.map(a.get(r))), range: a.range };
      if (a.tickvals) { dim.tickvals = a.tickvals; dim.ticktext = a.ticktext; }
      return dim;
    });
    const colorAxis = axes.length ? axes[axes.length - 1] : null;
    const line = colorAxis ? {
      color: drawn.map((r) => colorAxis.map(colorAxis.get(r))), colorscale: "Viridis",
      reversescale: colorAxis.metric === true && state.goal === "min", showscale: true,
      colorbar: { title: { text: colorAxis.metric ? state.metric : colorAxis.label }, thickness: 12 },
    } : {};
    const notes = [];
    if (drawn.length < scored.length) notes.push(`${drawn.length} of ${scored.length} runs drawn: the best ${Math.floor(PARCOORDS_MAX / 10)} and an even sample.`);
    if (dropped) notes.push(`${columns.length} of ${CONFIG_COLS.length} keys shown: those that explain ${state.metric || "the result"} most.`);
    if (skipped) notes.push(`${skipped} key(s) with too many distinct values left out.`);
    if (state.metric !== null && scored.length < base.length) notes.push(`${base.length - scored.length} run(s) without ${state.metric} left out.`);
    $("parcoords-note").textContent = notes.join(" ");
    Plotly.react(node, [{ type: "parcoords", dimensions: dims, line, labelangle: -15,
      labelfont: { size: 12 }, tickfont: { size: 11 } }],
    { margin: { l: 70, r: 70, t: 60, b: 24 }, paper_bgcolor: "#fff" }, PLOT_CONFIG);
  }
  function onBrush() {
    const gd = $("parcoords");
    const dims = (gd.data && gd.data[0] && gd.data[0].dimensions) || [];
    state.brush = [];
    dims.forEach((dim, i) => {
      const axis = parcoordsAxes[i];
      let ranges = dim.constraintrange;
      if (!axis || !ranges || !ranges.length) return;
      if (!Array.isArray(ranges[0])) ranges = [ranges];
      state.brush.push({ test: (r) => {
        const v = axis.map(axis.get(r));
        return ranges.some(([lo, hi]) => v >= lo - (axis.categorical ? 0.5 : 0) && v <= hi + (axis.categorical ? 0.5 : 0));
      } });
    });
    state.page = 0;
    renderShown(baseRuns());
  }

  // ---- scatter -------------------------------------------------------------------------------
  function scatterChoices() {
    const keys = CONFIG_COLS.map((c) => [c.id, c.label]);
    const metrics = METRIC_COLS.map((c) => [c.id, c.label + " (result)"]);
    return { x: [...keys, ...metrics, ["created", "created"]], y: [...metrics, ...keys] };
  }
  function colourChoices() {
    const out = [["", "none"]];
    if (RUNS.some((r) => r.group)) out.push(["group", "group"]);
    for (const c of CONFIG_COLS) {
      const distinct = new Set(RUNS.map((r) => JSON.stringify(c.get(r) ?? null)));
      if (distinct.size <= GROUPS_MAX) out.push([c.id, c.label]);
    }
    return out;
  }
  function renderScatter(runs) {
    const xc = byId.get($("scatter-x").value), yc = byId.get($("scatter-y").value);
    const colourId = $("scatter-color").value;
    const cc = colourId ? byId.get(colourId) : null;
    if (!xc || !yc) { Plotly.react($("scatter"), [], { title: { text: "nothing to plot" } }, PLOT_CONFIG); return; }
    const points = runs.filter((r) => xc.get(r) !== undefined && yc.get(r) !== undefined);
    const drawn = sample(points, SCATTER_MAX);
    const groups = new Map();
    for (const r of drawn) {
      const label = cc ? fmt(cc.get(r)) || "(none)" : "runs";
      if (!groups.has(label)) groups.set(label, []);
      groups.get(label).push(r);
    }
    const labels = [...groups.keys()].sort((a, b) => compare(parseValue(a), parseValue(b)));
    const axisValue = (c, v) => (isNum(v) || typeof v === "string" ? v : fmt(v));
    const traces = labels.slice(0, GROUPS_MAX).map((label) => {
      const rs = groups.get(label);
      return { type: "scatter", mode: "markers", name: cc ? `${cc.label} = ${label}` : label,
        x: rs.map((r) => axisValue(xc, xc.get(r))), y: rs.map((r) => axisValue(yc, yc.get(r))),
        customdata: rs.map((r) => r.index), text: rs.map((r) => r.id + (r.name ? " " + r.name : "")),
        hovertemplate: `%{text}<br>${xc.label} = %{x}<br>${yc.label} = %{y}<extra></extra>`,
        marker: { size: 9, opacity: 0.8 } };
    });
    const best = bestOf(drawn);
    if (best) {
      traces.push({ type: "scatter", mode: "markers", name: "best", x: [axisValue(xc, xc.get(best))],
        y: [axisValue(yc, yc.get(best))], customdata: [best.index], text: [best.id],
        hovertemplate: "best: %{text}<extra></extra>",
        marker: { symbol: "star", size: 18, color: "#d4a72c", line: { color: "#1f2328", width: 1 } } });
    }
    const xs = points.map(xc.get).filter(isNum);
    const logX = xs.length === points.length && xs.length > 1 && Math.min(...xs) > 0 && Math.max(...xs) / Math.min(...xs) >= 100;
    Plotly.react($("scatter"), traces, {
      margin: { l: 60, r: 10, t: 10, b: 50 }, hovermode: "closest", showlegend: true,
      xaxis: { title: { text: xc.label }, type: logX ? "log" : "-" }, yaxis: { title: { text: yc.label } },
      legend: { orientation: "h", y: -0.25 },
    }, PLOT_CONFIG);
    $("scatter-note").textContent = drawn.length < points.length
      ? `${drawn.length} of ${points.length} runs drawn: the best ${Math.floor(SCATTER_MAX / 10)} and an even sample.` : "";
  }

  // ---- group-by aggregates ------------------------------------------------------------------
  function groupChoices() {
    const out = [];
    if (RUNS.some((r) => r.group)) out.push(["group", "group"]);
    if (RUNS.some((r) => r.name)) out.push(["name", "name"]);
    for (const c of CONFIG_COLS) out.push([c.id, c.label]);
    for (const k of Object.keys(D.common)) out.push(["common:" + k, k + " (same in all)"]);
    return out;
  }
  function groupColumn(id) {
    if (id.startsWith("common:")) return { label: id.slice(7), get: () => D.common[id.slice(7)] };
    return byId.get(id) || FIELDS.find((c) => c.id === id);
  }
  function renderGroups(runs) {
    const column = state.groupKey ? groupColumn(state.groupKey) : null;
    const table = $("groups");
    if (!column) {
      table.tHead.replaceChildren(); table.tBodies[0].replaceChildren();
      Plotly.react($("groupbar"), [], { title: { text: "no key to group by" } }, PLOT_CONFIG);
      return;
    }
    const groups = new Map();
    for (const r of runs) {
      const v = column.get(r);
      const key = v === undefined ? "\u0000" : JSON.stringify(v);
      if (!groups.has(key)) groups.set(key, { value: v, runs: 0, values: [] });
      const g = groups.get(key);
      g.runs++;
      const m = metricOf(r);
      if (isNum(m)) g.values.push(m);
    }
    const rows = [...groups.values()].map((g) => {
      const n = g.values.length;
      const mean = n ? g.values.reduce((a, b) => a + b, 0) / n : undefined;
      return { ...g, label: g.value === undefined ? "(none)" : fmt(g.value), mean,
        min: n ? Math.min(...g.values) : undefined, max: n ? Math.max(...g.values) : undefined };
    });
    rows.sort((a, b) => (a.value === undefined ? 1 : b.value === undefined ? -1 : compare(a.value, b.value)));
    let best = null;
    for (const g of rows) if (g.mean !== undefined && (best === null || better(g.mean, best.mean))) best = g;
    const metric = state.metric === null ? "" : state.metric;
    table.tHead.replaceChildren(el("tr", {}, el("th", {}, column.label), el("th", {}, "runs"),
      ...(metric ? [`mean ${metric}`, `min ${metric}`, `max ${metric}`].map((t) => el("th", {}, t)) : [])));
    table.tBodies[0].replaceChildren(...rows.map((g) => el("tr", { class: g === best ? "is-best" : "" },
      el("td", {}, g.label), el("td", { class: "num" }, String(g.runs)),
      ...(metric ? [g.mean, g.min, g.max].map((v) => el("td", { class: "num" }, fmt(v))) : []))));
    const shown = rows.slice(0, GROUPS_MAX);
    const trace = metric ? {
      type: "bar", x: shown.map((g) => g.label), y: shown.map((g) => g.mean ?? null),
      marker: { color: shown.map((g) => (g === best ? "#d4a72c" : "#8fb8de")) },
      error_y: { type: "data", symmetric: false, array: shown.map((g) => (g.max ?? 0) - (g.mean ?? 0)),
        arrayminus: shown.map((g) => (g.mean ?? 0) - (g.min ?? 0)), color: "#57606a" },
      hovertemplate: `${column.label} = %{x}<br>mean ${metric} = %{y}<extra></extra>`,
    } : { type: "bar", x: shown.map((g) => g.label), y: shown.map((g) => g.runs), marker: { color: "#8fb8de" } };
    const values = rows.flatMap((g) => (g.min === undefined ? [] : [g.min, g.max]));
    const yaxis = { title: { text: metric ? `${metric} (mean; bars min–max)` : "runs" } };
    if (metric && values.length) {  // zoom on the spread: differences between settings stay visible
      const lo = Math.min(...values), hi = Math.max(...values), pad = (hi - lo) * 0.15 || Math.abs(hi) * 0.05 || 1;
      yaxis.range = [lo - pad, hi + pad];
    }
    Plotly.react($("groupbar"), [trace], { margin: { l: 60, r: 10, t: 10, b: 40 },
      xaxis: { title: { text: column.label }, type: "category" }, yaxis }, PLOT_CONFIG);
  }

  // ---- a run's detail --------------------------------------------------------------------------
  function facts(pairs) {
    const dl = el("dl", { class: "facts" });
    for (const [name, value, cls] of pairs) dl.append(el("dt", {}, name), el("dd", { class: cls || "" }, value));
    return dl;
  }
  function openDetail(r) {
    const p = D.provenance[r.provenance] || {};
    $("detail-title").textContent = `${r.project}/${r.id}` + (r.name ? ` — ${r.name}` : "");
    const config = [];
    const keys = [...new Set([...Object.keys(D.common), ...Object.keys(r.config)])].sort();
    for (const k of keys) {
      const differs = k in r.config;
      config.push([k, fmt(differs ? r.config[k] : D.common[k]), differs ? "differs" : ""]);
    }
    const summary = Object.keys(r.summary).sort().map((k) => [k, fmt(r.summary[k])]);
    const dirty = p.dirty ? `yes, snapshot ${p.snapshot || "(none)"}` : "no";
    const provenance = [["code commit", fmt(p.code_commit ?? undefined) || "(not in a git work tree)"],
      ["branch", fmt(p.branch ?? undefined)], ["dirty", dirty], ["command", fmt(p.command ?? undefined)],
      ["host", fmt(p.host ?? undefined)], ["user", fmt(p.user ?? undefined)],
      ["python", fmt(p.python ?? undefined)], ["gitcfg", fmt(p.gitcfg ?? undefined)],
      ["created", fmt(r.created ?? undefined)], ["group", fmt(r.group ?? undefined)],
      ["tags", r.tags.join(", ")], ["exit status", fmt(r.exit ?? undefined)]];
    const history = el("ol", { class: "history" }, ...r.history.versions.map((v) => {
      const when = new Date(v.time * 1000).toISOString().slice(0, 19).replace("T", " ");
      const item = el("li", {}, el("strong", {}, v.message), ` · ${when} UTC · `, el("code", {}, v.commit.slice(0, 10)));
      if (v.created) item.append(el("span", { class: "change" }, "created with the config above, less what later versions changed"));
      if (v.invalid) item.append(el("span", { class: "change" }, "config.yaml not valid YAML at this version"));
      for (const [kind, key, old, now] of v.changes || []) {
        const text = kind === "added" ? `+ ${key} = ${fmt(now)}` : kind === "removed" ? `- ${key} (was ${fmt(old)})`
          : `~ ${key}: ${fmt(old)} → ${fmt(now)}`;
        item.append(el("span", { class: "change" }, text));
      }
      return item;
    }));
    const body = [el("h3", {}, "Config"), facts(config)];
    if (summary.length) body.push(el("h3", {}, "Results"), facts(summary));
    body.push(el("h3", {}, "Provenance"), facts(provenance), el("h3", {}, "Config history (newest first)"), history);
    if (r.history.omitted) body.push(el("p", { class: "hint" }, `${r.history.omitted} older version(s) not listed: gitcfg log ${r.project}/${r.id}`));
    $("detail-body").replaceChildren(...body);
    const dialog = $("detail");
    if (!dialog.open) dialog.showModal();
  }

  // ---- wiring ------------------------------------------------------------------------------------
  function renderShown(base) {
    const runs = shownRuns(base);
    renderBest(runs);
    renderTable(runs);
    renderScatter(runs);
    renderGroups(runs);
  }
  function renderAll() {
    const base = baseRuns();
    renderParcoords(base);
    renderShown(base);
  }
  let timer = null;
  function later(fn) { clearTimeout(timer); timer = setTimeout(fn, 120); }

  function setup() {
    document.querySelectorAll(".metric-name").forEach((n) => { n.textContent = state.metric || "config"; });
    fill($("metric"), D.metrics.map((m) => [m, m]), state.metric);
    $("metric").disabled = !D.metrics.length;
    $("no-metric").hidden = D.metrics.length > 0;
    $("goal").value = state.goal;
    const sc = scatterChoices();
    fill($("scatter-x"), sc.x, sc.x.length ? sc.x[0][0] : "");
    // y: the metric; without one, a second config key (x is the first)
    const firstMetric = state.metric ? "s:" + state.metric : (sc.y[1] || sc.y[0] || [""])[0];
    fill($("scatter-y"), sc.y, firstMetric);
    const gc = groupChoices();
    const wanted = D.groupBy === null ? null : (byId.has("c:" + D.groupBy) ? "c:" + D.groupBy
      : D.groupBy in D.common ? "common:" + D.groupBy : D.groupBy);
    // defaults: the keys that explain most of the metric come first, so the page opens on them
    const ranked = influentialKeys();
    state.groupKey = wanted || ranked[0] || (gc[0] || [null])[0];
    fill($("group-key"), gc, state.groupKey);
    if (ranked.length) $("scatter-x").value = ranked[0];
    const cc = colourChoices();
    const colour = wanted && wanted !== $("scatter-x").value && cc.some(([id]) => id === wanted) ? wanted
      : ranked.find((id) => id !== $("scatter-x").value && cc.some(([c]) => c === id))
        || (cc.find(([id]) => id && id !== $("scatter-x").value) || [""])[0];
    fill($("scatter-color"), cc, colour);

    $("metric").addEventListener("change", (e) => {
      state.metric = e.target.value;
      state.goal = D.goal = guessGoal(state.metric);
      $("goal").value = state.goal;
      $("scatter-y").value = "s:" + state.metric;
      document.querySelectorAll(".metric-name").forEach((n) => { n.textContent = state.metric; });
      renderHead(); renderAll();
    });
    $("goal").addEventListener("change", (e) => { state.goal = e.target.value; renderAll(); });
    $("filter").addEventListener("input", (e) => { later(() => { state.text = e.target.value; state.page = 0; renderAll(); }); });
    $("conditions").addEventListener("input", (e) => {
      later(() => {
        const parsed = parseConditions(e.target.value);
        state.conditions = parsed.conditions;
        $("condition-error").textContent = parsed.errors.join("; ");
        state.page = 0;
        renderAll();
      });
    });
    $("clear").addEventListener("click", () => {
      $("filter").value = ""; $("conditions").value = ""; $("condition-error").textContent = "";
      state.text = ""; state.conditions = []; state.page = 0; renderAll();
    });
    for (const id of ["scatter-x", "scatter-y", "scatter-color"]) {
      $(id).addEventListener("change", () => renderScatter(shownRuns(baseRuns())));
    }
    $("group-key").addEventListener("change", (e) => { state.groupKey = e.target.value; renderGroups(shownRuns(baseRuns())); });
    $("prev").addEventListener("click", () => { state.page--; renderTable(shownRuns(baseRuns())); });
    $("next").addEventListener("click", () => { state.page++; renderTable(shownRuns(baseRuns())); });
    $("detail-close").addEventListener("click", () => $("detail").close());
    renderHead();
    const base = baseRuns();
    renderShown(base);
    $("scatter").on("plotly_click", (e) => { const p = e.points && e.points[0]; if (p) openDetail(RUNS[p.customdata]); });
    // for tests and scripts: when (ms since navigation) the table and small plots were there,
    // and when everything was drawn
    document.body.dataset.table = String(Math.round(performance.now()));
    // the parallel coordinates (WebGL, the slowest part) after the page has shown the rest
    setTimeout(() => {
      renderParcoords(base);
      $("parcoords").on("plotly_restyle", onBrush);
      document.body.dataset.ready = String(Math.round(performance.now()));
    }, 0);
  }
  // How much of the metric's spread each config key explains: eta squared (the spread of the
  // group means over the total spread) for keys with few values, r squared for numeric keys.
  function keyScores() {
    const scored = RUNS.filter((r) => isNum(metricOf(r)));
    const values = scored.map(metricOf);
    const mean = values.reduce((a, b) => a + b, 0) / (values.length || 1);
    const total = values.reduce((a, v) => a + (v - mean) ** 2, 0);
    const scores = new Map();
    for (const c of CONFIG_COLS) {
      const groups = new Map();
      for (const r of RUNS) {
        const key = JSON.stringify(c.get(r) ?? null);
        if (!groups.has(key)) groups.set(key, []);
        if (isNum(metricOf(r))) groups.get(key).push(metricOf(r));
      }
      let score = 0;
      if (total > 0 && groups.size <= GROUPS_MAX) {
        let between = 0;
        for (const g of groups.values()) {
          if (!g.length) continue;
          const m = g.reduce((a, b) => a + b, 0) / g.length;
          between += g.length * (m - mean) ** 2;
        }
        score = between / total;
      } else if (total > 0 && scored.every((r) => isNum(c.get(r)))) {
        const xs = scored.map(c.get);
        const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
        let sxy = 0, sxx = 0;
        xs.forEach((x, i) => { sxy += (x - mx) * (values[i] - mean); sxx += (x - mx) ** 2; });
        score = sxx > 0 ? (sxy * sxy) / (sxx * total) : 0;
      }
      scores.set(c.id, { score, size: groups.size });
    }
    return scores;
  }
  // Keys to group by, most telling first: those with 2 to GROUPS_MAX values.
  function influentialKeys() {
    const scores = keyScores();
    return CONFIG_COLS.map((c) => ({ id: c.id, ...scores.get(c.id) }))
      .filter((k) => k.size >= 2 && k.size <= GROUPS_MAX)
      .sort((a, b) => b.score - a.score || a.size - b.size).map((k) => k.id);
  }
  function guessGoal(metric) {
    return /loss|err|perplexity|mse|mae|rmse|time|latency|wer/i.test(metric || "") ? "min" : "max";
  }
  setup();
})();
