// Vejviser chat widget. Put one tag on the municipality's website:
//   <script src="https://chat.kommune.dk/widget.js" defer></script>
// It adds a "Chat med os" button in the corner that opens the chat.
(function () {
  "use strict";
  var me = document.currentScript;
  var server = new URL(me.src, location.href).origin;
  var css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = server + "/chat.css";
  document.head.appendChild(css);

  var wrap = document.createElement("div");
  wrap.style.cssText = "position:fixed;right:1rem;bottom:1rem;z-index:2147483000;max-width:calc(100vw - 2rem);width:24rem;";
  var open = document.createElement("button");
  open.type = "button";
  open.className = "vv-send";
  open.textContent = "Chat med os";
  open.setAttribute("aria-expanded", "false");
  var panel = document.createElement("section");
  panel.className = "vv-chat";
  panel.setAttribute("aria-label", "Chat med kommunen");
  panel.hidden = true;
  panel.setAttribute("data-vv-chat", "");
  wrap.appendChild(panel);
  wrap.appendChild(open);
  document.body.appendChild(wrap);

  var loaded = false;
  open.addEventListener("click", function () {
    panel.hidden = !panel.hidden;
    open.setAttribute("aria-expanded", String(!panel.hidden));
    open.textContent = panel.hidden ? "Chat med os" : "Luk chatten";
    if (!loaded) {
      loaded = true;
      var s = document.createElement("script");
      s.src = server + "/chat.js";
      s.dataset.server = server;
      document.body.appendChild(s);
    }
  });
})();
