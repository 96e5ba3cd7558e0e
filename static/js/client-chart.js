// The client page's chart: client and therapist lines for the chosen measure,
// the cut-off as a dashed line, sessions with a signal in a concern as red triangles,
// repairs (a rupture fully talked through) as green stars.
// Data comes from the page via json_script; this file is served from our origin.
(function () {
  "use strict";

  const source = document.getElementById("alliance-chart-data");
  const canvas = document.getElementById("alliance-chart");
  if (!source || !canvas || typeof Chart === "undefined") {
    return;
  }
  const data = JSON.parse(source.textContent);
  const CLIENT = "#0b5ed7";
  const THERAPIST = "#6f42c1";
  const FLAGGED = "#b02a37";
  const REPAIRED = "#198754";
  const OUTCOME = "#146c43";
  const BAND = "#6c757d";
  const BAND_FILL = "rgba(108, 117, 125, 0.15)";

  // A session in a concern is marked first; a repair second; otherwise a plain point.
  function marked(normal, flagged, repaired) {
    return (context) => {
      if (data.flagged[context.dataIndex]) {
        return flagged;
      }
      return data.repaired[context.dataIndex] ? repaired : normal;
    };
  }

  function datasets(measure) {
    return [
      {
        label: "Client",
        data: data.client[measure],
        borderColor: CLIENT,
        backgroundColor: CLIENT,
        spanGaps: true,
        // Smoothed without overshooting: the curve never passes above 10 or below a
        // score the client gave.
        cubicInterpolationMode: "monotone",
        pointStyle: marked("circle", "triangle", "star"),
        pointRadius: marked(3, 7, 8),
        pointBackgroundColor: marked(CLIENT, FLAGGED, REPAIRED),
        pointBorderColor: marked(CLIENT, FLAGGED, REPAIRED),
      },
      {
        label: "Therapist",
        data: data.therapist[measure],
        borderColor: THERAPIST,
        backgroundColor: THERAPIST,
        borderDash: [2, 2],
        // A session the therapist did not rate is a gap in their line, not a join.
        spanGaps: false,
        cubicInterpolationMode: "monotone",
        pointRadius: 3,
      },
      {
        // Drawn across the whole chart by `cutoffLine` below (a line through one session's
        // point would be no line at all); the dataset gives it its legend entry.
        label: "Cut-off (" + data.cutoff.toFixed(1) + ")",
        data: data.labels.map(() => data.cutoff),
        borderColor: BAND,
        borderDash: [6, 4],
        borderWidth: 1,
        showLine: false,
        pointRadius: 0,
        pointHitRadius: 0,
        cutoffLine: true,
      },
    ].concat(outcomeDatasets());
  }

  // The outcome on its own axis (right), with the band the clinic's clients who started
  // like this one would put it in: between the expected score and the line below which
  // the client is not on track (above it, for a scale where lower is better).
  function outcomeDatasets() {
    const outcome = data.outcome;
    if (!outcome) {
      return [];
    }
    const offTrack = (normal, off) => (context) => (outcome.offTrack[context.dataIndex] ? off : normal);
    return [
      {
        label: "Outcome: " + outcome.name,
        data: outcome.score,
        yAxisID: "outcome",
        borderColor: OUTCOME,
        backgroundColor: OUTCOME,
        spanGaps: true,
        tension: 0,
        pointStyle: offTrack("rect", "crossRot"),
        pointRadius: offTrack(4, 8),
        pointBorderColor: offTrack(OUTCOME, FLAGGED),
        pointBorderWidth: offTrack(1, 3),
      },
      {
        label: "Expected for clients like this one",
        data: outcome.expected,
        yAxisID: "outcome",
        borderColor: BAND,
        borderDash: [3, 3],
        borderWidth: 1,
        spanGaps: true,
        tension: 0,
        pointRadius: 0,
      },
      {
        label: "Not on track beyond this line",
        data: outcome.lowest,
        yAxisID: "outcome",
        borderColor: BAND,
        backgroundColor: BAND_FILL,
        borderWidth: 1,
        spanGaps: true,
        tension: 0,
        pointRadius: 0,
        fill: "-1",
      },
    ];
  }

  // Scores crowd the ceiling; start the axis just below the lowest point (or the
  // cut-off) so that a drop is visible, and say so on the axis.
  function axisMinimum() {
    const values = [data.cutoff]
      .concat(data.client.score, data.therapist.score)
      .concat(...Object.keys(data.client).map((key) => data.client[key]))
      .filter((value) => value !== null);
    return Math.max(0, Math.floor(Math.min(...values)) - 1);
  }

  function outcomeAxis() {
    const outcome = data.outcome;
    if (!outcome) {
      return {};
    }
    const direction = outcome.higherIsBetter ? "higher is better" : "lower is better";
    return {
      outcome: {
        position: "right",
        min: outcome.min,
        max: outcome.max,
        reverse: false,
        grid: { drawOnChartArea: false },
        title: { display: true, text: "Outcome (" + outcome.min + "–" + outcome.max + ", " + direction + ")" },
      },
    };
  }

  // The cut-off, dashed from the chart's left edge to its right, while its legend entry
  // is on.
  const cutoffLine = {
    id: "cutoffLine",
    afterDatasetsDraw(chart) {
      const index = chart.data.datasets.findIndex((set) => set.cutoffLine);
      if (index < 0 || !chart.isDatasetVisible(index)) {
        return;
      }
      const y = chart.scales.y.getPixelForValue(data.cutoff);
      const context = chart.ctx;
      context.save();
      context.strokeStyle = BAND;
      context.lineWidth = 1;
      context.setLineDash([6, 4]);
      context.beginPath();
      context.moveTo(chart.chartArea.left, y);
      context.lineTo(chart.chartArea.right, y);
      context.stroke();
      context.restore();
    },
  };

  const chart = new Chart(canvas, {
    type: "line",
    plugins: [cutoffLine],
    data: { labels: data.labels, datasets: datasets("score") },
    options: {
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "index", intersect: false },
      scales: {
        y: {
          min: axisMinimum(),
          max: 10,
          ticks: { stepSize: 1 },
          title: { display: true, text: "Score (scale 0–10)" },
        },
        x: { title: { display: true, text: "Session" } },
        ...outcomeAxis(),
      },
      plugins: {
        legend: { position: "bottom" },
        tooltip: {
          callbacks: {
            afterBody: (items) => {
              if (!items.length) {
                return "";
              }
              const index = items[0].dataIndex;
              const notes = [];
              if (data.flagged[index]) {
                notes.push("In a concern");
              }
              if (data.repaired[index]) {
                notes.push("Repair: a rupture fully talked through");
              }
              if (data.outcome && data.outcome.offTrack[index]) {
                notes.push("Outcome: not on track");
              }
              return notes.join("\n");
            },
          },
        },
      },
    },
  });

  const measure = document.getElementById("chart-measure");
  if (measure) {
    measure.addEventListener("change", () => {
      const hidden = chart.data.datasets.map((_, index) => !chart.isDatasetVisible(index));
      chart.data.datasets = datasets(measure.value);
      hidden.forEach((isHidden, index) => chart.setDatasetVisibility(index, !isHidden));
      chart.update();
    });
  }
})();
