// "Copy" buttons for read-only inputs. Without JavaScript the button stays
// hidden and the link can still be selected and copied by hand.
(function () {
  "use strict";
  document.querySelectorAll("[data-copy-target]").forEach((button) => {
    const field = document.getElementById(button.dataset.copyTarget);
    const status = document.getElementById("copy-status");
    if (!field || !navigator.clipboard) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", () => {
      navigator.clipboard.writeText(field.value).then(
        () => { if (status) { status.textContent = button.dataset.copiedText || "Link copied."; } },
        () => { field.select(); if (status) { status.textContent = "Press Ctrl+C to copy."; } },
      );
    });
  });
})();
