/* jamsosbot staff console: small progressive enhancements over server-rendered pages.
   Every page works without this script; with it: auto-submitting selects, a live audience count,
   live previews, and a live progress bar. Calls go to the admin API with the session cookie and the
   page's CSRF token (X-CSRF-Token), like any script with a token would. */
(function () {
  "use strict";
  var API = "/admin/api/v1";
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var CSRF = csrfMeta ? csrfMeta.getAttribute("content") : "";

  function api(method, path, body) {
    var options = { method: method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    if (method !== "GET") options.headers["X-CSRF-Token"] = CSRF;
    return fetch(API + path, options).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.status === 204 ? null : r.json();
    });
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  function angka(n) {
    return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ".");
  }

  // <select data-autosubmit> submits its form on change
  document.querySelectorAll("select[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });

  // tokens: one click selects the whole token for copying
  document.querySelectorAll("[data-copy]").forEach(function (el) {
    el.addEventListener("click", function () {
      var range = document.createRange();
      range.selectNodeContents(el);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
    });
  });

  // confirm before irreversible actions: <form data-confirm="...">
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) ev.preventDefault();
    });
  });

  // audience builder: <form data-audience> with filter fields; shows the count in [data-audience-count]
  var audienceForm = document.querySelector("form[data-audience]");
  if (audienceForm) {
    var out = document.querySelector("[data-audience-count]");
    var refreshCount = debounce(function () {
      out.setAttribute("aria-busy", "true");
      api("POST", "/audience/count", audienceFilters(audienceForm))
        .then(function (data) {
          out.textContent = angka(data.count);
          out.removeAttribute("aria-busy");
        })
        .catch(function () {
          out.textContent = "?";
          out.removeAttribute("aria-busy");
        });
    }, 300);
    audienceForm.addEventListener("input", refreshCount);
    audienceForm.addEventListener("change", refreshCount);
  }

  function audienceFilters(form) {
    var data = new FormData(form);
    var filters = {};
    ["channel", "region", "occupation", "registration_status", "subscribed_since", "source"].forEach(function (k) {
      var v = data.get(k);
      if (v) filters[k] = v;
    });
    return filters;
  }
  window.jbAudienceFilters = audienceFilters;

  // compose: <form data-compose> re-renders both previews through the API as the text changes
  var composeForm = document.querySelector("form[data-compose]");
  if (composeForm) {
    var tg = document.querySelector("[data-preview=telegram]");
    var wa = document.querySelector("[data-preview=whatsapp]");
    var refreshPreview = debounce(function () {
      var data = new FormData(composeForm);
      var body = {
        text: data.get("text") || "",
        image_url: data.get("image_url") || null,
        button_title: data.get("button_title") || null,
        button_payload: data.get("button_payload") || null
      };
      api("POST", "/preview", body).then(function (p) {
        renderTelegram(tg, p.telegram);
        renderWhatsApp(wa, p.whatsapp);
      }).catch(function () { /* keep the last preview */ });
    }, 250);
    composeForm.addEventListener("input", refreshPreview);
  }

  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }

  function bubble(text, imageUrl) {
    var b = document.createElement("div");
    b.className = "bubble";
    if (imageUrl) {
      var img = document.createElement("img");
      img.src = imageUrl;
      img.alt = "Gambar kampanye";
      b.appendChild(img);
    }
    b.appendChild(document.createTextNode(text));
    return b;
  }

  function renderTelegram(el, p) {
    if (!el || !p) return;
    clear(el);
    el.appendChild(bubble(p.text, p.image_url));
    if (p.buttons && p.buttons.length) {
      var row = document.createElement("div");
      row.className = "tg-buttons";
      p.buttons.forEach(function (title) {
        var b = document.createElement("div");
        b.className = "tg-button";
        b.textContent = title;
        row.appendChild(b);
      });
      el.appendChild(row);
    }
  }

  function renderWhatsApp(el, p) {
    if (!el || !p) return;
    clear(el);
    el.appendChild(bubble(p.text, p.image_url));
  }

  // progress: [data-progress=<campaign id>] polls the progress endpoint while the campaign is live
  var progress = document.querySelector("[data-progress]");
  if (progress) {
    var id = progress.getAttribute("data-progress");
    var bar = progress.querySelector("progress");
    var status = progress.getAttribute("data-status");
    var poll = function () {
      api("GET", "/campaigns/" + id + "/progress").then(function (p) {
        bar.max = Math.max(p.total, 1);
        bar.value = p.done;
        progress.querySelectorAll("[data-field]").forEach(function (el) {
          var key = el.getAttribute("data-field");
          if (key in p) el.textContent = typeof p[key] === "number" ? angka(p[key]) : p[key];
        });
        var pct = progress.querySelector("[data-percent]");
        if (pct) pct.textContent = (p.total ? Math.floor((100 * p.done) / p.total) : 0) + "%";
        if (p.status !== status) {
          window.location.reload();  // buttons and results depend on the status
          return;
        }
        if (p.status === "running" || p.status === "scheduled") setTimeout(poll, 1500);
      }).catch(function () { setTimeout(poll, 5000); });
    };
    if (status === "running" || status === "scheduled") setTimeout(poll, 1000);
  }
})();
