// Keeps every countdown on the page current (deadlines in business days, shown in the reader's language).
// The phrases come from the page itself (<meta name="countdown-labels">), so this file holds no text.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="countdown-labels"]');
  if (!meta) { return; }
  var labels = JSON.parse(meta.getAttribute("content"));
  var skew = 0;
  var serverNow = document.querySelector('meta[name="server-now"]');
  if (serverNow) { skew = Date.parse(serverNow.getAttribute("content")) - Date.now(); }

  function span(totalMinutes) {
    var days = Math.floor(totalMinutes / 1440), hours = Math.floor(totalMinutes / 60) % 24, minutes = totalMinutes % 60;
    if (days) { return labels.dh.replace("999001", days).replace("999002", hours); }
    if (hours) { return labels.hm.replace("999002", hours).replace("999003", minutes); }
    return labels.m.replace("999003", minutes);
  }

  function update() {
    var now = Date.now() + skew;
    document.querySelectorAll("[data-deadline]").forEach(function (element) {
      var seconds = Math.floor((Date.parse(element.getAttribute("data-deadline")) - now) / 1000);
      var overdue = seconds < 0;
      var text = (overdue ? labels.overdue : labels.left).replace("{span}", span(Math.floor(Math.abs(seconds) / 60)));
      element.textContent = text;
      element.classList.toggle("overdue", overdue);
      element.classList.toggle("soon", !overdue && seconds < 86400);
    });
  }

  update();
  window.setInterval(update, 30000);
}());

// Live progress of a running mass incident: poll its progress (the API, with this session) until it completes.
(function () {
  "use strict";
  var box = document.querySelector("[data-progress-url]");
  if (!box) { return; }
  var url = box.getAttribute("data-progress-url");
  var number = new Intl.NumberFormat(document.documentElement.lang || "ko");
  function set(name, value) {
    var element = box.querySelector('[data-field="' + name + '"]');
    if (element) { element.textContent = value; }
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (progress) {
        if (!progress) { return; }
        set("processed_orders", number.format(progress.processed_orders));
        set("selected_orders", number.format(progress.selected_orders));
        set("percent", progress.percent);
        set("orders_per_second", progress.orders_per_second === null ? "—" : progress.orders_per_second);
        set("eta_seconds", progress.eta_seconds === null ? "—" : progress.eta_seconds);
        var bar = box.querySelector("progress");
        if (bar) { bar.value = progress.percent; }
        if (progress.status === "running") { window.setTimeout(poll, 2000); } else { window.location.reload(); }
      });
  }
  window.setTimeout(poll, 2000);
}());
