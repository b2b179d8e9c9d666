/* The live feed of the agents' workspace.
 *
 * Opens /agent/ws, sends {"type": "resume", "after": <last seq>} and applies every event after
 * it: the page's own sequence number the first time, the last one seen after a reconnect, so
 * nothing is missed and nothing is applied twice. Changes are announced in the polite status
 * region; focus never moves.
 */
(function () {
  "use strict";
  var body = document.body;
  var page = body.dataset.page || "";
  var lastSeq = body.dataset.after ? parseInt(body.dataset.after, 10) : null;
  var socket = null;
  var retry = 0;
  var everConnected = false;
  var stopped = false;
  var handlers = [];
  var openers = [];
  var connection = document.getElementById("connection");
  var announcer = document.getElementById("announcer");
  // Sequence numbers as they arrived (before de-duplication): what a test or a support person
  // can look at to see that every event came exactly once.
  var received = [];

  function announce(text) {
    announcer.textContent = "";
    window.setTimeout(function () { announcer.textContent = text; }, 60);
  }

  function setConnection(text, down) {
    connection.textContent = text;
    connection.classList.toggle("down", Boolean(down));
  }

  function signedOut() {
    stopped = true;
    setConnection("You are signed out. Reload the page to sign in again.", true);
  }

  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(frame));
    }
  }

  function scheduleReconnect() {
    var delay = Math.min(10000, 400 * Math.pow(2, retry)) * (0.5 + Math.random() / 2);
    retry += 1;
    window.setTimeout(connect, delay);
  }

  function connect() {
    if (stopped || socket) { return; }
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    var opened = false;
    socket = new WebSocket(scheme + "//" + window.location.host + "/agent/ws");
    socket.addEventListener("open", function () {
      opened = true;
      send({ type: "resume", after: lastSeq });
    });
    socket.addEventListener("message", function (message) {
      var frame;
      try { frame = JSON.parse(message.data); } catch (error) { return; }
      if (frame.type === "welcome") {
        if (everConnected) {
          setConnection("Live updates are back; you are up to date.", false);
          window.setTimeout(function () { if (!connection.classList.contains("down")) { setConnection("", false); } }, 5000);
        }
        everConnected = true;
        retry = 0;
        openers.forEach(function (fn) { fn(); });
        return;
      }
      if (typeof frame.seq === "number") {
        received.push(frame.seq);
        if (received.length > 500) { received.shift(); }
        if (lastSeq !== null && frame.seq <= lastSeq) { return; }
        lastSeq = frame.seq;
      }
      handlers.forEach(function (handler) { handler(frame); });
    });
    socket.addEventListener("close", function (event) {
      socket = null;
      if (event.code === 4401) { signedOut(); return; }
      if (!opened) {
        // The handshake failed: the network, or a session that has ended.
        fetch("/agent/counts", { credentials: "same-origin" }).then(function (response) {
          if (response.status === 401) { signedOut(); }
        }).catch(function () { return null; });
      }
      if (!stopped) {
        setConnection("Live updates are interrupted. Reconnecting…", true);
        scheduleReconnect();
      }
    });
  }

  function fetchHtml(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (response.status === 401) { signedOut(); return null; }
        if (response.status === 204 || !response.ok) { return response.status === 204 ? "" : null; }
        return response.text();
      });
  }

  function element(html, container) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    if (container === "tbody") {
      var table = document.createElement("table");
      table.innerHTML = "<tbody>" + html.trim() + "</tbody>";
      return table.querySelector("tr");
    }
    return template.content.firstElementChild;
  }

  window.CareCentre = {
    on: function (handler) { handlers.push(handler); },
    onOpen: function (fn) { openers.push(fn); },
    send: send,
    announce: announce,
    fetchHtml: fetchHtml,
    element: element,
    received: received,
    connected: function () { return Boolean(socket && everConnected && socket.readyState === WebSocket.OPEN); },
    csrf: body.dataset.csrf,
    agentId: parseInt(body.dataset.agentId || "0", 10)
  };

  /* SLA alerts from the watcher, on the queue and ticket pages: the ticket's badges change in
   * place, and breaches are announced, once each, gathered into one polite announcement when
   * several arrive together (after the watcher was stopped, say). At-risk is shown, not said. */
  if (page === "queue" || page === "ticket") {
    var slaLabels = { on_track: "On track", at_risk: "At risk", breached: "Breached" };
    var targetNames = { first_response: "first response", resolution: "resolution" };
    var breachesHeard = {};
    var breachesToSay = [];
    var breachTimer = null;

    var sayBreaches = function () {
      breachTimer = null;
      var said = breachesToSay;
      breachesToSay = [];
      if (said.length === 1) {
        announce(said[0].reference + " has breached its " + (targetNames[said[0].target] || "SLA") + " target.");
      } else if (said.length > 1) {
        var names = said.slice(0, 3).map(function (b) { return b.reference; }).join(", ");
        announce(said.length + " SLA targets breached: " + names + (said.length > 3 ? " and others." : "."));
      }
    };

    window.CareCentre.on(function (frame) {
      if (frame.type !== "sla.at_risk" && frame.type !== "sla.breached") { return; }
      var data = frame.data || {};
      if (!data.reference) { return; }
      var state = frame.type === "sla.breached" ? "breached" : "at_risk";
      var badges = document.querySelectorAll('[data-sla-badge="' + CSS.escape(data.reference) + '"]');
      if (!badges.length) { return; }
      Array.prototype.forEach.call(badges, function (badge) {
        if (state === "at_risk" && badge.dataset.sla === "breached") { return; }
        badge.className = "sla sla-" + state;
        badge.dataset.sla = state;
        badge.querySelector(".sla-label").textContent = slaLabels[state];
      });
      var key = data.reference + " " + data.target;
      if (state === "breached" && !breachesHeard[key]) {
        breachesHeard[key] = true;
        breachesToSay.push(data);
        if (!breachTimer) { breachTimer = window.setTimeout(sayBreaches, 800); }
      }
    });
  }

  /* The queue page: rows appear, change and leave; counts follow. */
  if (page === "queue") {
    var rows = document.getElementById("queue-rows");
    var table = document.getElementById("queue");
    var countsTimer = null;

    var refreshCounts = function () {
      if (countsTimer) { return; }
      countsTimer = window.setTimeout(function () {
        countsTimer = null;
        fetchHtml("/agent/counts").then(function (html) {
          if (html) { document.getElementById("counts").innerHTML = html; }
        });
      }, 400);
    };

    var updateEmpty = function () {
      document.getElementById("queue-empty").hidden = rows.children.length > 0;
    };

    var place = function (reference, row) {
      var existing = document.getElementById("row-" + reference);
      if (existing) {
        if (existing.classList.contains("selected")) { row.classList.add("selected"); }
        existing.replaceWith(row);
        return;
      }
      row.classList.add("fresh");
      var due = row.dataset.due || "~";
      var before = Array.prototype.find.call(rows.children, function (other) {
        return (other.dataset.due || "~") > due;
      });
      rows.insertBefore(row, before || null);
    };

    var refreshRow = function (reference) {
      var filters = table.dataset.filters;
      var url = "/agent/rows/" + encodeURIComponent(reference) + (filters ? "?" + filters : "");
      return fetchHtml(url).then(function (html) {
        if (html === null) { return; }
        if (html === "") {
          var gone = document.getElementById("row-" + reference);
          if (gone) { gone.remove(); }
        } else {
          place(reference, element(html, "tbody"));
        }
        updateEmpty();
      });
    };

    window.CareCentre.on(function (frame) {
      var data = frame.data || {};
      if (!data.reference) { return; }
      if (frame.type === "ticket.removed") {
        var row = document.getElementById("row-" + data.reference);
        if (row) { row.remove(); updateEmpty(); }
      } else if (frame.type === "ticket.created" || frame.type === "ticket.updated" || frame.type === "message.created") {
        refreshRow(data.reference);
      } else {
        return;
      }
      refreshCounts();
      if (frame.type === "ticket.created") {
        announce("New ticket " + data.reference + (data.subject ? ": " + data.subject : ""));
      } else if (frame.type === "ticket.updated" && data.assignee && data.by !== window.CareCentre.agentId) {
        announce(data.reference + " claimed by " + data.assignee.name);
      }
    });
  }

  /* The ticket page: the resident's new messages, delivery ticks, who else is here. */
  if (page === "ticket") {
    var reference = body.dataset.reference;
    var timeline = document.getElementById("timeline");
    var names = { queued: "Queued", sending: "Sending", sent: "Sent", delivered: "Delivered", read: "Read", undelivered: "Not delivered", failed: "Failed" };

    var writing = function () {
      var reply = document.getElementById("reply-body");
      var note = document.getElementById("note-body");
      return Boolean((reply && reply.value.trim()) || (note && note.value.trim()));
    };

    var slaTimer = null;
    var refreshSla = function () {
      if (slaTimer) { return; }
      slaTimer = window.setTimeout(function () {
        slaTimer = null;
        fetchHtml("/tickets/" + encodeURIComponent(reference) + "/sla").then(function (html) {
          var current = document.getElementById("sla-details");
          if (!html || !current) { return; }
          var fresh = element(html);
          current.replaceWith(fresh);
          // The ticket's next due time moves with its clock: the details list follows.
          var due = document.getElementById("detail-due");
          if (due && fresh.dataset && fresh.dataset.due) { due.textContent = fresh.dataset.due; }
        });
      }, 300);
    };

    window.CareCentre.onOpen(function () { send({ type: "viewing", reference: reference }); });
    window.CareCentre.on(function (frame) {
      var data = frame.data || {};
      if (frame.type === "activity" && data.reference === reference) {
        var parts = data.agents.map(function (agent) {
          return agent.name + (agent.replying ? " is replying" : " is viewing");
        });
        document.getElementById("activity").textContent = parts.length ? parts.join(". ") + "." : "";
        return;
      }
      if (data.reference !== reference) { return; }
      if (frame.type === "message.created") {
        if (data.direction === "outbound") { refreshSla(); }  // it may be the first response
        if (document.getElementById("message-" + data.message_id)) { return; }
        fetchHtml("/tickets/" + encodeURIComponent(reference) + "/messages/" + data.message_id).then(function (html) {
          if (!html || document.getElementById("message-" + data.message_id)) { return; }
          timeline.appendChild(element(html));
          if (data.direction === "inbound") {
            if (writing()) { document.getElementById("new-while-writing").hidden = false; }
            announce("New message from the resident" + (writing() ? " while you were writing; it is above your reply." : "."));
          } else if (data.direction === "note") {
            announce("New internal note.");
          }
        });
      } else if (frame.type === "message.status") {
        var status = document.querySelector('[data-delivery="' + data.message_id + '"]');
        if (!status) { return; }
        status.className = "delivery delivery-" + data.delivery_status;
        status.querySelector(".delivery-status").textContent = names[data.delivery_status] || data.delivery_status;
        var failed = data.delivery_status === "failed" || data.delivery_status === "undelivered";
        status.querySelector(".delivery-error").textContent = failed && data.error ? " — " + data.error : "";
        announce("Reply " + (names[data.delivery_status] || data.delivery_status).toLowerCase() + (failed && data.error ? ": " + data.error : "."));
      } else if (frame.type === "ticket.updated") {
        var changed = data.changed || {};
        if ("assignee_id" in changed) {
          var who = data.assignee ? data.assignee.name : "Nobody yet";
          document.getElementById("detail-assignee").textContent = who;
          if (data.by !== window.CareCentre.agentId) {
            announce(data.assignee ? "Claimed by " + data.assignee.name + "." : "Released to the queue.");
          }
        }
        if (changed.status) { document.getElementById("detail-status").textContent = changed.status; }
        if (changed.status || changed.priority || changed.queue) { refreshSla(); }
      } else if (frame.type === "sla.at_risk" || frame.type === "sla.breached") {
        refreshSla();
      }
    });
  }

  window.addEventListener("online", function () { if (!socket) { retry = 0; connect(); } });
  connect();
}());
