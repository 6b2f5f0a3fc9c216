// The orders board: the columns' counts refresh every 30 seconds while the page is shown
// (the page itself works without this).
(function () {
  "use strict";
  var tabs = document.querySelector("nav[data-counts]");
  if (!tabs || !window.fetch) return;
  var url = tabs.getAttribute("data-counts");
  function refresh() {
    if (document.hidden) return;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (counts) {
        if (!counts) return;
        tabs.querySelectorAll(".count[data-status]").forEach(function (badge) {
          var value = counts[badge.getAttribute("data-status")];
          if (value !== undefined && badge.textContent !== value) badge.textContent = value;
        });
      })
      .catch(function () {});
  }
  setInterval(refresh, 30000);
  document.addEventListener("visibilitychange", refresh);
})();
