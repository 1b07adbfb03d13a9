// Portcullis account pages: small helps on top of forms that work without this script.
// Loaded from this site only (the pages' Content-Security-Policy allows no inline script).
"use strict";

(function () {
  var doc = document;

  // A "Show password" button beside each password field that asks for one.
  function addReveal(input) {
    var button = doc.createElement("button");
    var show = input.dataset.show || "Show password";
    var hide = input.dataset.hide || "Hide password";
    button.type = "button";
    button.className = "reveal secondary";
    button.textContent = show;
    button.setAttribute("aria-controls", input.id);
    button.setAttribute("aria-pressed", "false");
    button.addEventListener("click", function () {
      var shown = input.type === "text";
      input.type = shown ? "password" : "text";
      button.textContent = shown ? show : hide;
      button.setAttribute("aria-pressed", shown ? "false" : "true");
      input.focus();
    });
    input.insertAdjacentElement("afterend", button);
  }

  // The names a password must not contain: the account's, or those typed on the form.
  function namesFor(rules, form) {
    var names = (rules.dataset.names || "").split(" ").filter(Boolean);
    ["email", "username"].forEach(function (field) {
      var input = form.elements.namedItem(field);
      if (input && input.value) {
        names.push(field === "email" ? input.value.split("@")[0] : input.value);
      }
    });
    return names.map(function (name) { return name.toLowerCase(); });
  }

  var checks = {
    length: function (password, rules) {
      var length = Array.from(password).length;
      return length >= Number(rules.dataset.min) && length <= Number(rules.dataset.max);
    },
    repeated: function (password) {
      return new Set(Array.from(password)).size > 1;
    },
    personal: function (password, rules, form) {
      var lowered = password.toLowerCase();
      return !namesFor(rules, form).some(function (name) {
        return lowered === name || (name.length >= 3 && lowered.indexOf(name) >= 0);
      });
    },
  };

  // Each rule the browser can check is marked met or unmet as the password is typed;
  // the server checks every rule again (and the list of breached passwords) on sending.
  function watchRules(input) {
    var rules = doc.getElementById(input.dataset.rules);
    if (!rules) { return; }
    var met = rules.dataset.met || "Met:";
    var unmet = rules.dataset.unmet || "Not yet:";
    function update() {
      rules.querySelectorAll("li[data-check]").forEach(function (item) {
        var check = checks[item.dataset.check];
        var state = item.querySelector(".state");
        if (!check) { return; }
        if (!state) {
          state = doc.createElement("span");
          state.className = "state visually-hidden";
          item.insertBefore(state, item.firstChild);
        }
        if (!input.value) {
          item.classList.remove("met", "unmet");
          state.textContent = "";
          return;
        }
        var ok = check(input.value, rules, input.form);
        item.classList.toggle("met", ok);
        item.classList.toggle("unmet", !ok);
        state.textContent = (ok ? met : unmet) + " ";
      });
    }
    input.addEventListener("input", update);
    ["email", "username"].forEach(function (field) {
      var other = input.form.elements.namedItem(field);
      if (other) { other.addEventListener("input", update); }
    });
    update();
  }

  doc.querySelectorAll("input[data-reveal]").forEach(addReveal);
  doc.querySelectorAll("input[data-rules]").forEach(watchRules);
})();
