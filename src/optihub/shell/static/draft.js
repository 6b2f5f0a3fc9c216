// The draft review page: when the lab account, lens style or material changes, the
// choices that depend on them (order types, mounting options, styles, materials, colours,
// coats, tints...) are asked of /dashboard/drafts/{id}/choices and redrawn in place. The
// form works without this script: saving the draft redraws them too.
(function () {
  "use strict";
  var form = document.querySelector("form[data-choices]");
  if (!form) return;
  var status = document.getElementById("choices-status");
  var pending = null;

  function field(name) {
    return document.getElementById("f-" + name);
  }

  function query() {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, name) {
      if (name !== "csrf_token" && name !== "action") params.append(name, value);
    });
    return params.toString();
  }

  // A value kept though not offered is labelled by the server; when it only knows it as
  // "another lab's", the name the page showed for it is kept.
  function shown(option, before) {
    if (option[2] || !before[option[0]] || option[1].indexOf("A choice of another lab") !== 0) {
      return option[1];
    }
    return before[option[0]].replace(/ \(not offered\)$/, "") + " (not offered)";
  }

  function redrawSelect(select, options) {
    var chosen = select.value;
    var before = {};
    Array.prototype.forEach.call(select.options, function (option) {
      before[option.value] = option.text;
    });
    while (select.options.length > 1) select.remove(1); // the first is the blank choice
    options.forEach(function (option) {
      var element = new Option(shown(option, before), option[0]);
      element.selected = option[0] === chosen;
      select.add(element);
    });
    if (!options.some(function (option) { return option[0] === chosen; })) select.value = "";
  }

  function redrawCheckboxes(fieldset, name, options) {
    var box = fieldset.querySelector(".options");
    if (!box) return;
    var checked = {};
    var before = {};
    fieldset.querySelectorAll("input[type=checkbox]").forEach(function (input) {
      if (input.checked) checked[input.value] = true;
      before[input.value] = input.parentNode.textContent.trim();
    });
    box.textContent = "";
    if (!options.length) {
      var none = document.createElement("span");
      none.className = "muted";
      none.textContent = "None offered for this choice.";
      box.appendChild(none);
      return;
    }
    options.forEach(function (option) {
      var label = document.createElement("label");
      var input = document.createElement("input");
      input.type = "checkbox";
      input.name = name;
      input.value = option[0];
      input.checked = !!checked[option[0]];
      label.appendChild(input);
      label.appendChild(document.createTextNode(" " + shown(option, before)));
      box.appendChild(label);
    });
  }

  function apply(found) {
    Object.keys(found.fields).forEach(function (name) {
      var element = field(name);
      if (!element) return;
      if (element.tagName === "SELECT") redrawSelect(element, found.fields[name]);
      else redrawCheckboxes(element, name, found.fields[name]);
    });
    var lab = document.getElementById("lab-name");
    if (lab && found.lab_name) lab.textContent = found.lab_name;
    if (status) {
      status.textContent = found.lab_name
        ? "The choices now show what " + found.lab_name + " offers."
        : "Choose a lab and account to see what it offers.";
    }
  }

  function refresh() {
    if (pending) pending.abort();
    pending = new AbortController();
    form.setAttribute("aria-busy", "true");
    fetch(form.getAttribute("data-choices") + "?" + query(), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      signal: pending.signal,
    })
      .then(function (response) {
        var type = response.headers.get("content-type") || "";
        if (!response.ok || type.indexOf("application/json") !== 0) throw new Error("no choices");
        return response.json();
      })
      .then(apply)
      .catch(function () { /* the save round trip still redraws the choices */ })
      .finally(function () { form.removeAttribute("aria-busy"); });
  }

  form.addEventListener("change", function (event) {
    if (event.target.hasAttribute("data-refresh-choices")) refresh();
  });
})();
