// The calibration page's charts: concerns per therapist-week against each main threshold,
// with the value in use (now, or when it was calibrated) and the proposed value marked.
// Data comes via json_script.
(function () {
  "use strict";

  const source = document.getElementById("threshold-curves");
  if (!source || typeof Chart === "undefined") {
    return;
  }
  const LINE = "#0b5ed7";
  const CURRENT = "#6c757d";
  const PROPOSED = "#0b5ed7";

  function pointAt(curve, value) {
    const found = curve.points.find((point) => point.value === value);
    return found ? [{ x: found.value, y: found.rate }] : [];
  }

  JSON.parse(source.textContent).forEach((curve) => {
    const canvas = document.getElementById("curve-" + curve.name);
    if (!canvas) {
      return;
    }
    new Chart(canvas, {
      type: "scatter",
      data: {
        datasets: [
          {
            label: "Concerns per therapist-week",
            data: curve.points.map((point) => ({ x: point.value, y: point.rate })),
            showLine: true,
            borderColor: LINE,
            backgroundColor: LINE,
            pointRadius: 2,
          },
          {
            label: (curve.current_label || "In use now") + " (" + curve.current + ")",
            data: pointAt(curve, curve.current),
            pointRadius: 7,
            pointStyle: "rectRot",
            backgroundColor: CURRENT,
            borderColor: CURRENT,
          },
          {
            label: "Proposed (" + curve.proposed + ")",
            data: pointAt(curve, curve.proposed),
            pointRadius: 7,
            pointStyle: "circle",
            backgroundColor: "#ffffff",
            borderColor: PROPOSED,
            borderWidth: 3,
          },
        ],
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        scales: {
          x: { title: { display: true, text: curve.label } },
          y: { beginAtZero: true, title: { display: true, text: "Per therapist-week" } },
        },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 10 } } },
      },
    });
  });
})();
