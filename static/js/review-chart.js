// The client's own chart: on "Review with client", large, for their eyes in the room, and
// on their link after they answer. One line per series in the data (the alliance, and the
// outcome when they answered it) on the same sessions; each series names the axis it is
// drawn on. A measure on another scale, or read the other way round, comes with its own
// axis on the right, so neither line is squeezed or stretched onto the other's range.
// Words come translated from the page via json_script; this file is served from our origin.
(function () {
  "use strict";

  const source = document.getElementById("review-chart-data");
  const canvas = document.getElementById("review-chart");
  if (!source || !canvas || typeof Chart === "undefined") {
    return;
  }
  const data = JSON.parse(source.textContent);
  const COLOURS = ["#0b5ed7", "#198754", "#6f42c1"];
  // Large on the screen shown across the room; smaller on the client's link, on a phone in
  // their hand.
  const FONT = { size: canvas.closest(".review-screen") ? 18 : 14 };

  const scales = { x: { ticks: { font: FONT } } };
  data.axes.forEach((axis, index) => {
    // The whole scale, end to end: the client sees their answers as they gave them.
    scales[axis.id] = {
      position: axis.position,
      min: axis.min,
      max: axis.max,
      ticks: { stepSize: axis.step, font: FONT },
      title: { display: true, text: axis.title, font: FONT },
      // One grid, the first axis's; a second would cross it at other heights.
      grid: { drawOnChartArea: index === 0 },
    };
  });

  new Chart(canvas, {
    type: "line",
    data: {
      // Each session's name over its date, on two lines.
      labels: data.labels.map((label, index) => [label, data.dates[index]]),
      datasets: data.series.map((series, index) => ({
        label: series.label,
        data: series.values,
        yAxisID: series.axis,
        borderColor: COLOURS[index % COLOURS.length],
        backgroundColor: COLOURS[index % COLOURS.length],
        borderWidth: 4,
        pointRadius: 7,
        // A second line is told apart by more than its colour.
        pointStyle: index === 0 ? "circle" : "rectRot",
        borderDash: index === 0 ? [] : [10, 6],
        // Smoothed without overshooting the answers the client gave.
        cubicInterpolationMode: "monotone",
        spanGaps: true,
      })),
    },
    options: {
      maintainAspectRatio: false,
      animation: false,
      // Room for the last session's name at the right edge of a phone.
      layout: { padding: { right: 20 } },
      scales: scales,
      plugins: {
        legend: { display: data.series.length > 1, labels: { font: FONT, usePointStyle: true } },
        tooltip: { titleFont: FONT, bodyFont: FONT },
      },
    },
  });
})();
