// Progressive enhancement of the client's rating form. Without JavaScript
// every question shows and the form works the same.
(function () {
  "use strict";
  const form = document.querySelector("form[method=post]");
  if (!form) {
    return;
  }

  // "Was it talked through?" only matters after a reported rupture.
  const followup = document.getElementById("rupture-followup");
  const ruptureInputs = form.querySelectorAll("input[name=rupture]");
  function showFollowup() {
    const chosen = form.querySelector("input[name=rupture]:checked");
    followup.hidden = !chosen || chosen.value === "none";
  }
  if (followup && ruptureInputs.length) {
    followup.querySelectorAll(".js-hide").forEach((hint) => { hint.hidden = true; });
    ruptureInputs.forEach((input) => input.addEventListener("change", showFollowup));
    showFollowup();
  }

  // One answer per session: a double tap sends once (the server holds the line too).
  form.addEventListener("submit", () => {
    form.querySelectorAll("[data-submit-once]").forEach((button) => {
      window.setTimeout(() => { button.disabled = true; }, 0);
    });
  });

  // After a refused submit, take keyboard and screen-reader users to the message.
  const errors = document.getElementById("form-errors");
  if (errors) {
    errors.focus();
  }
})();
