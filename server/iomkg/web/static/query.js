/* The query page: a CodeMirror 5 editor (SPARQL highlighting, completion, error markers from
   the server's own syntax check), queries run over fetch (POST when long), history kept in the
   browser, and the answer as a pageable, sortable, filterable table, a chart, a map, the raw
   response, Turtle and a graph view. */
"use strict";

(function () {
  const iomkg = window.iomkg;
  const el = iomkg.el;
  const config = iomkg.config();
  const HISTORY_KEY = "iomkg.history";
  const DRAFT_KEY = "iomkg.draft";
  const KEYWORDS = ("SELECT CONSTRUCT DESCRIBE ASK WHERE PREFIX BASE DISTINCT OPTIONAL FILTER "
    + "GRAPH UNION MINUS BIND VALUES SERVICE GROUP BY ORDER ASC DESC LIMIT OFFSET HAVING COUNT SUM "
    + "AVG MIN MAX SAMPLE GROUP_CONCAT LANG STR CONTAINS LCASE UCASE REGEX COALESCE IF NOT EXISTS "
    + "IN AS FROM NAMED").split(" ");

  const form = document.querySelector("form.query");
  const textarea = document.getElementById("query");
  if (!form || !textarea || typeof window.CodeMirror === "undefined") return;

  // The editor --------------------------------------------------------------------------------

  let terms = { prefixes: [], classes: [], properties: [], queries: [] };
  fetch(config.terms_url).then((r) => r.json()).then((found) => { terms = found; }).catch(() => {});

  const problemBox = el("p", { id: "syntax-problem", class: "syntax-problem", role: "status",
    "aria-live": "polite" });

  function checkSyntax(text, callback) {
    const body = new URLSearchParams({ query: text });
    fetch(config.check_url, { method: "POST", body,
      headers: { "Content-Type": "application/x-www-form-urlencoded" } })
      .then((r) => r.json())
      .then((answer) => {
        if (answer.ok) {
          output.querySelector("section.error-box.syntax")?.remove();
          problemBox.textContent = "";
          problemBox.classList.remove("shown");
          callback([]);
          return;
        }
        const p = answer.problem;
        // Shown once: not here when the run's error box explains this very text.
        const ran = output.querySelector("section.error-box.syntax");
        if (ran && ran.dataset.query === text) {
          problemBox.textContent = "";
          problemBox.classList.remove("shown");
        } else {
          if (ran) ran.remove();
          problemBox.textContent = p.message;
          problemBox.classList.add("shown");
        }
        const from = window.CodeMirror.Pos(p.line - 1, p.column - 1);
        const to = window.CodeMirror.Pos(p.line - 1, p.column - 1 + Math.max(p.length, 1));
        callback([{ from, to, message: p.summary + (p.hint ? "\n" + p.hint : ""), severity: "error" }]);
      })
      .catch(() => callback([]));
  }
  checkSyntax.async = true;

  function hint(cm) {
    const cursor = cm.getCursor();
    const line = cm.getLine(cursor.line);
    let start = cursor.ch;
    while (start > 0 && /[\w:\-#]/.test(line.charAt(start - 1))) start--;
    const word = line.slice(start, cursor.ch);
    const lower = word.toLowerCase();
    const before = line.slice(0, start);
    let list = [];
    const onlyComments = cm.getValue().split("\n").every((l) => !l.trim() || l.trim().startsWith("#")
      || l === line);
    if (word.startsWith("#") || (onlyComments && !word.includes(":"))) {
      list = terms.queries
        .filter((q) => !word || q.name.includes(lower.replace(/^#/, "")) || q.title.toLowerCase().includes(lower.replace(/^#/, "")))
        .map((q) => ({ text: q.sparql, displayText: "saved query: " + q.name + " (" + q.title + ")",
          hint: (editor) => { editor.setValue(q.sparql); editor.focus(); } }));
    }
    if (!word.startsWith("#")) {
      const wantsClass = /\ba\s+$/.test(before) || /rdf:type\s+$/.test(before);
      const groups = wantsClass ? [terms.classes, terms.properties] : [terms.properties, terms.classes];
      const named = [].concat(...groups).filter((t) => t.text.toLowerCase().startsWith(lower)
        || (word.includes(":") ? false : (t.label || "").toLowerCase().startsWith(lower)));
      const prefixes = word.includes(":") ? [] : terms.prefixes.filter((p) => p.text.startsWith(lower));
      const keywords = word.includes(":") || !word ? [] : KEYWORDS.filter((k) => k.toLowerCase().startsWith(lower));
      list = list.concat(
        prefixes.map((p) => ({ text: p.text, displayText: p.text + "  " + p.iri })),
        named.slice(0, 60).map((t) => ({ text: t.text, displayText: t.text + (t.label ? "  (" + t.label + ")" : "") })),
        keywords.map((k) => ({ text: k, displayText: k })));
    }
    return { list, from: window.CodeMirror.Pos(cursor.line, start), to: cursor };
  }

  const editor = window.CodeMirror.fromTextArea(textarea, {
    mode: "application/sparql-query",
    lineNumbers: true,
    matchBrackets: true,
    indentUnit: 2,
    viewportMargin: 50,
    screenReaderLabel: "SPARQL query",
    gutters: ["CodeMirror-lint-markers", "CodeMirror-linenumbers"],
    lint: { getAnnotations: checkSyntax, async: true, delay: 400 },
    hintOptions: { hint, completeSingle: false },
    extraKeys: {
      "Ctrl-Enter": () => run(),
      "Cmd-Enter": () => run(),
      "Ctrl-Space": "autocomplete",
      Tab: false, // Tab leaves the editor (no keyboard trap); indentation stays automatic
      "Shift-Tab": false,
    },
  });
  editor.getWrapperElement().after(problemBox);
  editor.on("inputRead", (cm, change) => {
    if (/[\w:]/.test(change.text[0] || "") && !cm.state.completionActive) {
      const token = cm.getTokenAt(cm.getCursor()).string;
      if (token.includes(":") || token.length >= 3) cm.showHint({ completeSingle: false });
    }
  });
  editor.on("change", () => {
    try { localStorage.setItem(DRAFT_KEY, editor.getValue()); } catch (e) { /* private mode */ }
  });
  iomkg.editor = editor;

  // What was asked for: the URL's #query= (a link that reopens a query of any length), the
  // server-filled text (a ?query= link), else the last draft.
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("query");
  const serverRan = document.querySelector("section.results, section.error-box") !== null;
  if (fromHash) editor.setValue(fromHash);
  else if (!config.query_given) {
    try {
      const draft = localStorage.getItem(DRAFT_KEY);
      if (draft) editor.setValue(draft);
    } catch (e) { /* no storage */ }
  }

  // Running -----------------------------------------------------------------------------------

  const output = document.getElementById("app-results");
  const runButton = form.querySelector("button[type=submit]");
  const permalink = el("a", { id: "permalink", href: "#", text: "Link to this query" });
  const toolbar = el("p", { class: "toolbar" },
    el("span", { class: "keys", text: "Ctrl+Enter runs · Ctrl+Space completes · Tab leaves the editor" }),
    permalink);
  runButton.after(toolbar);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });

  function linkTo(query) {
    const short = config.endpoint + "?" + new URLSearchParams({ query }).toString();
    return short.length <= 2000 ? short : config.endpoint + "#" + new URLSearchParams({ query });
  }

  async function run() {
    const query = editor.getValue();
    editor.save();
    remember(query);
    permalink.href = linkTo(query);
    history.replaceState(null, "", config.endpoint + "#" + new URLSearchParams({ query }).toString());
    for (const stale of document.querySelectorAll("section.results.static, section.error-box")) stale.remove();
    output.replaceChildren(el("p", { class: "running", role: "status", text: "Running…" }));
    runButton.disabled = true;
    const started = performance.now();
    try {
      // The server's syntax check first: a query that does not parse is explained without
      // running it (the same explanation the endpoint would answer with a 400).
      const check = await fetch(config.check_url, { method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ query }) }).then((r) => r.json()).catch(() => ({ ok: true }));
      if (!check.ok) {
        // The explanation is shown here, under its heading, and no longer under the editor.
        showError(0, check.problem.message, "The query does not parse");
        const box = output.querySelector("section.error-box");
        box.classList.add("syntax");
        box.dataset.query = query;
        problemBox.textContent = "";
        problemBox.classList.remove("shown");
        return;
      }
      const response = await iomkg.runQuery(config.endpoint, query,
        "application/sparql-results+json, application/n-triples;q=0.9");
      const text = await response.text();
      const elapsed = Math.round(performance.now() - started);
      if (!response.ok) {
        showError(response.status, text);
        return;
      }
      const type = (response.headers.get("Content-Type") || "").split(";")[0];
      const cut = response.headers.get("X-Row-Limit");
      if (type === "application/sparql-results+json") {
        showResults(query, JSON.parse(text), text, elapsed, cut);
      } else {
        await showGraph(query, text, elapsed, cut);
      }
    } catch (error) {
      showError(0, String(error));
    } finally {
      runButton.disabled = false;
    }
  }

  function showError(status, text, heading) {
    const match = /line (\d+), column (\d+)/.exec(text);
    if (match) editor.setCursor({ line: Number(match[1]) - 1, ch: Number(match[2]) - 1 });
    output.replaceChildren(el("section", { class: "error-box", role: "alert" },
      el("h2", { text: (heading || "The query failed") + (status ? " (HTTP " + status + ")" : "") }),
      el("pre", { text: text.trim() })));
  }

  // History -------------------------------------------------------------------------------------

  const historyList = document.getElementById("history-list");
  function loadHistory() {
    try { return JSON.parse(localStorage.getItem(HISTORY_KEY) || "[]"); } catch (e) { return []; }
  }
  function remember(query) {
    const items = loadHistory().filter((item) => item.query !== query);
    items.unshift({ query, at: new Date().toISOString() });
    try { localStorage.setItem(HISTORY_KEY, JSON.stringify(items.slice(0, 30))); } catch (e) { /* full */ }
    renderHistory();
  }
  function renderHistory() {
    if (!historyList) return;
    const items = loadHistory();
    historyList.replaceChildren(...(items.length ? items.map((item) => {
      const first = item.query.split("\n").find((l) => l.trim() && !l.trim().startsWith("#") && !/^prefix/i.test(l.trim()))
        || item.query.split("\n")[0];
      return el("li", {},
        el("button", { type: "button", class: "linklike",
          onclick: () => { editor.setValue(item.query); editor.focus(); } },
          first.trim().slice(0, 90)),
        " ", el("time", { datetime: item.at, text: item.at.slice(0, 16).replace("T", " ") }));
    }) : [el("li", { text: "Nothing yet: the queries you run are kept here, in this browser only." })]));
  }
  renderHistory();
  document.getElementById("history-clear")?.addEventListener("click", () => {
    try { localStorage.removeItem(HISTORY_KEY); } catch (e) { /* ignore */ }
    renderHistory();
  });

  // Tabs ------------------------------------------------------------------------------------------

  let tabCount = 0;
  function tabs(panels) {
    const list = el("div", { role: "tablist", class: "tabs", "aria-label": "Views of the answer" });
    const bodies = [];
    const buttons = panels.map((panel, index) => {
      const id = "tab-" + ++tabCount;
      const body = el("div", { role: "tabpanel", id: id + "-panel", "aria-labelledby": id,
        class: "tabpanel", hidden: index !== 0 });
      bodies.push(body);
      const button = el("button", { type: "button", role: "tab", id, "aria-controls": id + "-panel",
        "aria-selected": index === 0 ? "true" : "false", tabindex: index === 0 ? "0" : "-1",
        "data-view": panel.key, text: panel.label });
      button.addEventListener("click", () => select(index));
      button.addEventListener("keydown", (event) => {
        const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
        if (step) {
          event.preventDefault();
          const next = (index + step + panels.length) % panels.length;
          select(next);
          buttons[next].focus();
        }
      });
      return button;
    });
    const shown = new Set();
    function select(index) {
      buttons.forEach((button, i) => {
        button.setAttribute("aria-selected", i === index ? "true" : "false");
        button.setAttribute("tabindex", i === index ? "0" : "-1");
        bodies[i].hidden = i !== index;
      });
      if (!shown.has(index)) {
        shown.add(index);
        panels[index].render(bodies[index]);
      }
      panels[index].shown?.(bodies[index]);
    }
    list.append(...buttons);
    select(0);
    return el("div", { class: "views" }, list, ...bodies);
  }

  // SELECT / ASK ------------------------------------------------------------------------------

  function downloadsFor(query, kind) {
    const items = config.formats[kind].map((format) =>
      el("button", { type: "button", class: "download", "data-format": format.name,
        onclick: (event) => {
          event.target.disabled = true;
          iomkg.download(config.endpoint, query, format, format.filename)
            .catch((error) => showError(0, String(error)))
            .finally(() => { event.target.disabled = false; });
        } }, format.label));
    return el("p", { class: "downloads" }, "Download: ", ...items);
  }

  function summary(text, elapsed, cut) {
    return el("p", { class: "summary-line", role: "status" }, text + " in " + elapsed + " ms.",
      cut ? el("span", { class: "notice", text: " The server cut this answer at its row limit of "
        + cut + " rows." }) : null);
  }

  function showResults(query, json, raw, elapsed, cut) {
    const section = el("section", { class: "results live", "aria-labelledby": "results-heading" },
      el("h2", { id: "results-heading", text: "Results" }));
    if (typeof json.boolean === "boolean") {
      section.append(summary("ASK answered", elapsed, null), downloadsFor(query, "results"),
        el("p", { class: "boolean", text: String(json.boolean) }));
      output.replaceChildren(section);
      return;
    }
    const vars = json.head.vars;
    const rows = json.results.bindings;
    section.append(summary(rows.length + " row" + (rows.length === 1 ? "" : "s"), elapsed, cut),
      downloadsFor(query, "results"));
    const panels = [
      { key: "table", label: "Table", render: (body) => body.append(resultTable(vars, rows)) },
      { key: "chart", label: "Chart", render: (body) => chartPanel(body, vars, rows) },
      { key: "map", label: "Map", render: (body) => mapPanel(body, vars, rows) },
      { key: "raw", label: "Raw response", render: (body) => body.append(rawView(raw)) },
    ];
    section.append(tabs(panels));
    output.replaceChildren(section);
  }

  function rawView(raw) {
    let text = raw;
    try { text = JSON.stringify(JSON.parse(raw), null, 2); } catch (e) { /* not JSON */ }
    const shown = text.length > 200000 ? text.slice(0, 200000) + "\n… (download the whole answer)" : text;
    return el("pre", { class: "raw", tabindex: "0", "aria-label": "The raw response", text: shown });
  }

  /** The table: all rows in memory, a page at a time; sort by a column, filter by text. */
  function resultTable(vars, rows, caption) {
    const state = { page: 0, size: 25, sortBy: null, descending: false, filter: "" };
    const wrap = el("div", { class: "result-table" });
    const filterId = "filter-" + ++tabCount;
    const filter = el("input", { id: filterId, type: "search", placeholder: "text in any column" });
    const size = el("select", { id: filterId + "-size" },
      ...[10, 25, 100, 1000].map((n) => el("option", { value: n, selected: n === 25, text: String(n) })));
    const status = el("span", { class: "page-status", role: "status", "aria-live": "polite" });
    const previous = el("button", { type: "button", text: "Previous page" });
    const next = el("button", { type: "button", text: "Next page" });
    const controls = el("div", { class: "table-controls" },
      el("label", { for: filterId, text: "Filter " }), filter,
      el("label", { for: filterId + "-size", text: " Rows per page " }), size,
      previous, next, status);
    const table = el("table", { class: "sortable" });
    if (caption) table.append(el("caption", { text: caption }));
    const head = el("tr");
    const headers = vars.map((name, index) => {
      const button = el("button", { type: "button", class: "sort", text: "?" + name,
        title: "Sort by ?" + name });
      const th = el("th", { scope: "col", "aria-sort": "none" }, button);
      button.addEventListener("click", () => {
        state.descending = state.sortBy === index ? !state.descending : false;
        state.sortBy = index;
        state.page = 0;
        render();
      });
      head.append(th);
      return th;
    });
    const body = el("tbody");
    table.append(el("thead", {}, head), body);
    wrap.append(controls, el("div", { class: "table-wrap" }, table));

    const texts = rows.map((row) => vars.map((v) => iomkg.termText(row[v], config)));
    function order() {
      let indices = rows.map((_, i) => i);
      if (state.filter) {
        const needle = state.filter.toLowerCase();
        indices = indices.filter((i) => texts[i].some((t) => t.toLowerCase().includes(needle)));
      }
      if (state.sortBy !== null) {
        const column = state.sortBy;
        const numeric = rows.every((row) => !row[vars[column]] || iomkg.isNumeric(row[vars[column]]));
        indices.sort((a, b) => {
          const x = texts[a][column], y = texts[b][column];
          const result = numeric ? (Number(x || -Infinity) - Number(y || -Infinity))
            : x.localeCompare(y, undefined, { numeric: true, sensitivity: "base" });
          return state.descending ? -result : result;
        });
      }
      return indices;
    }
    function render() {
      const indices = order();
      const pages = Math.max(1, Math.ceil(indices.length / state.size));
      state.page = Math.min(state.page, pages - 1);
      const slice = indices.slice(state.page * state.size, (state.page + 1) * state.size);
      body.replaceChildren(...slice.map((i) => el("tr", {},
        ...vars.map((v) => el("td", {}, iomkg.termNode(rows[i][v], config))))));
      headers.forEach((th, index) => th.setAttribute("aria-sort", state.sortBy !== index ? "none"
        : state.descending ? "descending" : "ascending"));
      status.textContent = indices.length
        ? "rows " + (state.page * state.size + 1) + "–" + (state.page * state.size + slice.length)
          + " of " + indices.length + (state.filter ? " matching (of " + rows.length + ")" : "")
          + ", page " + (state.page + 1) + " of " + pages
        : "no row matches";
      previous.disabled = state.page === 0;
      next.disabled = state.page >= pages - 1;
    }
    filter.addEventListener("input", () => { state.filter = filter.value; state.page = 0; render(); });
    size.addEventListener("change", () => { state.size = Number(size.value); state.page = 0; render(); });
    previous.addEventListener("click", () => { state.page--; render(); });
    next.addEventListener("click", () => { state.page++; render(); });
    render();
    return wrap;
  }
  iomkg.resultTable = resultTable;

  function numericColumns(vars, rows) {
    return vars.filter((v) => rows.some((r) => r[v]) && rows.every((r) => !r[v] || iomkg.isNumeric(r[v])));
  }

  function select(id, label, options, chosen, multiple) {
    const node = el("select", { id, multiple: multiple || null, size: multiple ? Math.min(options.length, 4) : null },
      ...options.map((o) => el("option", { value: o, selected: (Array.isArray(chosen) ? chosen.includes(o) : o === chosen), text: "?" + o })));
    return [el("label", { for: id, text: label }), node];
  }

  function chartPanel(body, vars, rows) {
    if (!iomkg.chartAvailable()) {
      body.append(el("p", { class: "notice", text: "Charts need the echarts package (npm ci)." }));
      return;
    }
    const numbers = numericColumns(vars, rows);
    if (!numbers.length || !rows.length) {
      body.append(el("p", { text: "A chart needs a column of numbers; this answer has none." }));
      return;
    }
    const labels = vars.filter((v) => !numbers.includes(v));
    // Bars are named by a column of names (?name, a label) rather than of IRIs when there is one.
    const named = labels.find((v) => rows.some((r) => r[v] && r[v].type === "literal"));
    const id = "chart-" + ++tabCount;
    const [typeLabel, type] = [el("label", { for: id + "-type", text: "Chart " }),
      el("select", { id: id + "-type" }, ...["bar", "line", "pie"].map((k) => el("option", { value: k, text: k })))];
    const [labelLabel, labelSelect] = select(id + "-label", " Labels from ", labels.length ? labels : vars, named || labels[0] || vars[0]);
    const [valueLabel, valueSelect] = select(id + "-value", " Values from ", numbers, [numbers[0]], numbers.length > 1);
    const canvas = el("div", { class: "chart", id });
    body.append(el("div", { class: "chart-controls" }, typeLabel, type, labelLabel, labelSelect, valueLabel, valueSelect), canvas);
    function draw() {
      const labelColumn = labelSelect.value;
      const chosen = Array.from(valueSelect.selectedOptions).map((o) => o.value);
      const shown = rows.slice(0, 500);
      const labelsOf = shown.map((r) => iomkg.termText(r[labelColumn], config));
      const series = (chosen.length ? chosen : [numbers[0]]).map((name) => ({
        name, values: shown.map((r) => (r[name] ? Number(r[name].value) : null)) }));
      iomkg.drawChart(canvas, type.value, labelsOf, type.value === "pie" ? series.slice(0, 1) : series,
        "?" + series.map((s) => s.name).join(", ?") + " by ?" + labelColumn);
    }
    for (const control of [type, labelSelect, valueSelect]) control.addEventListener("change", draw);
    draw();
  }

  async function mapPanel(body, vars, rows) {
    if (!iomkg.chartAvailable()) {
      body.append(el("p", { class: "notice", text: "Maps need the echarts, world-atlas and topojson-client packages (npm ci)." }));
      return;
    }
    const world = await iomkg.loadWorld();
    const countryColumn = vars.find((v) => rows.some((r) => iomkg.countryCodes(r[v], world.alpha).length));
    const pointColumn = vars.find((v) => rows.some((r) => iomkg.wktPoint(r[v])));
    if (!countryColumn && !pointColumn) {
      body.append(el("p", { text: "A map needs a column of country codes (NO, NOR, or a country's IRI) or of WKT points; this answer has neither." }));
      return;
    }
    const numbers = numericColumns(vars, rows);
    const labelColumn = vars.find((v) => v !== countryColumn && v !== pointColumn && !numbers.includes(v));
    const id = "map-" + ++tabCount;
    const controls = el("div", { class: "chart-controls" });
    let valueSelect = null;
    if (countryColumn && numbers.length) {
      const [label, node] = select(id + "-value", "Shade countries by ", numbers, numbers[0]);
      valueSelect = node;
      controls.append(label, node);
    }
    controls.append(el("span", { class: "map-note", text: (countryColumn ? " Countries from ?" + countryColumn + "." : "")
      + (pointColumn ? " Points from ?" + pointColumn + "." : "") + " Drag to move, scroll to zoom." }));
    const canvas = el("div", { class: "chart map", id });
    body.append(controls, canvas);
    async function draw() {
      const totals = {};
      if (countryColumn) {
        for (const row of rows) {
          const value = valueSelect && row[valueSelect.value] ? Number(row[valueSelect.value].value) : 1;
          for (const code of iomkg.countryCodes(row[countryColumn], world.alpha)) {
            const entry = totals[code] || (totals[code] = { code, value: 0,
              href: row[countryColumn].type === "uri" ? iomkg.localPath(row[countryColumn].value, config.base) : null });
            entry.value += value;
          }
        }
      }
      const points = pointColumn ? rows.map((row) => {
        const point = iomkg.wktPoint(row[pointColumn]);
        return point && { lon: point[0], lat: point[1], label: labelColumn ? iomkg.termText(row[labelColumn], config) : "" };
      }).filter(Boolean) : [];
      // The map starts around what it shows (the whole world for an answer all over it).
      await iomkg.drawMap(canvas, Object.values(totals), points, "The answer on a world map", { fit: 30 });
    }
    valueSelect?.addEventListener("change", draw);
    await draw();
  }

  // CONSTRUCT / DESCRIBE ----------------------------------------------------------------------

  async function showGraph(query, ntriples, elapsed, cut) {
    const triples = iomkg.parseNTriples(ntriples);
    const section = el("section", { class: "results live", "aria-labelledby": "results-heading" },
      el("h2", { id: "results-heading", text: "Results" }),
      summary(triples.length + " triple" + (triples.length === 1 ? "" : "s"), elapsed, cut),
      downloadsFor(query, "graph"));
    const panels = [
      { key: "turtle", label: "Turtle", render: (body) => turtleView(body, query) },
      { key: "graph", label: "Graph", render: (body) => graphView(body, triples),
        shown: (body) => { const c = body.querySelector(".chart"); if (c) window.echarts.getInstanceByDom(c)?.resize(); } },
      { key: "table", label: "Table", render: (body) => body.append(resultTable(["subject", "predicate", "object"],
        triples.map(([s, p, o]) => ({ subject: s, predicate: p, object: o })))) },
      { key: "raw", label: "Raw response", render: (body) => body.append(rawView(ntriples)) },
    ];
    section.append(tabs(panels));
    output.replaceChildren(section);
  }

  async function turtleView(body, query) {
    const pre = el("pre", { class: "cm-s-default turtle", tabindex: "0", "aria-label": "The answer in Turtle" });
    body.append(pre);
    const response = await iomkg.runQuery(config.endpoint, query, "text/turtle");
    const text = await response.text();
    if (window.CodeMirror.runMode && text.length < 300000) window.CodeMirror.runMode(text, "text/turtle", pre);
    else pre.textContent = text;
  }

  /** How the server's pages name these IRIs ({iri: name}); none where it cannot say. */
  async function namesOf(iris) {
    if (!iris.length) return {};
    const body = new URLSearchParams();
    for (const iri of iris.slice(0, 500)) body.append("iri", iri);
    try {
      const response = await fetch(config.names_url, { method: "POST", body,
        headers: { "Content-Type": "application/x-www-form-urlencoded" } });
      return response.ok ? await response.json() : {};
    } catch (e) {
      return {};
    }
  }

  async function graphView(body, triples) {
    if (!iomkg.chartAvailable()) {
      body.append(el("p", { class: "notice", text: "The graph view needs the echarts package (npm ci)." }));
      return;
    }
    // Nodes are named as the resource pages name them (a label, "IOM Serbia page, line 15"),
    // not by their IRIs, which for source documents are hashes.
    const iris = new Set();
    for (const [s, , o] of triples.slice(0, 400)) for (const t of [s, o]) if (t.type === "uri") iris.add(t.value);
    const names = await namesOf([...iris]);
    const nodes = new Map();
    const edges = [];
    const node = (term) => {
      const key = term.type + ":" + term.value;
      if (!nodes.has(key)) {
        nodes.set(key, { id: key, label: term.type === "literal" ? '"' + term.value.slice(0, 40) + '"'
          : term.type === "bnode" ? "(blank node)"
          : names[term.value] || iomkg.termText(term, config),
          href: term.type === "uri" ? iomkg.localPath(term.value, config.base) : null });
      }
      return key;
    };
    for (const [s, p, o] of triples.slice(0, 400)) edges.push({ source: node(s), target: node(o), label: iomkg.compact(p.value, config.prefixes) });
    const canvas = el("div", { class: "chart graph" });
    body.append(el("p", { class: "map-note", text: "Click a resource to open its page; drag to move, scroll to zoom." + (triples.length > 400 ? " The first 400 triples are drawn." : "") }), canvas);
    iomkg.drawGraph(canvas, Array.from(nodes.values()), edges, "The answer as a graph");
  }

  if (fromHash || (serverRan && config.query_given)) run();
})();
