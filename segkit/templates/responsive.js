/* segkit: fit every plotly chart to its width (phone and desktop), offline, no dependency.
   Titles and subplot titles wrap to the chart's width; on narrow screens legends go below the plot
   (horizontal) instead of squeezing it, margins shrink and fixed figure widths give way to the page. */
(function () {
  "use strict";
  var PHONE = 600;
  function wrap(text, max) {
    if (!text) { return text; }
    return String(text).split(/<br\s*\/?>/i).map(function (part) {
      if (part.replace(/<[^>]+>/g, "").length <= max) { return part; }
      var m = part.match(/^((?:<[^>]+>)*)([\s\S]*?)((?:<\/[^>]+>)*)$/);
      var open = m[1], body = m[2], close = m[3], lines = [], line = "";
      body.split(" ").forEach(function (word) {
        if (line && (line + " " + word).length > max) { lines.push(line); line = word; }
        else { line = line ? line + " " + word : word; }
      });
      if (line) { lines.push(line); }
      return lines.map(function (l) { return open + l + close; }).join("<br>");
    }).join("<br>");
  }
  function copy(value) { return value === undefined ? undefined : JSON.parse(JSON.stringify(value)); }
  function adapt(gd) {
    if (!window.Plotly || !gd.layout) { return; }
    var width = gd.getBoundingClientRect().width;
    if (!width) { return; }
    var layout = gd.layout;
    if (!gd._segkit) {
      gd._segkit = {
        title: layout.title && layout.title.text,
        annotations: (layout.annotations || []).map(function (a) { return a.text; }),
        legend: copy(layout.legend) || {},
        margin: copy(layout.margin) || {},
        width: layout.width,
        height: layout.height || 450,
        font: layout.font && layout.font.size
      };
    }
    var o = gd._segkit, phone = width < PHONE, update = {}, bars = [];
    gd.data.forEach(function (trace, i) { if (trace.type === "heatmap" && trace.showscale !== false) { bars.push(i); } });
    var barHeight = 0;
    var titleSize = (layout.title && layout.title.font && layout.title.font.size) || (phone ? 15 : 17);
    if (o.title) {
      var title = wrap(o.title, Math.max(18, Math.floor((width - 30) / (titleSize * 0.56))));
      update["title.text"] = title;
      update["title.x"] = phone ? 0.02 : (layout.title.x === undefined ? 0.05 : layout.title.x);
      var above = (layout.annotations || []).some(function (a) { return a.yref === "paper" && a.y > 1; });
      update["title.yref"] = "container";
      update["title.y"] = 1 - 6 / (o.height || 450);
      update["title.yanchor"] = "top";
      update["title.pad.t"] = 10;
      update["margin.t"] = Math.max(o.margin.t || 60, 30 + 21 * title.split("<br>").length + (above ? 26 : 0));
    }
    (layout.annotations || []).forEach(function (annotation, i) {
      if (annotation.showarrow === false && annotation.yref === "paper" && o.annotations[i]) {
        var share = 1;
        var axis = layout[(annotation.xref || "x").replace("x", "xaxis").replace("paper", "xaxis")];
        if (axis && axis.domain) { share = Math.max(0.2, axis.domain[1] - axis.domain[0]); }
        var size = phone ? 10 : 12;
        update["annotations[" + i + "].text"] = wrap(o.annotations[i], Math.max(10, Math.floor(width * share / (size * 0.6))));
        update["annotations[" + i + "].font.size"] = size;
      }
    });
    var names = gd.data.filter(function (t) {
      return t.showlegend !== false && t.name && t.type !== "heatmap" && t.type !== "sankey";
    }).map(function (t) { return String(t.name).replace(/<[^>]+>/g, ""); });
    var shown = layout.showlegend !== false && names.length > (gd.data.length > 1 ? 0 : 1);
    if (phone) {
      // rows of a horizontal legend: entries side by side while they fit (about 6 px a character at 10 px)
      var rows = 0, used = width;
      names.forEach(function (name) {
        var entry = 44 + 6 * name.length;
        if (used + entry > width - 16) { rows += 1; used = entry; } else { used += entry; }
      });
      var legendHeight = shown ? 8 + 19 * rows : 0;
      update["legend.orientation"] = "h";
      update["legend.x"] = 0;
      update["legend.xanchor"] = "left";
      var bottom = (o.margin.b || 50) + legendHeight + barHeight;
      var plotHeight = Math.max(120, o.height + legendHeight + barHeight - bottom - (update["margin.t"] || o.margin.t || 60));
      update["legend.y"] = -Math.max(40, (o.margin.b || 50) - 4) / plotHeight;  // just under the x axis title
      update["legend.yanchor"] = "top";
      update["legend.font.size"] = 10;
      update["margin.l"] = Math.min(o.margin.l || 60, 48);
      update["margin.r"] = 8;
      update["margin.b"] = (o.margin.b || 50) + legendHeight + barHeight;
      update["font.size"] = 11;
      update["width"] = null;
      update["autosize"] = true;
      update["height"] = o.height + legendHeight + barHeight;
    } else {
      update["legend"] = copy(o.legend);
      update["margin.b"] = o.margin.b;
      update["margin.l"] = o.margin.l;
      update["margin.r"] = o.margin.r;
      update["font.size"] = o.font;
      update["height"] = o.height;
      if (o.width && o.width > width) { update["width"] = null; update["autosize"] = true; }
    }
    if (phone && bars.length) {  // heatmaps keep a phone's width for their cells: thin colour bars, none
      // where every cell prints its value, and smaller row labels
      var labelled = bars.filter(function (i) { return gd.data[i].texttemplate; });
      var thin = bars.filter(function (i) { return !gd.data[i].texttemplate; });
      if (labelled.length) { window.Plotly.restyle(gd, {"showscale": false}, labelled); }
      if (thin.length) { window.Plotly.restyle(gd, {"colorbar.thickness": 10, "colorbar.xpad": 4}, thin); }
      update["yaxis.tickfont.size"] = 9;
    }
    if (update.height) {  // the figure's div and its wrapper have fixed heights: they follow the figure's
      gd.style.height = update.height + "px";
      if (gd.parentElement && gd.parentElement.style.height) { gd.parentElement.style.height = update.height + "px"; }
    }
    window.Plotly.relayout(gd, update);
  }
  function adaptAll() { document.querySelectorAll(".js-plotly-plot").forEach(adapt); }

  /* Charts on the first screen draw at once; the others are queued and drawn one by one when the browser is
     idle, so that the page is usable before every chart below the fold is drawn. */
  var queue = [], scheduled = false;
  var later = window.requestIdleCallback || function (f) { return setTimeout(f, 1); };
  function draw(gd, data, layout, config, done) {
    return window.Plotly.newPlot(gd, data, layout, config).then(function () {
      adapt(gd);
      if (done) { done(gd); }
      return gd;
    });
  }
  function schedule() {
    if (scheduled || !queue.length) { return; }
    scheduled = true;
    later(function () {
      scheduled = false;
      var item = queue.shift();
      if (item) { draw.apply(null, item).then(schedule, schedule); }
    }, {timeout: 400});
  }
  window.segkitPlot = function (id, data, layout, config) {  // returns a promise, as Plotly.newPlot
    var gd = typeof id === "string" ? document.getElementById(id) : id;
    if (!gd) { return Promise.resolve(); }
    if (gd.getBoundingClientRect().top < window.innerHeight) { return draw(gd, data, layout, config); }
    return new Promise(function (resolve) {
      queue.push([gd, data, layout, config, resolve]);
      if (document.readyState === "complete") { schedule(); }
    });
  };
  window.addEventListener("load", schedule);
  var timer = null;
  window.addEventListener("resize", function () { clearTimeout(timer); timer = setTimeout(adaptAll, 150); });
  if (document.readyState === "complete") { adaptAll(); } else { window.addEventListener("load", adaptAll); }
})();
