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
  var AUDIENCE_FIELDS = ["channel", "region", "occupation", "registration", "subscribed_since", "source"];
  var CHANNEL_LABELS = { telegram: "Telegram", whatsapp: "WhatsApp" };

  function isAudienceField(el) {
    return !!el && AUDIENCE_FIELDS.indexOf(el.name) >= 0;
  }

  function list(value) {
    return value ? String(value).split(",").map(function (v) { return v.trim(); }).filter(Boolean) : [];
  }

  // the form's filters as the API's AudienceIn
  function audienceFilters(form) {
    var data = new FormData(form);
    var body = {
      channels: list(data.get("channel")),
      regions: list(data.get("region")),
      occupations: list(data.get("occupation")),
      registration: list(data.get("registration")),
      sources: list(data.get("source"))
    };
    var since = data.get("subscribed_since");
    if (since) body.subscribed_since = since + "T00:00:00+07:00";  // midnight WIB, as the server reads it
    return body;
  }

  var audienceForm = document.querySelector("form[data-audience]");
  if (audienceForm) {
    var out = document.querySelector("[data-audience-count]");
    var split = document.querySelector("[data-audience-split]");
    var refreshCount = debounce(function () {
      out.setAttribute("aria-busy", "true");
      api("POST", "/audience/count", audienceFilters(audienceForm))
        .then(function (data) {
          out.textContent = angka(data.count);
          if (split) {
            split.textContent = Object.keys(data.by_channel).sort().map(function (ch) {
              return (CHANNEL_LABELS[ch] || ch) + " " + angka(data.by_channel[ch]);
            }).join(" · ");
          }
          out.removeAttribute("aria-busy");
        })
        .catch(function () {
          out.textContent = "?";
          out.removeAttribute("aria-busy");
        });
    }, 300);
    ["input", "change"].forEach(function (type) {
      audienceForm.addEventListener(type, function (ev) {
        if (isAudienceField(ev.target)) refreshCount();
      });
    });
  }

  // compose: <form data-compose> re-renders the previews (server-side, the service's own rendering)
  var composeForm = document.querySelector("form[data-compose]");
  var previewBox = document.querySelector("[data-previews]");
  if (composeForm && previewBox) {
    var refreshPreview = debounce(function () {
      fetch("/admin/campaigns/preview", {
        method: "POST",
        credentials: "same-origin",
        body: new URLSearchParams(new FormData(composeForm))
      }).then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.text();
      }).then(function (html) {
        previewBox.innerHTML = html;  // escaped by the server's templates
        previewBox.setAttribute("data-updated", String(Date.now()));
      }).catch(function () { /* keep the last preview */ });
    }, 350);
    ["input", "change"].forEach(function (type) {
      composeForm.addEventListener(type, function (ev) {
        if (!isAudienceField(ev.target) || ev.target.name === "channel") refreshPreview();
      });
    });
  }

  // inputs[data-remember]: this browser remembers the value (one's own chat id for test sends);
  // the server never stores it
  document.querySelectorAll("input[data-remember]").forEach(function (el) {
    var key = "jb:" + el.getAttribute("data-remember");
    try {
      if (!el.value && window.localStorage.getItem(key)) el.value = window.localStorage.getItem(key);
      el.form.addEventListener("submit", function () { window.localStorage.setItem(key, el.value); });
    } catch (e) { /* storage blocked: nothing to remember */ }
  });

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
          // buttons and results depend on the status; drop the one-off notice (?pesan=) on the way
          window.location.replace(window.location.pathname);
          return;
        }
        if (p.status === "running" || p.status === "scheduled") setTimeout(poll, 1500);
      }).catch(function () { setTimeout(poll, 5000); });
    };
    if (status === "running" || status === "scheduled") setTimeout(poll, 1000);
  }
})();
