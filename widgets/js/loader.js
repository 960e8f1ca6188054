/* Parcours widget loader: one small deferred script on the store's pages.
 *
 * Config: window.ParcoursConfig when the platform inlined it (Shopify app embed, WordPress
 * plugin), else one cacheable GET {origin}/w/{store}/config.json, where origin and store come
 * from this script's own src and data-store attribute (custom shops).
 * Shopper id: an anonymous random id in a first-party cookie and localStorage, only with
 * consent when the store asks for it (config.consent_required; window.ParcoursConsent = true,
 * or Parcours.consent(true), grants it).
 * Beacon: events are queued, sent in batches to {origin}/collect with sendBeacon (fetch
 * keepalive as fallback), and kept in localStorage when sending fails, to go with the next page.
 * Widgets: only those enabled for this page type are loaded ({origin}/widgets/{name}.js).
 * Nothing here may break the page: every step is guarded. */
(function (w, d) {
  if (w.Parcours) return;
  var KEY = "prc_id", QUEUE = "prc_queue", MAX = 50, q = [], timer = 0, config, granted;
  var SCRIPTS = /*SCRIPTS*/[]; // the widget scripts this server has (filled in when served)
  var me = d.currentScript || d.querySelector("script[data-parcours=loader]");

  function store(name, value) {
    try {
      if (value === undefined) return w.localStorage.getItem(name);
      if (value === null) w.localStorage.removeItem(name);
      else w.localStorage.setItem(name, value);
    } catch (e) { /* storage off: the id lives for the page only */ }
  }

  function cookie(value) {
    var m = d.cookie.match(/(?:^|; )prc_id=([^;]+)/);
    if (value) d.cookie = KEY + "=" + value + ";path=/;max-age=31536000;SameSite=Lax" + (location.protocol == "https:" ? ";Secure" : "");
    return m ? m[1] : null;
  }

  function shopper() {
    var id = cookie() || store(KEY);
    if (!id) {
      id = (w.crypto && crypto.randomUUID) ? crypto.randomUUID() : Date.now().toString(36) + Math.random().toString(36).slice(2);
    }
    if (granted) { cookie(id); store(KEY, id); }
    return id;
  }

  function allowed() {
    granted = !config.consent_required || w.ParcoursConsent === true;
    return granted;
  }

  function send(events) {
    var body = JSON.stringify({ key: config.store, events: events }), url = config.origin + "/collect";
    var keep = function () { store(QUEUE, JSON.stringify(pending().concat(events).slice(-MAX))); };
    if (!navigator.onLine) return keep();
    try {
      if (navigator.sendBeacon && navigator.sendBeacon(url, body)) return;
    } catch (e) { /* too big or blocked: try fetch */ }
    if (w.fetch) fetch(url, { method: "POST", body: body, keepalive: true, headers: { "Content-Type": "text/plain" } })
      .then(function (r) { if (r.status >= 500 || r.status == 429) keep(); }, keep);
    else keep();
  }

  function pending() {
    try { return JSON.parse(store(QUEUE) || "[]"); } catch (e) { return []; }
  }

  function flush() {
    clearTimeout(timer);
    timer = 0;
    if (!config || !allowed() || !q.length) return;
    var id = shopper(), batch = q.splice(0, MAX);
    for (var i = 0; i < batch.length; i++) {
      batch[i].identities = Object.assign({ anonymous_id: id }, config.identities, batch[i].identities);
    }
    send(batch);
  }

  function track(name, properties, extra) {
    var event = Object.assign({ name: name, occurred_at: new Date().toISOString(), properties: properties || {}, source: "widgets" }, extra);
    q.push(event);
    if (!timer) timer = setTimeout(flush, 1000);
  }

  // The shopper's arm for a widget's experiment: a stable hash (FNV-1a) of the shopper, the
  // widget and its salt, against the widget's holdout share. Holdout shoppers see nothing.
  function bucket(name) {
    var wdg = (config.widgets || {})[name] || {}, s = shopper() + ":" + name + ":" + (wdg.salt || ""), h = 2166136261;
    for (var i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 16777619) >>> 0; }
    return h / 4294967296 < (+wdg.holdout || 0) ? "holdout" : "exposed";
  }

  function load(name) {
    var s = d.createElement("script");
    s.async = true;
    s.src = config.origin + "/widgets/" + name + ".js";
    d.head.appendChild(s);
  }

  function start(c) {
    config = c;
    config.origin = String(c.origin || "").replace(/\/+$/, "");
    config.lang = (c.lang || d.documentElement.lang || "en").slice(0, 2);
    config.page = c.page || (d.body && d.body.getAttribute("data-parcours-page")) || "other";
    // The platform's own ids of this shopper (WordPress plugin: user and keyed session hash).
    var who = c.shopper || {}, ids = config.identities = {};
    if (who.customer_id) ids.customer_id = String(who.customer_id);
    if (who.wc_session) ids.cart_token = String(who.wc_session);
    var held = pending();
    store(QUEUE, null);
    if (held.length && allowed()) send(held);
    track("page_viewed", { path: location.pathname });
    var widgets = c.widgets || {};
    for (var name in widgets) {
      var wdg = widgets[name];
      if (wdg && wdg.enabled && SCRIPTS.indexOf(name) > -1 &&
          (!wdg.pages || wdg.pages.indexOf(config.page) > -1)) load(name);
    }
  }

  w.Parcours = {
    track: track,
    flush: flush,
    bucket: bucket,
    config: function () { return config; },
    shopper: function () { return config && allowed() ? shopper() : null; },
    consent: function (yes) {
      w.ParcoursConsent = !!yes;
      if (yes) return flush();
      store(KEY, null);  // withdrawn: forget the id and what was not sent
      d.cookie = KEY + "=;path=/;max-age=0";
      q.length = 0;
    }
  };
  d.addEventListener("visibilitychange", function () { if (d.visibilityState == "hidden") flush(); });
  w.addEventListener("pagehide", flush);

  try {
    if (w.ParcoursConfig) return start(w.ParcoursConfig);
    var src = me && me.src, key = me && me.getAttribute("data-store");
    if (!src || !key) return;
    var origin = src.slice(0, src.indexOf("/widgets/"));
    fetch(origin + "/w/" + encodeURIComponent(key) + "/config.json", { credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (c) { if (c) start(Object.assign({ origin: origin }, c)); }, function () {});
  } catch (e) { /* never break the page */ }
})(window, document);
