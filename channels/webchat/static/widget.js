/* CareCentre chat widget. Embed with one tag:
     <script src="https://carecentre.example/chat/widget.js" async></script>
   Optional: data-lang="fr" (default: the page's <html lang>), data-label="…" for the button.

   The chat itself runs in an iframe of /chat?embed=1 on the service's own origin, so the host
   page's styles and scripts cannot reach it and it cannot disturb them. The only thing added to
   the host page is one element holding a shadow root with the launcher button and the frame;
   its styles live inside that shadow root, and nothing is added to the global scope. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || document.querySelector("[data-carecentre-chat]")) { return; }
  var base = new URL(script.src, location.href).origin;
  var pageLang = (script.getAttribute("data-lang") || document.documentElement.lang || "en").slice(0, 2).toLowerCase();
  var lang = pageLang === "fr" ? "fr" : "en";
  var label = script.getAttribute("data-label") || (lang === "fr" ? "Clavarder avec nous" : "Chat with us");
  var title = lang === "fr" ? "Clavardage du Service à la clientèle" : "Customer Care chat";

  var css = [
    ":host { all: initial; }",
    ".launcher { position: fixed; right: 1rem; bottom: 1rem; z-index: 2147483646;",
    "  font: 600 1rem/1.4 system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif;",
    "  color: #ffffff; background: #0b4f8a; border: 2px solid #ffffff; border-radius: 1.5rem;",
    "  padding: 0.6rem 1.2rem; min-height: 2.75rem; cursor: pointer;",
    "  box-shadow: 0 0.1rem 0.4rem rgba(0, 0, 0, 0.35); }",
    ".launcher:hover { background: #06325a; }",
    ".launcher:focus-visible { outline: 3px solid #b34700; outline-offset: 2px; }",
    ".panel { position: fixed; right: 1rem; bottom: 4.5rem; z-index: 2147483647;",
    "  width: min(26rem, calc(100vw - 2rem)); height: min(40rem, calc(100vh - 6rem));",
    "  border: 1px solid #5c5c5c; border-radius: 0.5rem; background: #ffffff;",
    "  box-shadow: 0 0.2rem 1rem rgba(0, 0, 0, 0.35); }",
    ".panel[hidden] { display: none; }",
    "@media (max-width: 30rem), (max-height: 30rem) {",
    "  .panel { inset: 0; width: 100%; height: 100%; border-radius: 0; border: 0; } }"
  ].join("\n");

  var host = document.createElement("div");
  host.setAttribute("data-carecentre-chat", "");
  var root = host.attachShadow({ mode: "open" });
  var style = document.createElement("style");
  style.textContent = css;
  var button = document.createElement("button");
  button.type = "button";
  button.className = "launcher";
  button.textContent = label;
  button.setAttribute("lang", lang);
  button.setAttribute("aria-expanded", "false");
  root.appendChild(style);
  root.appendChild(button);

  var frame = null, loaded = false, open = false;

  function tellFrame() {
    frame.contentWindow.postMessage({ type: "carecentre:open" }, base);
  }
  function openPanel() {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.id = "carecentre-chat-panel";
      frame.className = "panel";
      frame.title = title;
      frame.src = base + "/chat?embed=1&lang=" + lang;
      frame.addEventListener("load", function () { loaded = true; if (open) { frame.focus(); tellFrame(); } });
      root.appendChild(frame);
      button.setAttribute("aria-controls", frame.id);
    }
    open = true;
    frame.hidden = false;
    button.setAttribute("aria-expanded", "true");
    if (loaded) { frame.focus(); tellFrame(); }
  }
  function closePanel() {
    open = false;
    if (frame) { frame.hidden = true; }
    button.setAttribute("aria-expanded", "false");
    button.focus();
  }
  button.addEventListener("click", function () { if (open) { closePanel(); } else { openPanel(); } });
  button.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && open) { event.preventDefault(); closePanel(); }
  });
  window.addEventListener("message", function (event) {
    if (!frame || event.origin !== base || event.source !== frame.contentWindow) { return; }
    if (event.data && event.data.type === "carecentre:close") { closePanel(); }
  });

  function attach() { document.body.appendChild(host); }
  if (document.body) { attach(); } else { document.addEventListener("DOMContentLoaded", attach); }
})();
