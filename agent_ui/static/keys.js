/* Keyboard shortcuts (j, k, r, n, c, e, ?) and the help dialog. A shortcut never fires while
 * the agent types in a field; Esc leaves the field instead. */
(function () {
  "use strict";
  var dialog = document.getElementById("help");
  var opener = null;

  function typing(target) {
    if (!target || !target.tagName) { return false; }
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  function openHelp() {
    if (!dialog || dialog.open) { return; }
    opener = document.activeElement;
    dialog.showModal();
    document.getElementById("help-close").focus();
  }

  function closeHelp() {
    if (dialog && dialog.open) { dialog.close(); }
  }

  if (dialog) {
    document.getElementById("help-open").addEventListener("click", openHelp);
    document.getElementById("help-close").addEventListener("click", closeHelp);
    dialog.addEventListener("close", function () {
      if (opener && opener.focus) { opener.focus(); }
    });
    // Keep Tab inside the dialog (the page behind it is inert, but the browser's own UI is not).
    dialog.addEventListener("keydown", function (event) {
      if (event.key !== "Tab") { return; }
      var items = dialog.querySelectorAll("a[href], button, input, select, textarea, [tabindex]:not([tabindex='-1'])");
      var first = items[0];
      var last = items[items.length - 1];
      if (event.shiftKey && document.activeElement === first) {
        last.focus();
        event.preventDefault();
      } else if (!event.shiftKey && document.activeElement === last) {
        first.focus();
        event.preventDefault();
      }
    });
  }

  function rows() {
    var body = document.getElementById("queue-rows");
    return body ? Array.prototype.slice.call(body.querySelectorAll("tr")) : [];
  }

  function move(step) {
    var all = rows();
    if (!all.length) { return; }
    var index = all.findIndex(function (row) { return row.classList.contains("selected"); });
    index = index < 0 ? (step > 0 ? 0 : all.length - 1) : Math.max(0, Math.min(all.length - 1, index + step));
    all.forEach(function (row) { row.classList.remove("selected"); });
    all[index].classList.add("selected");
    all[index].querySelector(".ticket-link").focus();
  }

  function selectedRow() {
    var focused = document.activeElement && document.activeElement.closest ? document.activeElement.closest("tr") : null;
    return focused || document.querySelector("#queue-rows tr.selected");
  }

  function press(selector) {
    var button = document.querySelector(selector);
    if (button) { button.click(); return true; }
    return false;
  }

  function focusField(id) {
    var field = document.getElementById(id);
    if (field) { field.focus(); field.scrollIntoView({ block: "center" }); }
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (typing(event.target)) {
      if (event.key === "Escape") { event.target.blur(); }
      return;
    }
    if (dialog && dialog.open) { return; }
    switch (event.key) {
      case "?": openHelp(); break;
      case "j": move(1); break;
      case "k": move(-1); break;
      case "r": focusField("reply-body"); break;
      case "n": focusField("note-body"); break;
      case "c": {
        if (!press("#claim-button")) {
          var row = selectedRow();
          var claim = row ? row.querySelector("button.claim") : null;
          if (claim) { claim.click(); }
        }
        break;
      }
      case "e": press("#resolve-button"); break;
      default: return;
    }
    event.preventDefault();
  });
}());
