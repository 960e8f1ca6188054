/* Parcours boot (Shopify app embed). Reads the store's widget config that the embed inlined from
 * the app's metafield, hands it to the widget loader as window.ParcoursConfig and loads the loader
 * from the Parcours server, async. No config, or a broken one: it does nothing. Kept tiny and
 * dependency-free: it runs on every storefront page (budget: 2 KB gzip). */
(function (w, d) {
  var node = d.getElementById("parcours-config");
  if (!node || w.ParcoursConfig) return;
  var config;
  try {
    config = JSON.parse(node.textContent);
  } catch (e) {
    return;
  }
  if (!config || typeof config.origin !== "string" || !/^https?:\/\/[^/]/.test(config.origin)) return;
  config.origin = config.origin.replace(/\/+$/, "");
  function attr(name) { return node.getAttribute("data-" + name); }
  // The store's chosen language wins; else the storefront's current one.
  config.lang = config.lang || attr("lang") || d.documentElement.lang || "en";
  // The page's own facts, where Liquid knew them; the currency is the shopper's (markets).
  ["page", "currency", "country"].forEach(function (name) { if (attr(name)) config[name] = attr(name); });
  if (attr("product")) config.product = { id: attr("product"), price: attr("price") };
  w.ParcoursConfig = config;
  var script = d.createElement("script");
  script.async = true;
  script.src = config.origin + "/widgets/loader.js";
  script.setAttribute("data-parcours", "loader");
  d.head.appendChild(script);
})(window, document);
