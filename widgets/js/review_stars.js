/* Review stars: the product's rating and review count under its title, linking to the list,
 * and the schema.org rating for search engines (JSON-LD Product with AggregateRating and
 * Review): added to the page's own Product when it has one without a rating, else as a new
 * Product. Every published review counts, whatever its rating; review text is the shoppers'
 * and only ever set as text. A mount the platform already filled (Shopify renders the stars
 * from metafields, without a script) is left as it is. */
(function (w, d) {
  var P = w.Parcours, k = P && P.kit, c = k && P.config(), NAME = "review_stars";
  if (k) k.on(NAME, function () {
    var s = c.storefront, m = k.mount(NAME, d.querySelector(s.title));
    var product = (c.product || {}).id || (m && m.getAttribute("data-product-id"));
    if (!m || !product || !s.reviews) return;
    var props = k.show(NAME);
    if (props.bucket == "holdout") return;
    var per = (c.widgets.review_list || {}).per_page || 5;
    k.call({ url: s.reviews, query: { page: "1", per_page: String(per) } }, { product: product }).then(function (body) {
      var r = body.rating;
      if (!r.count) return;
      if (!m.children.length) {
        var n = Math.round(r.average), a = k.el("a", { href: "#prc-reviews" }, " " + r.count + " " + k.t(r.count > 1 ? "reviews" : "review", "avis"));
        m.appendChild(k.el("span", { "class": "prc-stars", role: "img", "aria-label": k.t("Rated ", "Note : ") + k.num(r.average) + k.t(" out of 5", " sur 5") }, "\u2605\u2605\u2605\u2605\u2605".slice(0, n) + "\u2606\u2606\u2606\u2606\u2606".slice(n)));
        m.appendChild(a);
        a.addEventListener("click", function () { k.engaged(props); });
      }
      if (!s.json_ld) return;
      var rating = { "@type": "AggregateRating", ratingValue: r.average, reviewCount: r.count, bestRating: 5, worstRating: 1 };
      var reviews = body.reviews.map(function (x) {
        return { "@type": "Review", name: x.title || undefined, reviewBody: x.body, datePublished: x.created_at.slice(0, 10),
          author: { "@type": "Person", name: x.author || k.t("Customer", "Client") },
          reviewRating: { "@type": "Rating", ratingValue: x.rating, bestRating: 5, worstRating: 1 } };
      });
      var found, tag, nodes = d.querySelectorAll('script[type="application/ld+json"]');
      [].forEach.call(nodes, function (node) {
        try {
          var data = JSON.parse(node.textContent);
          [].concat(data["@graph"] || data).forEach(function (x) {
            if (!found && x && x["@type"] == "Product") { found = x; tag = [node, data]; }
          });
        } catch (e) { /* not ours to fix */ }
      });
      if (found && found.aggregateRating) return;
      if (!found) {
        found = { "@context": "https://schema.org", "@type": "Product", name: ((d.querySelector(s.title) || {}).textContent || d.title).trim() };
        tag = [k.el("script", { type: "application/ld+json" }), found];
        d.head.appendChild(tag[0]);
      }
      found.aggregateRating = rating;
      found.review = reviews;
      tag[0].textContent = JSON.stringify(tag[1]);
    }, function () {});
  });
})(window, document);
