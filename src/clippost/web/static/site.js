// Small enhancements; every page works the same without them.
// - schedule fields that do not apply to the chosen cadence are hidden;
// - a notice or an error summary the server put on the page takes the focus, so screen
//   readers read it and phones scroll to it;
// - file fields take a dropped file and name the chosen one.
(function () {
  "use strict";

  function scheduleFields() {
    var cadence = document.getElementById("cadence");
    if (!cadence) {
      return;
    }
    var dependent = document.querySelectorAll("[data-cadence]");
    var hint = document.querySelector("[data-cadence-hint]");
    function update() {
      for (var i = 0; i < dependent.length; i += 1) {
        dependent[i].hidden = dependent[i].getAttribute("data-cadence") !== cadence.value;
      }
      if (hint) {
        hint.hidden = true;
      }
    }
    cadence.addEventListener("change", update);
    update();
  }

  function focusMessage() {
    var message = document.querySelector("[data-focus]");
    if (message) {
      message.focus();
    }
  }

  function dropzones() {
    var zones = document.querySelectorAll("[data-dropzone]");
    for (var i = 0; i < zones.length; i += 1) {
      enableDrop(zones[i]);
    }
  }

  function enableDrop(zone) {
    var input = zone.querySelector("input[type=file]");
    var name = zone.querySelector("[data-file-name]");
    var hint = zone.querySelector(".drop-hint");
    if (!input || !name || !window.DataTransfer) {
      return;
    }
    zone.classList.add("can-drop");
    if (hint) {
      hint.hidden = false;
    }
    function show() {
      name.textContent = input.files && input.files.length ? "Chosen: " + input.files[0].name : "";
    }
    input.addEventListener("change", show);
    zone.addEventListener("dragover", function (event) {
      event.preventDefault();
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", function () {
      zone.classList.remove("dragging");
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("dragging");
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        show();
      }
    });
  }

  scheduleFields();
  dropzones();
  focusMessage();
  // Again once loaded: the browser's scroll to the URL's #section can take the focus back.
  window.addEventListener("load", function () {
    window.setTimeout(focusMessage, 0);
  });
})();
