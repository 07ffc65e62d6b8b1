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
  /** A bar's or an item's name: the first of the label columns that is bound. */
  const labelOf = (board, row) => board.label.map((name) => text(row[name])).find((t) => t) || "";
  const NUMERIC = /#(integer|decimal|double|float|long|int|short|nonNegativeInteger)$/;
  const numeric = (term) => term.type === "literal" && NUMERIC.test(term.datatype || "");
  const grouped = (value) => Number(value).toLocaleString("en", { maximumFractionDigits: 2 });
  const plural = (n, word) => n + " " + word + (n === 1 ? "" : "s");

  /** The rows a chart or a table shows: the first ``top`` (the query orders them, largest
      first), and a note saying how many more the whole answer has, with a link to it. */
  function shown(board, rows) {
    return board.top && rows.length > board.top ? rows.slice(0, board.top) : rows;
  }
  function moreNote(board, rows, what) {
    if (!board.top || rows.length <= board.top) return null;
    return el("p", { class: "note more" }, "The " + board.top + " largest of " + rows.length + " " + what
      + "; ", el("a", { href: board.url, text: "all " + rows.length + " in the answer" }), ".");
  }

  /** A cell: an IRI as a link named by its label column (donor, donorLabel), a literal as its
      text (no language tag: the dashboards ask for English names), nothing as "not stated". */
  function cell(row, column) {
    const term = row[column];
    if (!term) return el("span", { class: "unknown", text: "not stated" });
    if (term.type !== "uri") return document.createTextNode(numeric(term) ? grouped(term.value) : term.value);
    const node = iomkg.termNode(term, config);
    const name = row[column + "Label"];
    if (name && node.tagName === "A") node.textContent = name.value;
    return node;
  }

  /** The answer's rows as a small table: the columns the dashboard names, in that order. */
  function figures(board, vars, rows) {
    const columns = board.columns.filter((c) => vars.includes(c));
    const some = shown(board, rows);
    const summary = some.length < rows.length
      ? "The figures (the first " + some.length + " of " + plural(rows.length, "row") + ")"
      : "The figures (" + plural(rows.length, "row") + ")";
    rows = some;
    return el("details", { class: "figures" },
      el("summary", { text: summary }),
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
        const which = split === null ? "" : board.split === board.unit ? " (" + split + ")"
          : " (" + heading(board, board.split) + ": " + split + ")";
        series.push({ name: heading(board, name) + which, values: data });
      }
    }
    return { labels, series };
  }

  /** The value axis's title: the dashboard's, with the unit (a currency) when there is one. */
  function axisName(board, rows) {
    if (!board.axis) return undefined;
    if (!board.unit) return board.axis;
    const units = [...new Set(rows.map((row) => text(row[board.unit])).filter((u) => u))];
    if (units.length === 1) return board.axis + " (" + units[0] + ")";
    return board.axis + " (in each series' currency, not converted)";
  }

  function chart(body, board, rows, values) {
    const some = shown(board, rows);
    const { labels, series } = chartData(board, some, values);
    // Many names: bars from the left, one name a line, the chart as tall as they need (years
    // stay a time line, left to right).
    const horizontal = board.kind === "bar" && !board.years && labels.length > 6;
    const canvas = el("div", { class: horizontal ? "chart tall" : "chart" });
    if (horizontal) canvas.style.height = Math.max(280, 26 * labels.length + 90) + "px";
    body.append(canvas);
    iomkg.drawChart(canvas, board.kind, labels, series, board.title,
      { horizontal, valueName: axisName(board, some) });
    const more = moreNote(board, rows, "rows are drawn");
    if (more) body.append(more);
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

  /** Items grouped under a heading each (a programme and its donors), and in each group by
      their note (the donor's role), every item a link: "lead nation: Norway", "contributors:
      Austria, Belgium, …", a few lines however many donors a programme has. */
  function list(body, board, rows) {
    const groups = new Map();
    for (const row of rows) {
      const key = row[board.group] ? row[board.group].value : "";
      if (!groups.has(key)) groups.set(key, { row, items: [] });
      groups.get(key).items.push(row);
    }
    const dl = el("dl", { class: "grouped" });
    const item = board.label[0];
    for (const group of groups.values()) {
      dl.append(el("dt", {}, cell(group.row, board.group), " ",
        el("span", { class: "count", text: "(" + plural(group.items.length, "donor") + ")" })));
      const byNote = new Map();
      for (const row of group.items) {
        const note = board.note && row[board.note] ? row[board.note].value : "";
        if (!byNote.has(note)) byNote.set(note, []);
        byNote.get(note).push(row);
      }
      const dd = el("dd", {});
      for (const [note, members] of byNote) {
        const line = el("p", { class: "members" });
        if (note) line.append(el("span", { class: "kind", text: note + (members.length > 1 ? "s" : "") + ": " }));
        members.forEach((row, i) => {
          if (i) line.append(", ");
          line.append(cell(row, item));
        });
        dd.append(line);
      }
      dl.append(dd);
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
      else body.append(el("p", { class: "note", text: plural(rows.length, "row") + " in the answer." }));
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
