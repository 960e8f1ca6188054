/* Parcours widget kit: what every widget shares, loaded once before them (Parcours.kit).
 *
 * - on(name, run): runs a widget, and again whenever the theme replaces its mount.
 * - mount(name, anchor): the box the theme reserved for the widget ([data-parcours-widget=name],
 *   its height kept so nothing moves), else a new box placed after `anchor` (an element).
 * - show(name): the exposure. Reports widget_shown with the shopper's bucket (Parcours.bucket);
 *   the caller shows nothing when it is "holdout". engaged(props): reports widget_engaged.
 * - t(en, fr): the page's language; money(amount, currency): Intl.NumberFormat in the page's
 *   locale; num(n), date(iso): a rating and a day as the language writes them;
 *   el(tag, attrs, text): elements whose text is always text (never parsed as HTML).
 * - call(path, values): a storefront path from the config (docs/widgets.md): "{name}"
 *   placeholders filled from `values` (URL-encoded in the path, unless the value is itself a
 *   URL or a path), a query, a JSON body, the platform's nonce; JSON back.
 * - pick(object, "a.0.b"): a value by its path in a platform's JSON answer. */
(function (w, d) {
  var P = w.Parcours, c = P && P.config();
  if (!c || P.kit) return;
  var s = c.storefront || {}, nonce, cache = {}, money = {};

  function pick(o, path) {
    String(path).split(".").forEach(function (k) { o = o == null ? o : o[k]; });
    return o;
  }

  function fill(text, v, enc) {
    return String(text).replace(/\{(\w+)\}/g, function (m, k) {
      var x = v[k] == null ? "" : String(v[k]);
      return enc && !/^(https?:)?\//.test(x) ? encodeURIComponent(x) : x; // a URL goes in as is
    });
  }

  function values(extra) {
    var p = c.product || {};
    return Object.assign({ origin: c.origin, store: c.store, currency: c.currency, product: p.id,
      price: p.price, variant: p.id, quantity: 1 }, c.endpoints, extra);
  }

  function call(spec, extra) {
    if (!spec) return Promise.reject(new Error("no path"));
    if (typeof spec == "string") spec = { url: spec };
    var v = values(extra), url = new URL(fill(spec.url, v, 1), location.href), q = spec.query || {};
    for (var k in q) url.searchParams.set(k, fill(q[k], v));
    var o = { method: spec.method || "GET", credentials: url.origin == location.origin ? "same-origin" : "omit",
      headers: { Accept: "application/json" } };
    if (spec.body) {
      o.headers["Content-Type"] = "application/json";
      o.body = JSON.stringify(spec.body, function (k, x) { return typeof x == "string" ? fill(x, v) : x; });
    }
    if (nonce && spec.method) o.headers[nonce[0]] = nonce[1];
    var key = o.method + url;
    if (o.method == "GET" && cache[key]) return cache[key];
    var r = fetch(url, o).then(function (res) {
      if (spec.nonce && res.headers.get(spec.nonce)) nonce = [spec.nonce, res.headers.get(spec.nonce)];
      return res.json().catch(function () { return {}; }).then(function (body) {
        if (!res.ok) throw Object.assign(new Error("HTTP " + res.status), { status: res.status, body: body });
        return body;
      });
    });
    if (o.method == "GET") cache[key] = r;
    return r;
  }

  function el(tag, attrs, text) {
    var e = d.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = text;
    return e;
  }

  function mount(name, anchor) {
    var m = d.querySelector('[data-parcours-widget="' + name + '"]');
    if (!m && anchor) {
      m = el("div", { "data-parcours-widget": name });
      anchor.insertAdjacentElement("afterend", m);
    }
    if (m) { m.classList.add("prc"); m.prc = 1; }
    return m;
  }

  // Themes re-render parts of a page (a cart's totals after a change, by AJAX), mounts
  // included: a widget runs again on a fresh mount (one it has not seen: no `prc` mark).
  var runs = {}, again;
  function on(name, run) {
    runs[name] = run;
    run();
  }
  if (w.MutationObserver) new MutationObserver(function () {
    clearTimeout(again);
    again = setTimeout(function () {
      for (var n in runs) {
        var m = d.querySelector('[data-parcours-widget="' + n + '"]');
        if (m && !m.prc) runs[n]();
      }
    }, 50);
  }).observe(d.body, { childList: true, subtree: true });

  // The shopper's arm for a widget's experiment: a stable hash (FNV-1a) of the shopper, the
  // widget and its salt, against the widget's holdout share. Holdout shoppers see nothing.
  P.bucket = function (name, id) { // id: another shopper's (tests, server-side checks)
    var wdg = c.widgets[name] || {}, x = (id || P.id()) + ":" + name + ":" + (wdg.salt || ""), h = 2166136261;
    for (var i = 0; i < x.length; i++) { h ^= x.charCodeAt(i); h = Math.imul(h, 16777619) >>> 0; }
    return h / 4294967296 < (+wdg.holdout || 0) ? "holdout" : "exposed";
  };

  function show(name) {
    var wdg = c.widgets[name] || {}, props = { widget: name, bucket: P.bucket(name), page: c.page };
    if (wdg.salt) props.experiment = wdg.salt;
    P.track("widget_shown", props);
    return props;
  }

  var style = el("style", {}, ".prc{display:flow-root;font-size:.95em;line-height:1.5}.prc p{margin:.25em 0}" +
    ".prc button,.prc-btn{font:inherit;cursor:pointer;padding:.4em .9em;border:1px solid currentColor;border-radius:4px;background:none;color:inherit}" +
    ".prc-btn{display:inline-block;text-decoration:none;background:#111;color:#fff}" +
    ".prc-stars{color:#8a5a00;letter-spacing:.1em}.prc input,.prc select{font:inherit;padding:.3em;margin:0 .4em .4em 0;max-width:12em}" +
    ".prc progress{width:100%;height:.5em;accent-color:#1a7f37}.prc-muted{color:#4b5563}.prc button:disabled{opacity:.5;cursor:default}" +
    ".prc-review{margin:0 0 1.2em}.prc-review img{object-fit:cover;margin:.3em .3em 0 0}.prc blockquote{margin:.4em 0 0 1em;padding-left:.8em;border-left:3px solid #d1d5db}" +
    "@media (prefers-reduced-motion:no-preference){.prc progress{transition:all .3s}}");
  d.head.appendChild(style);

  P.kit = {
    fr: c.lang == "fr",
    t: function (en, fr) { return c.lang == "fr" ? fr : en; },
    // One formatter per currency: building one is the costly part of Intl (locale data).
    money: function (n, cur) {
      cur = cur || c.currency;
      try {
        return (money[cur] = money[cur] || new Intl.NumberFormat(c.locale, { style: "currency", currency: cur })).format(n);
      } catch (e) { return (+n).toFixed(2) + " " + (cur || ""); }
    },
    // A rating and a date without more Intl objects (each costs its locale data at load).
    num: function (n) { return String(n).replace(".", c.lang == "fr" ? "," : "."); },
    date: function (iso) {
      var x = new Date(iso), m = (c.lang == "fr" ? "janv. f\u00e9vr. mars avr. mai juin juil. ao\u00fbt sept. oct. nov. d\u00e9c."
        : "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec").split(" ");
      return x.getDate() + " " + m[x.getMonth()] + " " + x.getFullYear();
    },
    el: el, pick: pick, fill: fill, call: call, mount: mount, show: show, on: on,
    engaged: function (props, extra) { P.track("widget_engaged", Object.assign({}, props, extra)); },
    // The chosen variant on a product page: the first filled field the platform names.
    variant: function () {
      var f = s.variant ? d.querySelectorAll(s.variant) : [];
      for (var i = 0; i < f.length; i++) if (/^[\w-]+$/.test(f[i].value) && f[i].value != "0") return f[i].value;
      return (c.product || {}).id;
    },
    // How many: the quantity control of the variant's own form (themes may tie it with a
    // form= attribute, outside the form), else the first the platform names.
    quantity: function () {
      var f = s.variant ? d.querySelectorAll(s.variant) : [], q;
      for (var i = 0; i < f.length && !q; i++) q = f[i].form && f[i].form.elements.namedItem("quantity");
      q = q || (s.quantity && d.querySelector(s.quantity));
      return Math.max(1, parseInt(q && q.value, 10) || 1);
    }
  };
})(window, document);
