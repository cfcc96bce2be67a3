// Vejviser web chat: plain JavaScript, no build step.
//
// Works on the chat page itself and as the embeddable widget (widget.js
// loads this file from the Vejviser server). It renders what the server
// answers — texts, links and quick-reply buttons — and keeps the page
// usable with a keyboard and a screen reader: the message list is a live
// region, every control has a label, and focus stays in the text field
// except when the bot offers buttons.
//
// When the server asks for a phone number (`ask` in its reply: an SMS
// link or a callback), the same field becomes a labelled phone field
// (type and inputmode "tel", autocomplete "tel") for that one answer.
(function () {
  "use strict";
  var script = document.currentScript;
  var server = (script && script.dataset.server) || (script ? new URL(script.src, location.href).origin : "");

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function Chat(root) {
    this.root = root;
    this.session = null;
    this.busy = false;
    this.log = el("div", "vv-log");
    this.log.setAttribute("role", "log");
    this.log.setAttribute("aria-live", "polite");
    this.log.setAttribute("aria-label", "Samtalen");
    this.log.tabIndex = 0;
    this.status = el("div", "vv-status");
    this.status.setAttribute("role", "status");
    var form = el("form", "vv-form");
    var label = el("label", "vv-label", "Dit spørgsmål");
    this.label = label;
    label.htmlFor = "vv-input-" + Math.random().toString(36).slice(2);
    this.input = el("input", "vv-input");
    this.input.id = label.htmlFor;
    this.input.type = "text";
    this.input.autocomplete = "off";
    this.input.maxLength = 1000;
    this.input.placeholder = "Skriv dit spørgsmål her";
    this.hint = el("p", "vv-hint");
    this.hint.id = label.htmlFor + "-hint";
    this.hint.hidden = true;
    var send = el("button", "vv-send", "Send");
    send.type = "submit";
    form.appendChild(label);
    form.appendChild(this.input);
    form.appendChild(send);
    root.appendChild(this.log);
    root.appendChild(this.status);
    root.appendChild(this.hint);
    root.appendChild(form);
    var self = this;
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var text = self.input.value.trim();
      if (!text || self.busy) return;
      self.input.value = "";
      self.show({ text: text }, "citizen");
      self.post({ text: text });
    });
    this.start();
  }

  Chat.prototype.request = function (path, body) {
    return fetch(server + path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body || {}),
    }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) throw new Error(j.error || "Der skete en fejl.");
        return j;
      });
    });
  };

  Chat.prototype.start = function () {
    var self = this;
    this.setBusy(true);
    this.request("/api/chat/sessions", {})
      .then(function (j) { self.session = j.session; self.render(j); })
      .catch(function (e) { self.fail(e); })
      .then(function () { self.setBusy(false); });
  };

  Chat.prototype.post = function (body) {
    var self = this;
    if (!this.session) return;
    this.setBusy(true);
    this.clearButtons();
    this.request("/api/chat/sessions/" + encodeURIComponent(this.session) + "/messages", body)
      .then(function (j) { self.render(j); })
      .catch(function (e) { self.fail(e); })
      .then(function () { self.setBusy(false); });
  };

  Chat.prototype.setBusy = function (busy) {
    this.busy = busy;
    this.status.textContent = busy ? "Et øjeblik …" : "";
  };

  Chat.prototype.fail = function (e) {
    this.show({ text: e.message + " Prøv igen, eller ring til kommunen." }, "bot");
  };

  Chat.prototype.clearButtons = function () {
    var old = this.log.querySelectorAll(".vv-buttons");
    for (var i = 0; i < old.length; i++) old[i].remove();
  };

  Chat.prototype.show = function (m, who) {
    var li = el("div", "vv-msg vv-msg-" + who + (m.handover ? " vv-handover" : ""));
    li.appendChild(el("span", "vv-who", who === "bot" ? "Kommunen skriver: " : "Du skrev: "));
    li.appendChild(document.createTextNode(m.text || ""));
    if (m.links && m.links.length) {
      var ul = el("ul", "vv-links");
      m.links.forEach(function (l) {
        var a = el("a", null, l.title);
        a.href = l.url;
        a.target = "_blank";
        a.rel = "noopener";
        var item = el("li");
        item.appendChild(a);
        ul.appendChild(item);
      });
      li.appendChild(ul);
    }
    this.log.appendChild(li);
    this.log.scrollTop = this.log.scrollHeight;
  };

  // The text field asks for a question, or for a phone number when `ask`
  // is given ({kind: "mobile" | "phone", label}).
  Chat.prototype.setAsk = function (ask) {
    var input = this.input;
    if (ask) {
      this.label.textContent = ask.label;
      this.label.className = "vv-label vv-label-shown";
      input.type = "tel";
      input.setAttribute("inputmode", "tel");
      input.autocomplete = "tel";
      input.maxLength = 30;
      input.placeholder = "fx 12 34 56 78";
      this.hint.textContent = ask.kind === "mobile"
        ? "Et dansk mobilnummer med otte cifre. Skriv fortryd, hvis du ikke vil alligevel."
        : "Et dansk telefonnummer med otte cifre. Skriv fortryd, hvis du ikke vil alligevel.";
      this.hint.hidden = false;
      input.setAttribute("aria-describedby", this.hint.id);
    } else {
      this.label.textContent = "Dit spørgsmål";
      this.label.className = "vv-label";
      input.type = "text";
      input.removeAttribute("inputmode");
      input.autocomplete = "off";
      input.maxLength = 1000;
      input.placeholder = "Skriv dit spørgsmål her";
      this.hint.hidden = true;
      input.removeAttribute("aria-describedby");
    }
  };

  Chat.prototype.render = function (j) {
    var self = this;
    this.setAsk(j.ask);
    var buttons = [];
    (j.messages || []).forEach(function (m) {
      self.show(m, "bot");
      if (m.buttons) buttons = buttons.concat(m.buttons);
    });
    if (buttons.length) {
      var li = el("div", "vv-buttons");
      li.setAttribute("role", "group");
      li.setAttribute("aria-label", "Svarmuligheder");
      buttons.forEach(function (b) {
        var btn = el("button", "vv-button", b.label);
        btn.type = "button";
        btn.addEventListener("click", function () {
          self.show({ text: b.label }, "citizen");
          self.post({ button: b.value });
        });
        li.appendChild(btn);
      });
      this.log.appendChild(li);
      if (j.ask) this.input.focus();
      else li.querySelector("button").focus();
    } else {
      this.input.focus();
    }
    if (j.ended) {
      this.input.disabled = true;
      this.status.textContent = "Samtalen er slut. Genindlæs siden for at starte en ny.";
    }
  };

  function boot() {
    var roots = document.querySelectorAll("[data-vv-chat]");
    for (var i = 0; i < roots.length; i++) {
      if (!roots[i].dataset.vvStarted) {
        roots[i].dataset.vvStarted = "1";
        new Chat(roots[i]);
      }
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
