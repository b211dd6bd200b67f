// Fills the timezone field with the browser's zone, only while it still holds the default.
// The field stays editable, and without JavaScript it simply stays at UTC.
(function () {
  "use strict";
  var field = document.querySelector("input[data-detect-timezone]");
  if (!field || field.value !== "UTC" || !window.Intl) {
    return;
  }
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone) {
      field.value = zone;
    }
  } catch (error) {
    // An old browser without zone names: UTC stays, and the reader can type theirs.
  }
})();
