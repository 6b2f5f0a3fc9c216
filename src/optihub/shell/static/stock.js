// The stock pages' enhancements; both pages work as plain forms without them.
// - A quantity form is sent in the background and its cell updated in place.
// - The CSV import shows the upload's progress, then the page the server answers with.
(function () {
  "use strict";

  function announce(text) {
    var live = document.getElementById("stock-live");
    if (live) live.textContent = text;
  }

  function showError(form, input, message) {
    var id = input.id + "-error";
    var error = document.getElementById(id);
    if (!error) {
      error = document.createElement("span");
      error.className = "error";
      error.id = id;
      form.appendChild(error);
    }
    error.textContent = message;
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", id);
    announce("Not saved: " + message);
    input.focus();
  }

  function clearError(input) {
    var error = document.getElementById(input.id + "-error");
    if (error) error.remove();
    input.removeAttribute("aria-invalid");
    input.removeAttribute("aria-describedby");
  }

  function markLow(form, quantity) {
    var table = document.getElementById("stock-table");
    var threshold = table ? parseInt(table.getAttribute("data-threshold"), 10) : 0;
    var cell = form.closest("td");
    var low = quantity <= threshold;
    var mark = form.querySelector(".low-mark");
    if (cell) cell.classList.toggle("is-low", low);
    if (low && !mark) {
      mark = document.createElement("span");
      mark.className = "low-mark";
      mark.textContent = "Low";
      form.querySelector("button").after(mark);
    } else if (!low && mark) {
      mark.remove();
    }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("qty-form") || !window.fetch) return;
    event.preventDefault();
    var input = form.querySelector("input[name=quantity]");
    var button = form.querySelector("button");
    button.disabled = true;
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin"
    }).then(function (response) {
      if (response.status !== 200 && response.status !== 400) throw new Error("answer " + response.status);
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (answer) {
      button.disabled = false;
      if (!answer.ok) {
        showError(form, input, answer.body.message);
        return;
      }
      clearError(input);
      input.value = answer.body.quantity;
      form.setAttribute("data-quantity", answer.body.quantity);
      markLow(form, answer.body.quantity);
      var total = form.closest("tr").querySelector("[data-total]");
      if (total) total.textContent = answer.body.total;
      form.classList.add("saved");
      setTimeout(function () { form.classList.remove("saved"); }, 1500);
      announce(answer.body.message);
    }).catch(function () {
      button.disabled = false;
      form.submit(); // the plain post: the page answers with the list
    });
  });

  // The import: upload progress, then the server's page in place of this one.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.id !== "import-form" || !window.XMLHttpRequest || !window.FormData || !window.DOMParser) return;
    var box = document.getElementById(form.getAttribute("data-progress"));
    var bar = box && box.querySelector("progress");
    var label = box && box.querySelector("label");
    if (!box || !bar) return;
    event.preventDefault();
    var input = form.querySelector("input[type=file]");
    var tooLarge = document.getElementById("file-error");
    var file = input && input.files && input.files[0];
    var max = parseInt(form.getAttribute("data-max-bytes"), 10);
    if (tooLarge) tooLarge.hidden = true;
    if (file && max && file.size > max && tooLarge) {
      tooLarge.hidden = false; // refused here: no point sending it
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    if (input) input.removeAttribute("aria-invalid");
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    box.hidden = false;
    bar.value = 0;
    label.textContent = "Uploading…";
    var request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.upload.addEventListener("progress", function (progress) {
      if (progress.lengthComputable) {
        bar.value = Math.round((progress.loaded / progress.total) * 100);
        label.textContent = "Uploading… " + bar.value + "%";
      }
    });
    request.upload.addEventListener("load", function () {
      bar.removeAttribute("value"); // indeterminate while the server checks the rows
      label.textContent = "Checking every row…";
    });
    request.addEventListener("load", function () {
      var page = new DOMParser().parseFromString(request.responseText, "text/html");
      var main = page.querySelector("main");
      if (!main) {
        form.submit();
        return;
      }
      document.querySelector("main").replaceWith(main);
      document.title = page.title;
      var result = document.getElementById("import-result");
      if (result) {
        if (!result.hasAttribute("tabindex")) result.setAttribute("tabindex", "-1");
        result.focus();
      }
    });
    request.addEventListener("error", function () { form.submit(); });
    request.send(new FormData(form));
  });
})();
