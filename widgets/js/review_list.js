/* Review list: the product's published reviews, newest first, a page at a time, each with its
 * stars, title, text, photos (thumbnails linking to the full photo), author, "verified buyer"
 * badge (buyers asked after an order only; others say nothing), date and the merchant's reply.
 * Every review is listed whatever its rating. Review text is untrusted: only ever set as text.
 * When the store takes reviews from anyone, a "Write a review" link leads to its hosted page.
 * Changing page is announced (aria-live) and reports widget_engaged. */
(function (w, d) {
  var P = w.Parcours, k = P && P.kit, c = k && P.config(), NAME = "review_list";
  if (k) k.on(NAME, function () {
    var s = c.storefront, t = k.t, m = k.mount(NAME, d.querySelector("main") && d.querySelector("main").lastElementChild);
    var product = (c.product || {}).id || (m && m.getAttribute("data-product-id"));
    if (!m || !product || !s.reviews || m.querySelector(".prc-reviews")) return;
    var props = k.show(NAME);
    if (props.bucket == "holdout") return;
    var box = k.el("section", { "class": "prc-reviews", id: "prc-reviews", "aria-labelledby": "prc-reviews-h" });
    var list = k.el("div", { "aria-live": "polite" }), nav = k.el("nav", { "aria-label": t("Review pages", "Pages d\u2019avis") });
    var per = (c.widgets[NAME] || {}).per_page || 5, wr;
    box.appendChild(k.el("h2", { id: "prc-reviews-h" }, t("Customer reviews", "Avis clients")));
    box.appendChild(list);
    box.appendChild(nav);

    function stars(n) {
      return k.el("span", { "class": "prc-stars", role: "img", "aria-label": n + t(" out of 5 stars", " \u00e9toiles sur 5") },
        "\u2605\u2605\u2605\u2605\u2605".slice(0, n) + "\u2606\u2606\u2606\u2606\u2606".slice(n));
    }

    function button(text, page, body) {
      var b = k.el("button", { type: "button" }, text);
      b.disabled = page < 1 || page > body.pages;
      b.addEventListener("click", function () { k.engaged(props, { page: page }); load(page); });
      nav.appendChild(b);
    }

    function load(page) {
      k.call({ url: s.reviews, query: { page: String(page), per_page: String(per) } }, { product: product }).then(function (body) {
        list.textContent = "";
        nav.textContent = "";
        if (body.write && !wr) box.appendChild(wr = k.el("a", { href: c.origin + body.write + t("?lang=en", "?lang=fr") +
          "&back=" + encodeURIComponent(location.href) }, t("Write a review", "Donner mon avis")));
        if (!body.rating.count) return list.appendChild(k.el("p", { "class": "prc-muted" }, t("No reviews yet.", "Pas encore d\u2019avis.")));
        list.appendChild(k.el("p", {}, k.num(body.rating.average) + t(" out of 5, ", " sur 5, ") + body.rating.count + " " + t(body.rating.count > 1 ? "reviews" : "review", "avis")));
        body.reviews.forEach(function (r) {
          var who = r.author || t("Customer", "Client"), a = k.el("article", { "class": "prc-review" }),
            by = k.el("p", { "class": "prc-muted" }, who + " \u00b7 " + k.date(r.created_at));
          a.appendChild(stars(r.rating));
          if (r.title) a.appendChild(k.el("strong", {}, " " + r.title));
          a.appendChild(k.el("p", {}, r.body));
          (r.photos || []).forEach(function (p) { // thumbnails of the full photo, each its link
            a.appendChild(k.el("a", { href: c.origin + p })).appendChild(k.el("img", { src: c.origin + p,
              loading: "lazy", width: 64, height: 64, alt: t("Photo from ", "Photo de ") + who }));
          });
          if (r.verified) by.appendChild(k.el("span", {}, " \u00b7 " + t("Verified buyer", "Achat v\u00e9rifi\u00e9")));
          a.appendChild(by);
          if (r.reply) a.appendChild(k.el("blockquote", {}, t("Reply from the shop: ", "R\u00e9ponse de la boutique : ") + r.reply));
          list.appendChild(a);
        });
        if (body.pages > 1) {
          button(t("Previous", "Pr\u00e9c\u00e9dents"), body.page - 1, body);
          nav.appendChild(k.el("span", {}, " " + t("Page ", "Page ") + body.page + " / " + body.pages + " "));
          button(t("Next", "Suivants"), body.page + 1, body);
        }
      }, function () { list.textContent = t("Reviews are unavailable for now.", "Les avis sont indisponibles pour le moment."); });
    }
    m.appendChild(box);
    load(1);
  });
})(window, document);
