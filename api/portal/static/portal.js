/* Progressive enhancement only: every page works without this file.
   - the request form refreshes its disclosure preview as it changes;
   - the upload form shows progress while the files travel. */
(function () {
  "use strict";

  function replaceFrom(html, selector) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.querySelector(selector);
    var old = document.querySelector(selector);
    if (fresh && old) { old.replaceWith(fresh); }
  }

  var form = document.getElementById("request-form");
  if (form && window.fetch) {
    var timer = null;
    var refresh = function () {
      var data = new FormData(form);
      data.set("action", "preview");
      fetch(form.getAttribute("action"), { method: "POST", body: new URLSearchParams(data),
                           credentials: "same-origin" })
        .then(function (r) { return r.text(); })
        .then(function (html) { replaceFrom(html, "#preview"); });
    };
    form.addEventListener("change", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 300);
    });
  }

  var upload = document.getElementById("upload-form");
  if (upload && window.XMLHttpRequest && window.FormData) {
    upload.addEventListener("submit", function (event) {
      event.preventDefault();
      var bar = document.getElementById("upload-progress");
      var said = document.getElementById("upload-said");
      bar.hidden = false;
      var xhr = new XMLHttpRequest();
      xhr.open("POST", upload.getAttribute("action"));
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) {
          bar.value = Math.round(100 * e.loaded / e.total);
          said.textContent = "Sent " + bar.value + "%";
        }
      };
      xhr.upload.onload = function () { said.textContent = "Sent; checking the files..."; };
      xhr.onload = function () { replaceFrom(xhr.responseText, "main"); };
      xhr.onerror = function () { said.textContent = "The upload failed; try again."; };
      xhr.send(new FormData(upload));
    });
  }
})();
