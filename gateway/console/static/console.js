// The console's own script: times in the viewer's time zone, and the zone of the filter form.
// Everything works without it; it only makes times local.
(function () {
  "use strict";
  var format = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short"
  });

  function localize(root) {
    (root || document).querySelectorAll("time[datetime]:not([data-local])").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when.getTime())) return;
      el.title = el.textContent;  // the UTC text stays as the tooltip
      el.textContent = format.format(when);
      el.setAttribute("data-local", "");
    });
    (root || document).querySelectorAll("input[name=tz]").forEach(function (el) {
      el.value = String(new Date().getTimezoneOffset());
    });
  }

  document.addEventListener("DOMContentLoaded", function () { localize(document); });
  document.addEventListener("htmx:afterSettle", function (e) { localize(e.target); });
  document.addEventListener("htmx:sseMessage", function (e) { localize(e.target); });
})();
