/* iomkg front end, shared part: RDF terms as links, SPARQL over fetch, charts, maps and graph
   views (ECharts, world-atlas). Loaded only where the npm packages are installed
   (server/iomkg/web/assets.py); the pages work without it as plain HTML. No inline script or
   style anywhere: the page's Content-Security-Policy allows this server's files only. */
"use strict";

(function () {
  const iomkg = (window.iomkg = window.iomkg || {});

  /** The page's configuration: a JSON data island written by the server. */
  iomkg.config = function () {
    const island = document.getElementById("iomkg-config");
    return island ? JSON.parse(island.textContent) : {};
  };

  iomkg.el = function (tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  };
  const el = iomkg.el;

  // Terms -----------------------------------------------------------------------------------

  const LOCAL_ROOTS = ["id/", "ontology", "graph/"];

  iomkg.localPath = function (iri, base) {
    if (!iri.startsWith(base)) return null;
    const rest = iri.slice(base.length);
    return LOCAL_ROOTS.some((root) => rest.startsWith(root)) ? "/" + rest : null;
  };

  /** prefix:local for the longest known namespace (as the server's LinkMap does). */
  iomkg.compact = function (iri, prefixes) {
    let best = null;
    for (const [name, namespace] of Object.entries(prefixes)) {
      const local = iri.slice(namespace.length);
      if (iri.startsWith(namespace) && local && /^[\w\-./]+$/.test(local)) {
        if (!best || namespace.length > prefixes[best[0]].length) best = [name, local];
      }
    }
    return best ? best[0] + ":" + best[1] : iri;
  };

  const NUMERIC = new Set(
    ["integer", "decimal", "double", "float", "int", "long", "short", "nonNegativeInteger",
      "positiveInteger", "negativeInteger", "nonPositiveInteger", "unsignedInt", "gYear"]
      .map((name) => "http://www.w3.org/2001/XMLSchema#" + name)
  );
  iomkg.isNumeric = (term) => !!term && term.type !== "uri" && NUMERIC.has(term.datatype || "")
    && !isNaN(Number(term.value));

  /** One SPARQL JSON term as an element: local IRIs link here, http(s) out, language shown. */
  iomkg.termNode = function (term, config) {
    if (!term) return document.createTextNode("");
    if (term.type === "uri") {
      const text = iomkg.compact(term.value, config.prefixes);
      const local = iomkg.localPath(term.value, config.base);
      if (local) return el("a", { href: local, title: term.value, text });
      if (/^https?:/.test(term.value)) {
        return el("a", { href: term.value, title: term.value, rel: "external noopener",
          class: "external", text });
      }
      return el("span", { class: "iri", title: term.value, text });
    }
    if (term.type === "bnode") return el("span", { class: "bnode", text: "_:" + term.value });
    const lang = term["xml:lang"];
    const datatype = term.datatype ? iomkg.compact(term.datatype, config.prefixes) : null;
    return el("span", {},
      el("span", { class: datatype ? "literal typed" : "literal", title: datatype, text: term.value }),
      lang ? el("span", { class: "lang", text: " @" + lang }) : null);
  };

  /** A term as plain text (filtering, sorting, chart labels). */
  iomkg.termText = function (term, config) {
    if (!term) return "";
    if (term.type === "uri") return iomkg.compact(term.value, config.prefixes);
    return term.value;
  };

  // SPARQL over HTTP ------------------------------------------------------------------------

  /** Run a query: GET while the URL stays short, POST (a form body) beyond; any length works. */
  iomkg.runQuery = async function (endpoint, query, accept, extra) {
    const params = new URLSearchParams({ query, ...(extra || {}) });
    const headers = { Accept: accept };
    const url = endpoint + "?" + params.toString();
    if (url.length <= 2000) return fetch(url, { headers });
    return fetch(endpoint, {
      method: "POST",
      headers: { ...headers, "Content-Type": "application/x-www-form-urlencoded" },
      body: params.toString(),
    });
  };

  /** Parse N-Triples as the server writes them (one triple per line) into SPARQL JSON terms. */
  iomkg.parseNTriples = function (text) {
    const term = /<([^>]*)>|_:(\S+)|"((?:[^"\\]|\\.)*)"(?:@([\w-]+)|\^\^<([^>]*)>)?/g;
    const unescape = (s) => s.replace(/\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})|\\(.)/g,
      (m, u4, u8, c) => u4 || u8 ? String.fromCodePoint(parseInt(u4 || u8, 16))
        : ({ n: "\n", t: "\t", r: "\r" }[c] || c));
    const triples = [];
    for (const line of text.split("\n")) {
      if (!line.trim() || line.startsWith("#")) continue;
      const found = [];
      term.lastIndex = 0;
      let match;
      while (found.length < 3 && (match = term.exec(line))) {
        if (match[1] !== undefined) found.push({ type: "uri", value: match[1] });
        else if (match[2] !== undefined) found.push({ type: "bnode", value: match[2] });
        else {
          const literal = { type: "literal", value: unescape(match[3]) };
          if (match[4]) literal["xml:lang"] = match[4];
          if (match[5]) literal.datatype = match[5];
          found.push(literal);
        }
      }
      if (found.length === 3) triples.push(found);
    }
    return triples;
  };

  // Downloads of any length: fetch, then hand the bytes to the browser as a file --------------

  iomkg.download = async function (endpoint, query, format, filename) {
    const response = await iomkg.runQuery(endpoint, query, format.media_type, { format: format.name });
    if (!response.ok) throw new Error(await response.text());
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: filename, class: "visually-hidden", text: filename });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  };

  // Charts ------------------------------------------------------------------------------------

  const PALETTE = ["#0b5cad", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0e7490", "#a16207",
    "#be185d", "#4d7c0f", "#1d4ed8"];

  iomkg.chartAvailable = () => typeof window.echarts !== "undefined";

  function chartInstance(container) {
    const existing = window.echarts.getInstanceByDom(container);
    if (existing) existing.dispose();
    const chart = window.echarts.init(container, null, { renderer: "canvas" });
    window.addEventListener("resize", () => chart.resize());
    return chart;
  }

  const TEXT_STYLE = { color: "#1d2733", fontFamily: "system-ui, sans-serif" };

  /** A bar, line or pie chart of labels and numbers; the container is labelled for readers.
      ``options.horizontal``: bars from the left, the labels one a line (many long labels). */
  iomkg.drawChart = function (container, kind, labels, series, title, options) {
    const horizontal = !!(options && options.horizontal) && kind === "bar";
    // Counts get whole-number ticks (no "1.5 activities"); other numbers keep ECharts' own.
    const integers = series.every((s) => s.values.every((v) => v === null || Number.isInteger(v)));
    // Large amounts read as 60M, not 60,000,000; the value axis says what it counts.
    const compact = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 });
    const valueName = (options && options.valueName) || undefined;
    const valueAxis = { type: "value", minInterval: integers ? 1 : 0,
      axisLabel: { color: "#1d2733", formatter: (v) => (Math.abs(v) >= 10000 ? compact.format(v) : String(v)) },
      name: valueName, nameTextStyle: { color: "#1d2733", fontSize: 12 } };
    const chart = chartInstance(container);
    const description = title + " (" + kind + " chart of " + labels.length + " values)";
    container.setAttribute("role", "img");
    container.setAttribute("aria-label", description);
    const base = {
      animation: false,
      color: PALETTE,
      textStyle: TEXT_STYLE,
      // ECharts writes the container's aria-label: ours (its own lists the first ten data
      // items as "6, 1"); the figures are in a table beside every chart.
      aria: { enabled: true, label: { description } },
      tooltip: { renderMode: "richText", trigger: kind === "pie" ? "item" : "axis" },
      legend: series.length > 1 || kind === "pie" ? { type: "scroll", bottom: 0 } : undefined,
    };
    if (kind === "pie") {
      chart.setOption({
        ...base,
        series: [{
          type: "pie", radius: ["25%", "65%"], name: series[0].name,
          data: labels.map((label, i) => ({ name: label, value: series[0].values[i] })),
          label: { color: "#1d2733" },
        }],
      });
    } else if (horizontal) {
      chart.setOption({
        ...base,
        grid: { left: 8, right: 24, top: 8, bottom: (series.length > 1 ? 40 : 8) + (valueName ? 28 : 0),
          containLabel: true },
        yAxis: { type: "category", data: labels, inverse: true,
          axisLabel: { color: "#1d2733", interval: 0, fontSize: 11, overflow: "truncate",
            width: Math.max(110, Math.min(260, Math.round(container.clientWidth * 0.45))) } },
        xAxis: { ...valueAxis, nameLocation: "middle", nameGap: 26 },
        series: series.map((s) => ({ type: "bar", name: s.name, data: s.values, barMaxWidth: 14 })),
      });
    } else {
      chart.setOption({
        ...base,
        grid: { left: 40, right: 16, top: valueName ? 36 : 24, bottom: series.length > 1 ? 56 : 24, containLabel: true },
        xAxis: { type: "category", data: labels,
          axisLabel: { color: "#1d2733", rotate: labels.length > 6 ? 30 : 0, interval: 0,
            formatter: (v) => (v.length > 24 ? v.slice(0, 23) + "…" : v) } },
        yAxis: { ...valueAxis, nameLocation: "end", nameTextStyle: { ...valueAxis.nameTextStyle, align: "left" } },
        series: series.map((s) => ({ type: kind, name: s.name, data: s.values })),
      });
    }
    return chart;
  };

  // Maps --------------------------------------------------------------------------------------

  let worldReady = null;
  /** The bundled world outline (world-atlas, Natural Earth 1:110m) and the ISO code table. */
  iomkg.loadWorld = function () {
    if (!worldReady) {
      worldReady = Promise.all([
        fetch("/assets/countries-110m.json").then((r) => r.json()),
        fetch("/assets/country-codes.json").then((r) => r.json()),
      ]).then(([topology, codes]) => {
        const geojson = window.topojson.feature(topology, topology.objects.countries);
        // Antarctica takes a quarter of the height and holds no data here; rings that cross the
        // antimeridian (Russia, Fiji) are moved east of it, else they are drawn across the map.
        geojson.features = geojson.features.filter((f) => f.id !== "010");
        for (const feature of geojson.features) {
          const polygons = feature.geometry.type === "Polygon" ? [feature.geometry.coordinates]
            : feature.geometry.type === "MultiPolygon" ? feature.geometry.coordinates : [];
          for (const rings of polygons) {
            for (const ring of rings) {
              if (ring.some((p) => p[0] > 160) && ring.some((p) => p[0] < -160)) {
                for (const point of ring) if (point[0] < 0) point[0] += 360;
              }
            }
          }
        }
        const byNumeric = {};
        for (const [alpha2, alpha3, numeric] of codes) byNumeric[numeric] = { alpha2, alpha3 };
        for (const feature of geojson.features) {
          const code = byNumeric[feature.id];
          feature.properties.iso = code ? code.alpha2 : "";
        }
        window.echarts.registerMap("world", geojson);
        const alpha = {};
        for (const [alpha2, alpha3] of codes) {
          alpha[alpha2] = alpha2;
          alpha[alpha3] = alpha2;
        }
        return { alpha, features: geojson.features, names: Object.fromEntries(geojson.features.map((f) => [f.properties.iso, f.properties.name])) };
      });
    }
    return worldReady;
  };

  /** An ISO country code in a term: "NO", "NOR", or an IRI ending in id/country/NO. */
  iomkg.countryCode = function (term, alpha) {
    if (!term) return null;
    let text = term.value;
    if (term.type === "uri") {
      const match = /\/country\/([A-Za-z]{2,3})$/.exec(text);
      if (!match) return null;
      text = match[1];
    }
    text = text.trim();
    if (!/^[A-Z]{2,3}$/.test(text)) return null;
    return alpha[text] || null;
  };

  /** The ISO country codes of a term: one, or a list ("RS MK", as GROUP_CONCAT gives it, or
      "RS, MK"); none unless every item of the list is a code. */
  iomkg.countryCodes = function (term, alpha) {
    if (!term) return [];
    const one = iomkg.countryCode(term, alpha);
    if (one || term.type === "uri") return one ? [one] : [];
    const items = term.value.split(/[\s,;]+/).filter(Boolean);
    const codes = items.map((item) => iomkg.countryCode({ type: "literal", value: item }, alpha));
    return items.length > 1 && codes.every(Boolean) ? codes : [];
  };

  /** [longitude, latitude] of a GeoSPARQL WKT point, else null. Without a CRS IRI (or with
      CRS84's) a point is longitude first; with EPSG 4326's, latitude first (that CRS's axis
      order); any other CRS cannot be drawn on this map. */
  iomkg.wktPoint = function (term) {
    if (!term || term.type === "uri") return null;
    const match = /^\s*(?:<([^>]*)>\s*)?POINT\s*\(\s*(-?[\d.]+(?:[eE][-+]?\d+)?)\s+(-?[\d.]+(?:[eE][-+]?\d+)?)\s*\)\s*$/i
      .exec(term.value);
    if (!match) return null;
    const [first, second] = [Number(match[2]), Number(match[3])];
    const crs = match[1];
    if (!crs || /\/OGC\/1\.3\/CRS84$/.test(crs)) return [first, second];
    if (/\/EPSG\/0\/4326$/.test(crs)) return [second, first];
    return null;
  };

  /** The box [[west, north], [east, south]] around some countries' outlines (and points), at
      least ``span`` degrees wide and half as high, for a map that shows them large enough. */
  function boundingBox(features, points, span) {
    let west = 180, east = -180, south = 90, north = -90;
    const visit = (c) => {
      if (typeof c[0] === "number") {
        west = Math.min(west, c[0]); east = Math.max(east, c[0]);
        south = Math.min(south, c[1]); north = Math.max(north, c[1]);
      } else c.forEach(visit);
    };
    features.forEach((f) => visit(f.geometry.coordinates));
    points.forEach((p) => visit([p.lon, p.lat]));
    if (west > east) return null;
    const widen = (low, high, size) => {
      const middle = (low + high) / 2, half = Math.max(size, high - low) / 2 * 1.15;
      return [middle - half, middle + half];
    };
    [west, east] = widen(west, east, span);
    [south, north] = widen(south, north, span / 2);
    return [[Math.max(-180, west), Math.min(85, north)], [Math.min(200, east), Math.max(-60, south)]];
  }

  /** A world map: countries shaded by value, and points (with their labels). ``options.fit``:
      the map starts around the countries and points shown (at least ``fit`` degrees wide). */
  iomkg.drawMap = async function (container, countries, points, title, options) {
    const world = await iomkg.loadWorld();
    const chart = chartInstance(container);
    const codes = new Set(countries.map((c) => c.code));
    const box = options && options.fit && (countries.length || points.length)
      ? boundingBox(world.features.filter((f) => codes.has(f.properties.iso)), points, options.fit)
      : undefined;
    const values = countries.map((c) => c.value);
    const max = Math.max(1, ...values);
    const description = title + ": map of " + countries.length + " countries and "
      + points.length + " points";
    container.setAttribute("role", "img");
    container.setAttribute("aria-label", description);
    chart.setOption({
      animation: false,
      textStyle: TEXT_STYLE,
      aria: { enabled: true, label: { description } },
      tooltip: { renderMode: "richText", trigger: "item" },
      visualMap: countries.length ? {
        min: 0, max, left: 8, bottom: 8, calculable: false, text: [String(max), "0"],
        inRange: { color: ["#dbe9f6", "#0b5cad"] }, seriesIndex: 0, textStyle: TEXT_STYLE,
      } : undefined,
      geo: { map: "world", roam: true, nameProperty: "iso", silent: false,
        left: 8, right: 8, top: 8, bottom: 8, boundingCoords: box,
        itemStyle: { areaColor: "#eef2f6", borderColor: "#9aa5b1" },
        emphasis: { itemStyle: { areaColor: "#f6d365" }, label: { show: false } } },
      series: [
        { type: "map", geoIndex: 0, name: title, nameProperty: "iso",
          data: countries.map((c) => ({ name: c.code, value: c.value, label: c.label })) },
        { type: "scatter", coordinateSystem: "geo", name: "points", symbolSize: 9,
          itemStyle: { color: "#c2410c", borderColor: "#fff", borderWidth: 1 },
          // A few points are named on the map; many are named by their tooltips only.
          label: { show: points.length <= 30, position: "right", formatter: "{b}", fontSize: 11,
            color: "#1d2733", textBorderColor: "#fff", textBorderWidth: 2 },
          labelLayout: { hideOverlap: true },
          data: points.map((p) => ({ name: p.label, value: [p.lon, p.lat] })) },
      ],
    });
    chart.on("click", (params) => {
      const item = params.seriesType === "map" ? countries.find((c) => c.code === params.name) : null;
      if (item && item.href) window.location.href = item.href;
    });
    return { chart, names: world.names };
  };

  // Graph views -------------------------------------------------------------------------------

  /** The hub of a star: the one node that every edge touches, when there are enough others
      around it to crowd a force layout (a resource page's neighbours, a CONSTRUCT about one
      resource), else null. */
  function starCentre(nodes, edges) {
    if (nodes.length < 9 || !edges.length) return null;
    for (const candidate of [edges[0].source, edges[0].target]) {
      if (edges.every((e) => e.source === candidate || e.target === candidate)) return candidate;
    }
    return null;
  }

  const GRAPH_ROW = 20; // px between two nodes of a column: an 11 px label and some air
  const LABEL_CHARS = 46;

  /** A star as two columns around its centre: the resources that link to it first (on the
      left), then those it links to, in the order given, each label beside its node and away
      from the centre, so that no label lies over another or over a node. The container grows
      to hold the rows. Returns the series' data and box. */
  function starLayout(container, nodes, edges, centre) {
    const incoming = new Set(edges.filter((e) => e.target === centre).map((e) => e.source));
    const others = nodes.filter((n) => n.id !== centre);
    others.sort((a, b) => (incoming.has(b.id) ? 1 : 0) - (incoming.has(a.id) ? 1 : 0));
    const rows = Math.ceil(others.length / 2);
    const height = Math.max(container.clientHeight, rows * GRAPH_ROW + 48);
    container.style.height = height + "px";
    const width = Math.max(container.clientWidth, 320);
    const room = Math.min(310, Math.round(width * 0.3)); // for the labels of each column
    const chars = Math.max(10, Math.min(LABEL_CHARS, Math.floor((room - 14) / 6.4)));
    const span = (rows - 1) * GRAPH_ROW, inner = width - 2 * room;
    const top = Math.max(28, Math.round((height - span) / 2)); // in the middle of the box
    const place = (n, x, y, side) => ({
      ...n, x, y, side,
      shown: n.label.length > chars ? n.label.slice(0, chars - 1) + "…" : n.label,
    });
    const data = [];
    const left = others.slice(0, rows), right = others.slice(rows);
    const column = (list, x, side) => list.forEach((n, i) => {
      const offset = (rows - list.length) * GRAPH_ROW / 2; // a shorter column is centred
      data.push(place(n, x, offset + i * GRAPH_ROW, side));
    });
    column(left, 0, "left");
    column(right, inner, "right");
    data.unshift(place(nodes.find((n) => n.id === centre), inner / 2, span / 2, "top"));
    // The box is the columns' span: layout "none" fits the nodes' coordinates into it, at scale 1.
    return { data, box: { left: room, right: room, top, height: Math.max(span, 1) } };
  }

  /** A graph of nodes (id, label, href, center) and edges (source, target, label): a star in
      two columns (see starLayout), any other graph force-directed. Nodes open their pages. */
  iomkg.drawGraph = function (container, nodes, edges, title) {
    container.setAttribute("role", "img");
    container.setAttribute("aria-label", title + ": a graph of " + nodes.length + " resources and "
      + edges.length + " links");
    const centre = starCentre(nodes, edges);
    const star = centre ? starLayout(container, nodes, edges, centre) : null;
    const chart = chartInstance(container);
    const shorten = (text) => (text.length > 28 ? text.slice(0, 27) + "…" : text);
    const layout = star ? { layout: "none", ...star.box } : {
      layout: "force",
      // The layout starts from a circle (not at random) and is computed to rest before the
      // graph is drawn (layoutAnimation off): the same graph is drawn the same way each time,
      // and a node stays where it is shown. More nodes repel each other less and are pulled
      // to the middle more, so that they stay inside the box.
      force: { initLayout: "circular", layoutAnimation: false,
        repulsion: Math.round(260 * Math.min(1, Math.sqrt(12 / Math.max(1, nodes.length)))),
        edgeLength: nodes.length > 20 ? [40, 110] : [70, 150],
        gravity: nodes.length > 20 ? 0.2 : 0.08 },
    };
    const data = star ? star.data : nodes;
    chart.setOption({
      animation: false,
      textStyle: TEXT_STYLE,
      tooltip: { renderMode: "richText" },
      series: [{
        type: "graph", roam: true, draggable: !star, ...layout,
        label: { show: true, position: "right", color: "#1d2733", fontSize: 11,
          formatter: (p) => p.data.shown || shorten(p.data.text) },
        // Labels that would overlap are hidden (the tooltip still names every node).
        labelLayout: star ? undefined : { hideOverlap: true },
        edgeSymbol: ["none", "arrow"], edgeSymbolSize: 7,
        lineStyle: { color: "#9aa5b1", curveness: star ? 0 : 0.08 },
        // A star's edges meet at its centre, where their names would lie over each other: the
        // tooltip of an edge names it.
        edgeLabel: { show: !star && edges.length <= 24, formatter: (p) => p.data.label, fontSize: 9,
          color: "#5b6776" },
        data: data.map((n) => ({ id: n.id, name: n.id, text: n.label, href: n.href, shown: n.shown,
          x: n.x, y: n.y,
          symbolSize: n.center || n.id === centre ? 22 : 12,
          label: n.side ? { position: n.side, fontWeight: n.side === "top" ? "bold" : "normal" }
            : undefined,
          itemStyle: { color: n.center || n.id === centre ? "#c2410c" : n.href ? "#0b5cad" : "#9aa5b1" },
          tooltip: { formatter: n.label + (n.href ? " (open)" : "") } })),
        links: edges.map((e) => ({ source: e.source, target: e.target, label: e.label,
          tooltip: { formatter: e.label } })),
      }],
    });
    chart.on("click", (params) => {
      if (params.dataType === "node" && params.data.href) window.location.href = params.data.href;
    });
    return chart;
  };
})();
