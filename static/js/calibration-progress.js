// A running calibration's progress on the Thresholds page: asked for every few seconds,
// shown on its bar, and the page reloaded once the calibration has ended, to show its
// proposal (or that it failed). Without JavaScript the page's "Refresh" link does this.
(function () {
  "use strict";

  const box = document.querySelector(".calibration-running[data-progress-url]");
  if (!box) {
    return;
  }
  const bar = box.querySelector("progress");
  const percent = box.querySelector(".calibration-percent");
  const EVERY = 3000;

  function follow() {
    fetch(box.dataset.progressUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((state) => {
        if (state.status !== "running") {
          window.location.reload();
          return;
        }
        bar.value = state.progress;
        percent.textContent = state.progress;
        window.setTimeout(follow, EVERY);
      })
      .catch(() => window.setTimeout(follow, EVERY * 4));
  }

  window.setTimeout(follow, EVERY);
})();
