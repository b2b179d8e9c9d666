/* The wallboard: when an event says something changed, fetch the board again (at most once a
 * second, and every half minute anyway, since waits grow by themselves) and put it in place.
 * Nothing is announced and focus never moves; while a control on the board has focus, the
 * board waits so that a supervisor's choice is not swept away mid-way.
 */
(function () {
  "use strict";
  var app = window.CareCentre;
  var board = document.getElementById("board");
  if (!app || !board || document.body.dataset.page !== "wallboard") { return; }
  var url = "/supervisor/board" + (board.dataset.screen ? "?screen=" + board.dataset.screen : "");
  var watched = {
    "ticket.created": true, "ticket.updated": true, "message.created": true,
    "presence.changed": true, "sla.at_risk": true, "sla.breached": true
  };
  var timer = null;
  var last = 0;
  var refreshes = 0;

  function busy() {
    return board.contains(document.activeElement) && document.activeElement !== board;
  }

  function refresh() {
    timer = null;
    if (busy()) { schedule(2000); return; }
    last = Date.now();
    app.fetchHtml(url).then(function (html) {
      if (!html) { return; }
      if (busy()) { schedule(2000); return; }
      board.innerHTML = html;
      refreshes += 1;
      board.dataset.refreshes = String(refreshes);
    });
  }

  function schedule(delay) {
    if (timer) { return; }
    var wait = typeof delay === "number" ? delay : Math.max(0, 1000 - (Date.now() - last));
    timer = window.setTimeout(refresh, wait);
  }

  app.on(function (frame) { if (watched[frame.type]) { schedule(); } });
  app.onOpen(function () { schedule(); });
  window.setInterval(function () { schedule(); }, 30000);
}());
