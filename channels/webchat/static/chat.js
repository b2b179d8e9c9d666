/* The resident's chat: one websocket (/chat/ws), resumed after any drop with the token and the
   last sequence number seen. Every text from the server is shown with textContent, never as HTML.
   The message log only grows; typing and connection state go to polite status regions; focus
   moves only when the resident acts (open, close, start, end), never when something arrives. */
(function () {
  "use strict";

  var t = JSON.parse(document.getElementById("chat-strings").textContent);
  var parents = JSON.parse(document.getElementById("chat-parents").textContent);
  var embed = document.body.classList.contains("embed");
  var lang = document.documentElement.lang === "fr" ? "fr" : "en";
  var KEY = "carecentre.chat";
  function $(id) { return document.getElementById(id); }
  var el = {
    status: $("chat-status"), reference: $("chat-reference"),
    availability: $("chat-availability"), availabilityText: $("chat-availability-text"),
    prechat: $("chat-prechat"), prechatError: $("chat-prechat-error"),
    legend: $("chat-follow-up-legend"), start: $("chat-start"),
    email: $("chat-email"), phone: $("chat-phone"), name: $("chat-name"),
    conversation: $("chat-conversation"), log: $("chat-log"), pending: $("chat-pending"),
    typing: $("chat-typing"), composer: $("chat-composer"), message: $("chat-message"),
    composerError: $("chat-composer-error"), endButton: $("chat-end"),
    endForm: $("chat-end-form"), transcript: $("chat-transcript"),
    transcriptEmail: $("chat-transcript-email"), cancelEnd: $("chat-cancel-end"),
    newChat: $("chat-new"), close: $("chat-close")
  };

  var state = load();
  var ws = null, retry = 0, now = false;
  var conversation = null, availability = null, acted = false, wantFocus = false;
  var pending = {};
  var typingSent = 0, typingStop = null, agentTypingClear = null;

  function load() {
    try { return JSON.parse(sessionStorage.getItem(KEY)) || {}; } catch (e) { return {}; }
  }
  function save() {
    try { sessionStorage.setItem(KEY, JSON.stringify(state)); } catch (e) { /* private mode */ }
  }
  function fmt(text, values) {
    return text.replace(/\{(\w+)\}/g, function (all, key) {
      return values[key] != null ? String(values[key]) : all;
    });
  }
  function newId() {
    var bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function show(node, visible) { node.hidden = !visible; }

  // -- the socket ---------------------------------------------------------------------------

  function connect() {
    el.status.textContent = t.connecting;
    var scheme = location.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(scheme + "//" + location.host + "/chat/ws");
    ws.onopen = function () {
      retry = 0;
      send({ type: "hello", token: state.token || null, last_seq: state.lastSeq || 0, language: lang });
    };
    ws.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      handle(frame);
    };
    ws.onclose = function () {
      ws = null;
      var delay = now ? 0 : Math.min(30000, 1000 * Math.pow(2, retry++));
      if (!now) { el.status.textContent = t.reconnecting; }
      now = false;
      setTimeout(connect, delay);
    };
  }
  function send(frame) {
    if (ws && ws.readyState === 1) { ws.send(JSON.stringify(frame)); return true; }
    return false;
  }

  function handle(frame) {
    if (frame.type === "welcome") { welcome(frame); }
    else if (frame.type === "conversation") { setConversation(frame.conversation); }
    else if (frame.type === "availability") { setAvailability(frame.availability); }
    else if (frame.type === "message" || frame.type === "notice") { entry(frame); }
    else if (frame.type === "typing") { agentTyping(frame); }
    else if (frame.type === "ended") { ended(frame); }
    else if (frame.type === "error") { problem(frame); }
  }

  function welcome(frame) {
    if (!frame.resumed) { state = {}; el.log.textContent = ""; }
    state.token = frame.token;
    state.lastSeq = Math.min(state.lastSeq || 0, frame.conversation.last_seq);
    save();
    el.status.textContent = t.connected;
    setAvailability(frame.availability);
    setConversation(frame.conversation);
    Object.keys(pending).forEach(function (id) {
      send({ type: "message", client_id: id, body: pending[id].body });
    });
  }

  // -- what is shown ------------------------------------------------------------------------

  function setAvailability(found) {
    availability = found;
    var text;
    if (found.live) { text = t.live; }
    else {
      if (found.reason === "holiday" || found.reason === "closure") {
        text = fmt(t.closed_day, { label: found.label || "" });
      } else if (found.reason === "no_agents") { text = t.no_agents; }
      else { text = t.closed_hours; }
      if (found.next_open) {
        var when = new Date(found.next_open).toLocaleString(lang === "fr" ? "fr-CA" : "en-CA", {
          weekday: "long", hour: "numeric", minute: "2-digit", timeZone: "America/Toronto"
        });
        // "8:30 a.m." ends with its own period: the sentence's is enough.
        text += " " + fmt(t.next_open, { when: when.replace(/\.$/, "") });
      }
      text += " " + t.offline_offer;
    }
    if (conversation && conversation.status !== "prechat" && !found.live) {
      var how = conversation.follow_up.email || conversation.follow_up.phone;
      if (how) { text += " " + fmt(t.offline_note, { how: how }); }
    }
    el.availabilityText.textContent = text;
    el.availability.classList.toggle("offline", !found.live);
    el.legend.textContent = found.live ? t.follow_up_live : t.follow_up_offline;
    el.start.textContent = found.live ? t.start_live : t.start_offline;
    show(el.availability, !conversation || conversation.status !== "ended");
  }

  function setConversation(found) {
    var before = conversation ? conversation.status : null;
    conversation = found;
    var status = found.status;
    show(el.prechat, status === "prechat");
    show(el.conversation, status !== "prechat");
    show(el.composer, status === "open");
    show(el.endForm, false);
    show(el.newChat, status === "ended");
    if (found.reference) {
      el.reference.textContent = fmt(t.reference, { reference: found.reference });
      show(el.reference, true);
    } else { show(el.reference, false); }
    if (availability) { setAvailability(availability); }
    if (acted && before === "prechat" && status === "open") { el.message.focus(); }
    if (wantFocus) { wantFocus = false; focusFirst(); }
  }

  function entry(frame) {
    if (frame.seq <= (state.lastSeq || 0)) { return; }
    state.lastSeq = frame.seq;
    save();
    if (frame.client_id && pending[frame.client_id]) {
      el.pending.removeChild(pending[frame.client_id].item);
      delete pending[frame.client_id];
    }
    var node = document.createElement("p");
    if (frame.type === "notice") {
      node.className = "entry notice";
      var name = frame.author || t.agent;
      node.textContent = fmt(t[frame.event] || t.ended, { name: name });
    } else {
      node.className = "entry " + frame.from;
      var who = document.createElement("span");
      who.className = "who";
      who.textContent = frame.from === "resident" ? t.you : (frame.author || (frame.from === "city" ? t.city : t.agent));
      node.appendChild(who);
      node.appendChild(document.createTextNode(frame.body));
      if (frame.from !== "resident") { el.typing.textContent = ""; }
    }
    el.log.appendChild(node);
    el.log.scrollTop = el.log.scrollHeight;
  }

  function agentTyping(frame) {
    clearTimeout(agentTypingClear);
    el.typing.textContent = frame.active ? fmt(t.typing, { name: frame.author || t.agent }) : "";
    if (frame.active) { agentTypingClear = setTimeout(function () { el.typing.textContent = ""; }, 15000); }
  }

  function ended(frame) {
    var text = t.ended;
    if (frame.transcript === "queued") { text += " " + t.transcript_queued; }
    if (frame.message) { text += " " + frame.message; }
    el.status.textContent = text;
    if (acted) { el.newChat.focus(); }
  }

  function problem(frame) {
    if (frame.code === "token_unknown" || frame.code === "token_expired") {
      state = {}; save();
      el.log.textContent = "";
      el.status.textContent = t.session_expired;
      send({ type: "hello", token: null, last_seq: 0, language: lang });
      return;
    }
    var item = frame.client_id ? pending[frame.client_id] : null;
    if (item && frame.code === "rate_limited") {
      setTimeout(function () {
        send({ type: "message", client_id: frame.client_id, body: item.body });
      }, Math.ceil((frame.retry_after || 1) * 1000));
      return;
    }
    if (item) {
      el.pending.removeChild(item.item);
      delete pending[frame.client_id];
      el.message.value = el.message.value || item.body;
    }
    var text = fmt(t.error, { message: frame.message });
    if (conversation && conversation.status === "prechat") {
      el.prechatError.textContent = text;
      var field = frame.field && $("chat-" + frame.field);
      if (field) { field.setAttribute("aria-invalid", "true"); field.focus(); }
    } else { el.composerError.textContent = text; }
  }

  // -- what the resident does ---------------------------------------------------------------

  el.prechat.addEventListener("submit", function (event) {
    event.preventDefault();
    el.prechatError.textContent = "";
    [el.email, el.phone].forEach(function (input) { input.removeAttribute("aria-invalid"); });
    var email = el.email.value.trim(), phone = el.phone.value.trim();
    var checked = el.prechat.querySelector("input[name=topic]:checked");
    if (availability && !availability.live && !email && !phone) {
      el.prechatError.textContent = t.follow_up_missing;
      el.email.setAttribute("aria-invalid", "true");
      el.email.focus();
      return;
    }
    acted = true;
    send({
      type: "start", topic: checked ? checked.value : "general", language: lang,
      name: el.name.value.trim() || null, email: email || null, phone: phone || null
    });
  });

  el.composer.addEventListener("submit", function (event) {
    event.preventDefault();
    var body = el.message.value.trim();
    el.composerError.textContent = "";
    if (!body) { return; }
    var id = newId();
    var item = document.createElement("li");
    item.textContent = t.sending + " " + body;
    el.pending.appendChild(item);
    pending[id] = { body: body, item: item };
    el.message.value = "";
    send({ type: "message", client_id: id, body: body });
    typingSent = 0;
    send({ type: "typing", active: false });
  });

  el.message.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      el.composer.requestSubmit();
    }
  });
  el.message.addEventListener("input", function () {
    var time = Date.now();
    if (time - typingSent > 4000) { typingSent = time; send({ type: "typing", active: true }); }
    clearTimeout(typingStop);
    typingStop = setTimeout(function () { typingSent = 0; send({ type: "typing", active: false }); }, 5000);
  });

  el.endButton.addEventListener("click", function () {
    show(el.composer, false);
    show(el.endForm, true);
    el.transcriptEmail.value = (conversation && conversation.follow_up.email) || "";
    el.transcript.focus();
  });
  el.cancelEnd.addEventListener("click", function () {
    show(el.endForm, false);
    show(el.composer, true);
    el.endButton.focus();
  });
  el.endForm.addEventListener("submit", function (event) {
    event.preventDefault();
    acted = true;
    var email = el.transcriptEmail.value.trim();
    send({ type: "end", transcript: el.transcript.checked, email: el.transcript.checked ? (email || null) : null });
  });
  el.newChat.addEventListener("click", function () {
    state = {}; save();
    el.log.textContent = "";
    el.prechat.reset();
    acted = true;
    now = true;
    if (ws) { ws.close(); } else { connect(); }
  });

  // -- inside the widget's frame ------------------------------------------------------------

  function focusFirst() {
    if (!conversation) { wantFocus = true; return; }  // opened before the chat has loaded
    if (!el.prechat.hidden) {
      (el.prechat.querySelector("input[name=topic]:checked") || el.prechat.querySelector("input")).focus();
    } else if (!el.conversation.hidden && !el.composer.hidden) { el.message.focus(); }
    else if (!el.newChat.hidden) { el.newChat.focus(); }
    else { el.log.focus(); }
  }
  function closeWidget() {
    parents.forEach(function (origin) {
      window.parent.postMessage({ type: "carecentre:close" }, origin);
    });
  }
  if (embed) {
    window.addEventListener("message", function (event) {
      if (event.source !== window.parent || parents.indexOf(event.origin) < 0) { return; }
      if (event.data && event.data.type === "carecentre:open") { focusFirst(); }
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { event.preventDefault(); closeWidget(); }
    });
    if (el.close) { el.close.addEventListener("click", closeWidget); }
  }

  connect();
})();
