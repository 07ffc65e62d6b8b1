/* The home page's dashboards: each runs one saved query (/api/queries/NAME, its JSON answer)
   and draws it as a chart, a world map or a list of links, with the figures in a table below
   it for readers who do not see the chart. The server describes them (iomkg.web.pages). */
"use strict";

(function () {
  const iomkg = window.iomkg;
  const el = iomkg.el;
  const config = iomkg.config();
  const ACCEPT = "application/sparql-results+json";

  const text = (term) => iomkg.termText(term, config);
  const number = (term) => (term && term.value !== "" && !isNaN(Number(term.value)) ? Number(term.value) : null);
  const heading = (board, name) => board.headings[name] || name;
  const labelOf = (board, row) => board.label.map((name) => text(row[name])).filter((t) => t).join(", ");

  /** A cell: an IRI as a link named by its label column (donor, donorLabel), a literal as its
      text (no language tag: the dashboards ask for English names), nothing as "not stated". */
  function cell(row, column) {
    const term = row[column];
    if (!term) return el("span", { class: "unknown", text: "not stated" });
    if (term.type !== "uri") return document.createTextNode(term.value);
    const node = iomkg.termNode(term, config);
    const name = row[column + "Label"];
    if (name && node.tagName === "A") node.textContent = name.value;
    return node;
  }

  /** The answer's rows as a small table: the columns the dashboard names, in that order. */
  function figures(board, vars, rows) {
    const columns = board.columns.filter((c) => vars.includes(c));
    return el("details", { class: "figures" },
      el("summary", { text: "The figures (" + rows.length + " row" + (rows.length === 1 ? "" : "s") + ")" }),
      el("div", { class: "table-wrap" },
        el("table", {},
          el("thead", {}, el("tr", {}, ...columns.map((c) => el("th", { scope: "col", text: heading(board, c) })))),
          el("tbody", {}, ...rows.map((row) => el("tr", {},
            ...columns.map((c) => el("td", {}, cell(row, c)))))))));
  }

  /** Labels (years without gaps, if asked) and one series per value column and split value. */
  function chartData(board, rows, values) {
    let labels = [];
    for (const row of rows) {
      const label = labelOf(board, row) || "(no name)";
      if (!labels.includes(label)) labels.push(label);
    }
    if (board.years && labels.every((l) => /^\d{4}$/.test(l))) {
      const first = Number(labels[0]), last = Number(labels[labels.length - 1]);
      labels = [];
      for (let year = Math.min(first, last); year <= Math.max(first, last); year++) labels.push(String(year));
    }
    const splits = board.split ? [...new Set(rows.map((row) => text(row[board.split])))] : [null];
    const series = [];
    for (const name of values) {
      for (const split of splits) {
        const data = labels.map(() => (board.years ? 0 : null));
        for (const row of rows) {
          if (split !== null && text(row[board.split]) !== split) continue;
          const at = labels.indexOf(labelOf(board, row) || "(no name)");
          if (at >= 0) data[at] = number(row[name]);
        }
        series.push({ name: heading(board, name) + (split !== null ? " (" + heading(board, board.split) + ": " + split + ")" : ""), values: data });
      }
    }
    return { labels, series };
  }

  function chart(body, board, rows, values) {
    const { labels, series } = chartData(board, rows, values);
    // Many labels: bars from the left, one label a line, the chart as tall as they need.
    const horizontal = board.kind === "bar" && labels.length > 8;
    const canvas = el("div", { class: horizontal ? "chart tall" : "chart" });
    if (horizontal) canvas.style.height = Math.max(320, 22 * labels.length + 48) + "px";
    body.append(canvas);
    iomkg.drawChart(canvas, board.kind, labels, series, board.title, { horizontal });
  }

  async function map(body, board, rows, values) {
    const world = await iomkg.loadWorld();
    const totals = {};
    for (const row of rows) {
      const term = row[board.label[0]];
      const code = iomkg.countryCode(term, world.alpha);
      if (!code) continue;
      const entry = totals[code] || (totals[code] = { code, value: 0,
        href: term.type === "uri" ? iomkg.localPath(term.value, config.base) : null });
      entry.value += number(row[values[0]]) || 0;
    }
    const points = await pointsOf(board.points);
    const canvas = el("div", { class: "chart map" });
    body.append(canvas);
    await iomkg.drawMap(canvas, Object.values(totals), points, board.title, { fit: 40 });
    if (points.length) {
      body.append(el("p", { class: "note map-points" }, "Dots: " + points.length
        + " locations of IATI activities (", el("a", { href: board.points.url, text: board.points.name }), ")."));
    }
  }

  /** The WKT points of another saved query (the IATI activities' locations), named by its
      label column; none when it is not in the catalogue, has no point or fails (the countries
      are drawn all the same). */
  async function pointsOf(spec) {
    if (!spec) return [];
    try {
      const response = await fetch(spec.url, { headers: { Accept: ACCEPT } });
      if (!response.ok) return [];
      const json = await response.json();
      const column = json.head.vars.find((v) => json.results.bindings.some((r) => iomkg.wktPoint(r[v])));
      if (!column) return [];
      return json.results.bindings.map((row) => {
        const point = iomkg.wktPoint(row[column]);
        return point && { lon: point[0], lat: point[1], label: row[spec.label] ? row[spec.label].value : "" };
      }).filter(Boolean);
    } catch (problem) {
      return [];
    }
  }

  /** Items grouped under a heading each (a programme and its donors), every item a link. */
  function list(body, board, rows) {
    const groups = new Map();
    for (const row of rows) {
      const key = row[board.group] ? row[board.group].value : "";
      if (!groups.has(key)) groups.set(key, { row, items: [] });
      groups.get(key).items.push(row);
    }
    const dl = el("dl", { class: "grouped" });
    for (const group of groups.values()) {
      dl.append(el("dt", {}, cell(group.row, board.group), " ",
        el("span", { class: "count", text: "(" + group.items.length + ")" })));
      const item = board.label[0];
      dl.append(el("dd", {}, el("ul", {}, ...group.items.map((row) => el("li", {},
        cell(row, item),
        board.note && row[board.note] ? el("span", { class: "kind", text: " " + row[board.note].value }) : null)))));
    }
    body.append(dl);
  }

  async function show(section, board) {
    const body = section.querySelector(".dashboard-body");
    const status = section.querySelector(".dashboard-status");
    try {
      const response = await fetch(board.url, { headers: { Accept: ACCEPT } });
      if (!response.ok) throw new Error(response.status + " " + (await response.text()).slice(0, 300));
      const json = await response.json();
      const vars = json.head.vars;
      const rows = json.results.bindings;
      if (!rows.length) {
        status.textContent = board.empty;
        status.classList.add("empty");
        return;
      }
      // A column counting IATI activities that is 0 throughout: say so, and do not draw it.
      const noIati = board.iati && vars.includes(board.iati)
        && rows.every((row) => !number(row[board.iati]));
      const values = board.values.filter((v) => vars.includes(v) && !(noIati && v === board.iati));
      status.textContent = "";
      if (board.kind === "map") await map(body, board, rows, values);
      else if (board.kind === "list") list(body, board, rows);
      else chart(body, board, rows, values);
      if (noIati) body.append(el("p", { class: "note no-iati", text: board.no_iati }));
      if (board.kind !== "list") body.append(figures(board, vars, rows));
    } catch (problem) {
      status.textContent = "The saved query " + board.name + " failed: " + problem.message;
      status.classList.add("error");
    }
  }

  if (!iomkg.chartAvailable()) return;
  for (const board of config.dashboards || []) {
    const section = document.getElementById("dashboard-" + board.name);
    if (section) show(section, board);
  }
})();
