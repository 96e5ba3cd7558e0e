// A running calibration's progress on the Thresholds page: asked for every few seconds,
// shown on its bar, and the page reloaded once the calibration has ended, to show its
// proposal (or that it failed). Without JavaScript the page's "Refresh" link does this.
// If the progress cannot be had (signed out, the server away) three times running, the
// page stops asking and says so.
(function () {
  "use strict";

  const box = document.querySelector(".calibration-running[data-progress-url]");
  if (!box) {
    return;
  }
  const bar = box.querySelector("progress");
  const percent = box.querySelector(".calibration-percent");
  const note = box.querySelector(".calibration-note");
  const EVERY = 3000;
  const TRIES = 3;
  let failures = 0;

  function giveUp() {
    note.textContent = "This page has stopped following the calibration.";
  }

  function follow() {
    fetch(box.dataset.progressUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((state) => {
        failures = 0;
        if (state.status !== "running") {
          window.location.reload();
          return;
        }
        bar.value = state.progress;
        percent.textContent = state.progress;
        window.setTimeout(follow, EVERY);
      })
      .catch(() => {
        failures += 1;
        if (failures >= TRIES) {
          giveUp();
          return;
        }
        window.setTimeout(follow, EVERY);
      });
  }

  window.setTimeout(follow, EVERY);
})();
