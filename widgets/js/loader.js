/* Parcours widget loader: one small deferred script on the store's pages.
 *
 * Config: window.ParcoursConfig when the platform inlined it (Shopify app embed, WordPress
 * plugin), else one cacheable GET {origin}/w/{store}/config.json, where origin and store come
 * from this script's own src and data-store attribute (custom shops).
 * Shopper id: an anonymous random id in a first-party cookie (prc_id, a year), stored only
 * with consent when the store asks for it (config.consent_required; window.ParcoursConsent =
 * true, or Parcours.consent(true), grants it); until then it lives for the page only.
 * Beacon: events are queued, sent in batches to {origin}/collect (or config.collect: a shop's
 * own route, parcours.flask) with sendBeacon (fetch
 * keepalive as fallback), and kept in localStorage when sending fails, to go with the next page.
 * Page views carry the path, the referrer without its query and the utm_source/utm_medium of
 * the address: /collect derives the shopper's channel from them (docs/events.md, "Segments").
 * Widgets: only those enabled for this page type are loaded ({origin}/widgets/{name}.js), after
 * the shared kit (kit.js), in order but without blocking anything (dynamic scripts, async=false).
 * Config merge: a platform that inlines only the page's part (WordPress: page, product, shopper,
 * endpoints) gets the store's part (widgets, facts, storefront paths) from config.json.
 * Nothing here may break the page: every step is guarded. */
(function (w, d) {
  if (w.Parcours) return;
  var KEY = "prc_id", QUEUE = "prc_queue", MAX = 50, q = [], timer = 0, config, granted, sid, saved;
  var SCRIPTS = /*SCRIPTS*/[]; // the widget scripts this server has (filled in when served)
  var me = d.currentScript || d.querySelector("script[data-parcours=loader]");

  function store(name, value) {
    try {
      if (value === undefined) return w.localStorage.getItem(name);
      if (value === null) w.localStorage.removeItem(name);
      else w.localStorage.setItem(name, value);
    } catch (e) { /* storage off: the id lives for the page only */ }
  }

  // Cookies first: localStorage's first touch on a page costs a synchronous trip to storage,
  // so it is read only when the cookie is missing (the id) or says there is something (queue).
  function cookie(name, value, age) {
    var m = d.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]+)"));
    if (value) d.cookie = name + "=" + value + ";path=/;max-age=" + (age || 31536000) + ";SameSite=Lax" + (location.protocol == "https:" ? ";Secure" : "");
    return m ? m[1] : null;
  }

  // Read once per page (each document.cookie access is a trip to the browser); written once,
  // when consent allows; until then the id lives for this page only.
  function shopper() {
    if (!sid) {
      saved = !!(sid = cookie(KEY));
      sid = sid || ((w.crypto && crypto.randomUUID) ? crypto.randomUUID() : Date.now().toString(36) + Math.random().toString(36).slice(2));
    }
    if (granted && !saved) saved = !!cookie(KEY, sid);
    return sid;
  }

  function allowed() {
    granted = !config.consent_required || w.ParcoursConsent === true;
    return granted;
  }

  function send(events) {
    var body = JSON.stringify({ key: config.store, events: events }), url = config.collect || config.origin + "/collect";
    var keep = function () { store(QUEUE, JSON.stringify(pending().concat(events).slice(-MAX))); cookie(QUEUE, 1, 2592000); };
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

  function load(name) {
    var s = d.createElement("script");
    s.async = false; // run in insertion order (the kit first), never blocking the parser
    s.src = config.origin + "/widgets/" + name + ".js";
    d.head.appendChild(s);
  }

  // After the page's first paint (the frame rAF precedes, then a task): the shop's own content
  // shows first, and the widgets fill their reserved room a frame later.
  function start(c) {
    (w.requestAnimationFrame || setTimeout)(function () { setTimeout(function () { begin(c); }); });
  }

  function begin(c) {
    config = c;
    config.origin = String(c.origin || "").replace(/\/+$/, "");
    // The store's chosen language, else the page's; French or English.
    var lang = c.lang || d.documentElement.lang || c.locale || "en";
    config.locale = d.documentElement.lang || lang; // formats numbers and dates as the page
    config.lang = /^fr/i.test(lang) ? "fr" : "en";
    config.page = c.page || (d.body && d.body.getAttribute("data-parcours-page")) || "other";
    // The platform's own ids of this shopper (WordPress plugin: user and keyed session hash).
    var who = c.shopper || {}, ids = config.identities = {};
    if (who.customer_id) ids.customer_id = String(who.customer_id);
    if (who.wc_session) ids.cart_token = String(who.wc_session);
    if (cookie(QUEUE)) { // events kept while offline: they go now
      var held = pending();
      store(QUEUE, null);
      d.cookie = QUEUE + "=;path=/;max-age=0";
      if (held.length && allowed()) send(held);
    }
    // How the shopper came (the server derives the channel): the referrer without its query
    // (it may hold the last page's personal data), and the campaign's utm parameters.
    var u = new URLSearchParams(location.search);
    track("page_viewed", { path: location.pathname, referrer: d.referrer.split("?")[0], utm_source: u.get("utm_source"), utm_medium: u.get("utm_medium") });
    var widgets = c.widgets || {}, names = [];
    for (var name in widgets) {
      var wdg = widgets[name];
      if (wdg && wdg.enabled && SCRIPTS.indexOf(name) > -1 &&
          (!wdg.pages || wdg.pages.indexOf(config.page) > -1)) names.push(name);
    }
    if (names.length) ["kit"].concat(names).forEach(load);
  }

  function fetchConfig(origin, key, inline) {
    fetch(origin + "/w/" + encodeURIComponent(key) + "/config.json", { credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (c) {
        if (!c) return;
        var lang = c.lang;
        c = Object.assign({ origin: origin }, c, inline);
        if (lang) c.lang = lang; // the store's choice wins over the page's
        start(c);
      }, function () {});
  }

  w.Parcours = {
    track: track,
    flush: flush,
    config: function () { return config; },
    shopper: function () { return config && allowed() ? shopper() : null; },
    id: function () { return shopper(); }, // the id buckets hash, consent or not (never stored without it)
    consent: function (yes) {
      w.ParcoursConsent = !!yes;
      if (yes) return flush();
      d.cookie = KEY + "=;path=/;max-age=0"; // withdrawn: forget the id and what was not sent
      saved = false;
      q.length = 0;
    }
  };
  d.addEventListener("visibilitychange", function () { if (d.visibilityState == "hidden") flush(); });
  w.addEventListener("pagehide", flush);

  try {
    var inline = w.ParcoursConfig;
    if (inline && inline.widgets) return start(inline);
    var src = me && me.src || "", key = inline ? inline.store : me && me.getAttribute("data-store");
    var origin = inline ? inline.origin : src.slice(0, src.indexOf("/widgets/"));
    if (key && origin) fetchConfig(String(origin).replace(/\/+$/, ""), key, inline);
  } catch (e) { /* never break the page */ }
})(window, document);
