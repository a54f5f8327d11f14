// Draws the delivery dashboard from the JSON the view embeds (no network calls, no CDN).
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("dashboard-data").textContent);
  var palette = ["#2f6fb0", "#3c9a5f", "#d98c1f", "#8d4fb8", "#c2413b", "#2aa1a8", "#7a7a7a", "#b5a020"];
  var base = { animation: false, responsive: true, maintainAspectRatio: false };

  var templates = Object.keys(data.funnel_totals).sort();
  var charts = [
    new Chart(document.getElementById("funnel-chart"), {
      type: "bar",
      data: {
        labels: data.funnel_states,
        datasets: templates.map(function (t, i) {
          return { label: t, backgroundColor: palette[i % palette.length],
                   data: data.funnel_states.map(function (s) { return data.funnel_totals[t][s] || 0; }) };
        }),
      },
      options: base,
    }),
    new Chart(document.getElementById("series-chart"), {
      type: "line",
      data: {
        labels: data.days,
        datasets: Object.keys(data.series).map(function (channel, i) {
          return { label: channel, data: data.series[channel], borderColor: palette[i % palette.length],
                   backgroundColor: palette[i % palette.length], borderWidth: 3, pointRadius: 4 };
        }),
      },
      options: base,
    }),
    new Chart(document.getElementById("failure-chart"), {
      type: "bar",
      data: {
        labels: data.failures.map(function (f) { return f.reason.length > 40 ? f.reason.slice(0, 39) + "…" : f.reason; }),
        datasets: [{ label: "failures", backgroundColor: "#c2413b", data: data.failures.map(function (f) { return f.count; }) }],
      },
      options: Object.assign({ indexAxis: "y" }, base),
    }),
  ];

  // Mark each canvas with how many pixels were painted, so a check (or a human with the
  // inspector) can tell a drawn chart from a blank one.
  var report = charts.map(function (chart) {
    var canvas = chart.canvas, ctx = canvas.getContext("2d");
    var pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data, painted = 0;
    for (var i = 3; i < pixels.length; i += 4) { if (pixels[i] !== 0) { painted++; } }
    canvas.dataset.painted = String(painted);
    return canvas.id + "=" + painted;
  });
  var check = document.getElementById("chart-check");
  check.dataset.status = "rendered";
  check.dataset.painted = report.join(",");
})();
