// "Review with client": the client's own ratings, large, for their eyes in the room.
// One line per series in the data (the alliance today; an outcome measure may join it),
// on the same sessions. Words come translated from the page via json_script; this file
// is served from our origin.
(function () {
  "use strict";

  const source = document.getElementById("review-chart-data");
  const canvas = document.getElementById("review-chart");
  if (!source || !canvas || typeof Chart === "undefined") {
    return;
  }
  const data = JSON.parse(source.textContent);
  const COLOURS = ["#0b5ed7", "#198754", "#6f42c1"];
  const FONT = { size: 18 };

  new Chart(canvas, {
    type: "line",
    data: {
      // Each session's name over its date, on two lines.
      labels: data.labels.map((label, index) => [label, data.dates[index]]),
      datasets: data.series.map((series, index) => ({
        label: series.label,
        data: series.values,
        borderColor: COLOURS[index % COLOURS.length],
        backgroundColor: COLOURS[index % COLOURS.length],
        borderWidth: 4,
        pointRadius: 7,
        tension: 0.2,
        spanGaps: true,
      })),
    },
    options: {
      maintainAspectRatio: false,
      animation: false,
      // Room for the last session's name at the right edge of a phone.
      layout: { padding: { right: 20 } },
      scales: {
        // The whole scale, 0 to 10: the client sees their ratings as they gave them.
        y: {
          min: data.series[0].min,
          max: data.series[0].max,
          ticks: { stepSize: 2, font: FONT },
          title: { display: true, text: data.axis, font: FONT },
        },
        x: { ticks: { font: FONT } },
      },
      plugins: {
        legend: { display: data.series.length > 1, labels: { font: FONT } },
        tooltip: { titleFont: FONT, bodyFont: FONT },
      },
    },
  });
})();
