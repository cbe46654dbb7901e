// Exam page: countdown from the server's remaining seconds and autosave.
// The deadline is the server's: the page states the remaining seconds at render time,
// and the countdown runs on the browser's monotonic clock from there, so a wrong
// device clock cannot move it. The server rejects answers after its own deadline.
(function () {
  "use strict";
  var form = document.getElementById("paper");
  var countdown = document.getElementById("countdown");
  var status = document.getElementById("save-status");
  if (!form || !countdown) { return; }

  var remaining = parseInt(countdown.getAttribute("data-remaining"), 10) || 0;
  var renderedAt = performance.now();
  var submitted = false;

  function show(seconds) {
    var minutes = Math.floor(seconds / 60);
    var rest = seconds % 60;
    countdown.textContent = minutes + ":" + (rest < 10 ? "0" : "") + rest;
  }

  function tick() {
    var left = Math.max(0, remaining - Math.floor((performance.now() - renderedAt) / 1000));
    show(left);
    if (left === 0 && !submitted) {
      submitted = true;
      form.submit();
      return;
    }
    window.setTimeout(tick, 1000);
  }
  tick();

  // Autosave: each change sends the whole form, so a failed save is made good by the next.
  function save() {
    var body = new URLSearchParams(new FormData(form));
    return fetch(form.getAttribute("data-save"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": form.getAttribute("data-csrf") },
      body: body
    }).then(function (response) {
      if (response.status === 204) {
        status.textContent = status.getAttribute("data-saved");
        return;
      }
      return response.json().then(function (error) { status.textContent = error.message; });
    }).catch(function () {
      status.textContent = status.getAttribute("data-offline");
    });
  }
  form.addEventListener("change", save);
  form.addEventListener("submit", function () { submitted = true; });
})();
