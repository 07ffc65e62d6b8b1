/* A resource page's neighbourhood: the resource and the resources it links to or is linked
   from, as a graph whose nodes open their pages (the server lists them: iomkg.resources). */
"use strict";

(function () {
  const iomkg = window.iomkg;
  const island = document.getElementById("iomkg-neighbours");
  const canvas = document.getElementById("neighbour-graph");
  if (!island || !canvas || !iomkg.chartAvailable()) return;
  const graph = JSON.parse(island.textContent);
  canvas.hidden = false;
  iomkg.drawGraph(canvas, graph.nodes, graph.edges, "The neighbours of " + graph.nodes[0].label);
})();
