/* The reply box: SMS segment count, canned responses, Ctrl+Enter to send, and telling the
 * other agents on this ticket that someone is replying. */
(function () {
  "use strict";
  // GSM 03.38: the basic set counts 1, the extension set 2; anything else makes it UCS-2.
  var GSM = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var EXTENDED = "^{}\\[~]|€\f";

  function segments(text) {
    var units = 0;
    var gsm = true;
    for (var i = 0; i < text.length && gsm; i += 1) {
      var ch = text.charAt(i);
      if (GSM.indexOf(ch) >= 0) { units += 1; } else if (EXTENDED.indexOf(ch) >= 0) { units += 2; } else { gsm = false; }
    }
    if (gsm) {
      return { encoding: "GSM-7", units: units, count: units === 0 ? 0 : units <= 160 ? 1 : Math.ceil(units / 153) };
    }
    // UCS-2 counts UTF-16 code units: an emoji (a surrogate pair) takes two.
    var length = text.length;
    return { encoding: "UCS-2", units: length, count: length <= 70 ? 1 : Math.ceil(length / 67) };
  }
  window.CareCentreSegments = segments;

  var form = document.getElementById("reply-form");
  var box = document.getElementById("reply-body");
  var to = document.getElementById("reply-to");
  var counter = document.getElementById("segments");
  if (!form || !box) { return; }

  function channel() {
    var option = to && to.options[to.selectedIndex];
    return option ? option.dataset.channel : "";
  }

  function showSegments() {
    if (channel() !== "sms") { counter.textContent = ""; return; }
    var s = segments(box.value);
    counter.textContent = s.units + " characters, " + s.count + " text message" + (s.count === 1 ? "" : "s") + " (" + s.encoding + ")";
  }

  var replying = false;
  var idle = null;
  function tellReplying(active) {
    if (active === replying) { return; }
    replying = active;
    if (window.CareCentre) { window.CareCentre.send({ type: "replying", active: active }); }
  }

  box.addEventListener("input", function () {
    showSegments();
    tellReplying(box.value.trim() !== "");
    window.clearTimeout(idle);
    idle = window.setTimeout(function () { tellReplying(false); }, 15000);
  });
  if (to) { to.addEventListener("change", showSegments); }
  form.addEventListener("submit", function () { tellReplying(false); });
  showSegments();

  [box, document.getElementById("note-body")].forEach(function (field) {
    if (!field) { return; }
    field.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        field.form.requestSubmit();
      }
    });
  });

  var canned = document.getElementById("canned");
  var insert = document.getElementById("canned-insert");
  if (canned && insert) {
    insert.addEventListener("click", function () {
      var option = canned.options[canned.selectedIndex];
      if (!option || !option.value) { canned.focus(); return; }
      var text = option.dataset.body;
      var start = box.selectionStart;
      var end = box.selectionEnd;
      box.value = box.value.slice(0, start) + text + box.value.slice(end);
      box.focus();
      box.selectionStart = box.selectionEnd = start + text.length;
      box.dispatchEvent(new Event("input"));
    });
  }
}());
