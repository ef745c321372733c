// shipwise dashboard: draws the uPlot charts from their embedded JSON and wires copy buttons.
// No network access: the data is in the page (<script type="application/json">).
(function () {
  "use strict";
  var COLORS = ["#1f5fbf", "#c0392b", "#d68910", "#7d3c98", "#117a65"];
  window.shipwiseCharts = window.shipwiseCharts || {};

  // an axis or legend value by the spec's format: "pct" (ratios as percentages, as the tiles
  // show them), "per100" (a ratio per deployment as "per 100 deployments": a rate's % and a
  // count's per-hundred on one axis) or plain; with its unit ("d", "h") when the spec names one
  function formatter(fmt, unit, legend) {
    if (fmt === "pct") return function (v) { return v == null ? "" : +(v * 100).toFixed(Math.abs(v) > 0.9 && Math.abs(v) < 1 ? 2 : 1) + "%"; };
    if (fmt === "per100") return function (v) { return v == null ? "" : +(v * 100).toFixed(1) + (legend ? " per 100" : ""); };
    if (unit) return function (v) { return v == null ? "" : +v.toFixed(Math.abs(v) < 1 ? 2 : 1) + " " + unit; };
    return fmtLeft;
  }

  function fmtLeft(v) {
    if (v == null) return "";
    var a = Math.abs(v);
    if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
    if (a >= 1e3) return (v / 1e3).toFixed(1) + "k";
    return +v.toFixed(2) + "";
  }

  // the index the legend shows when no period is pointed at: the latest period with a value,
  // so a static view (a screenshot, a printout) reads "period: 2026-Q3 · Cost to serve: 6.3k"
  // instead of a row of dashes
  function latest(spec) {
    for (var j = spec.labels.length - 1; j >= 0; j--) {
      if (spec.series.some(function (s) { return s.values[j] != null; })) return j;
    }
    return spec.labels.length - 1;
  }

  function periodSeries(spec) {
    var last = latest(spec);
    return { label: "period", value: function (u, v) { return spec.labels[v == null ? last : v] || ""; } };
  }

  function legendValue(spec, values, format) {
    var last = latest(spec);
    return function (u, v, si, idx) {
      var raw = values[idx == null ? last : idx];
      return raw == null ? "no value" : format(raw);
    };
  }

  // Stacked bars (e.g. cycle-time phases): each series is drawn as the running total up to it,
  // tallest first, so every phase shows as its own segment; the legend shows the phase's value.
  function stacked(spec, xs) {
    var totals = spec.labels.map(function () { return null; });
    var cumulative = spec.series.map(function (s) {
      totals = totals.map(function (t, j) { return s.values[j] == null ? t : (t || 0) + s.values[j]; });
      return totals.slice();
    });
    var order = spec.series.map(function (_, i) { return i; }).reverse();
    var bars = window.uPlot.paths.bars({ size: [0.6, 64] });
    var series = [periodSeries(spec)];
    var left = formatter(spec.left_format, spec.left_unit, true);
    order.forEach(function (i) {
      var colour = COLORS[i % COLORS.length];
      series.push({
        label: spec.series[i].label, scale: "y", paths: bars, points: { show: false },
        stroke: colour, fill: colour + "cc", width: 1,
        value: legendValue(spec, spec.series[i].values, left)
      });
    });
    return { data: [xs].concat(order.map(function (i) { return cumulative[i]; })), series: series };
  }

  function lines(spec, xs) {
    var left = formatter(spec.left_format, spec.left_unit, true), right = formatter(spec.right_format, spec.right_unit, true);
    var series = [periodSeries(spec)];
    var colour = 0;
    spec.series.forEach(function (s, i) {
      // a parent org unit's total is the others together: grey and dashed, not one more unit
      var total = !!s.total;
      series.push({
        label: s.label, scale: s.axis === "right" ? "r" : "y", spanGaps: !spec.gaps,
        stroke: total ? "#6b7280" : COLORS[colour++ % COLORS.length],
        width: total ? 2.5 : (i === 0 ? 3 : 1.5),
        dash: total ? [10, 5] : (s.axis === "right" ? [6, 4] : undefined),
        points: { show: true, size: i === 0 ? 6 : 4 },
        value: legendValue(spec, s.values, s.axis === "right" ? right : left)
      });
    });
    return { data: [xs].concat(spec.series.map(function (s) { return s.values; })), series: series };
  }

  function draw(box) {
    var spec = JSON.parse(document.getElementById(box.dataset.chart).textContent);
    if (!window.uPlot || !spec.labels.length) return;
    box.innerHTML = "";
    var xs = spec.labels.map(function (_, i) { return i; });
    var built = spec.kind === "stacked" ? stacked(spec, xs) : lines(spec, xs);
    var data = built.data, series = built.series;
    var hasRight = spec.series.some(function (s) { return s.axis === "right"; });
    var axes = [
      { values: function (u, ticks) { return ticks.map(function (t) { return Number.isInteger(t) ? spec.labels[t] || "" : ""; }); } },
      { scale: "y", label: spec.left, values: function (u, t) { return t.map(formatter(spec.left_format)); }, size: 64 }
    ];
    if (hasRight) axes.push({ scale: "r", side: 1, label: spec.right, grid: { show: false }, size: 64, values: function (u, t) { return t.map(formatter(spec.right_format)); } });
    var width = Math.max(280, box.clientWidth || box.parentNode.clientWidth || 600);
    var x = { time: false };
    if (spec.kind === "stacked") x.range = function (u, min, max) { return [min - 0.5, max + 0.5]; };
    var opts = {
      width: width, height: width < 500 ? 240 : 300, series: series, axes: axes,
      scales: { x: x, y: spec.kind === "stacked" ? { range: function (u, min, max) { return [0, max * 1.05 || 1]; } } : { auto: true }, r: { auto: true } },
      legend: { live: true }
    };
    var u = new window.uPlot(opts, data, box);
    window.shipwiseCharts[spec.id] = u;
    box.dataset.ready = "1";
  }

  function drawAll(root) {
    (root || document).querySelectorAll("[data-chart]").forEach(function (box) {
      if (!box.dataset.ready) draw(box);
    });
  }

  function copy(ev) {
    var btn = ev.target.closest("button.copy");
    if (!btn) return;
    var text = document.getElementById(btn.dataset.copy).textContent;
    var done = function () { btn.textContent = "Copied"; setTimeout(function () { btn.textContent = "Copy"; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallback(text); done(); });
    } else { fallback(text); done(); }
  }

  function fallback(text) {
    var ta = document.createElement("textarea");
    ta.value = text; ta.setAttribute("readonly", ""); ta.className = "offscreen";
    document.body.appendChild(ta); ta.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing to do */ }
    document.body.removeChild(ta);
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSettle", function (ev) { drawAll(ev.target); });
  // the chat panel of an investigation: show an error answer too, and clear the question
  document.addEventListener("htmx:beforeSwap", function (ev) {
    if (ev.detail.target && ev.detail.target.id === "chat-log" && ev.detail.xhr.status >= 400) {
      ev.detail.shouldSwap = true;
      ev.detail.isError = false;
    }
  });
  document.addEventListener("htmx:afterRequest", function (ev) {
    var form = ev.target;
    if (form && form.matches && form.matches("form[data-reset]") && ev.detail.successful) {
      form.reset();
    }
  });
  document.addEventListener("click", copy);
  var resizeTimer;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      Object.keys(window.shipwiseCharts).forEach(function (id) {
        var u = window.shipwiseCharts[id], box = document.getElementById(id);
        if (box && box.clientWidth) u.setSize({ width: box.clientWidth, height: box.clientWidth < 500 ? 240 : 300 });
      });
    }, 150);
  });
})();
