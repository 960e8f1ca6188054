/* Early shipping cost: what delivery costs, before checkout (most shoppers who leave at
 * checkout do so over costs they saw too late).
 *
 * Product page: "Delivery from 4.90 · free from 60.00" at once, from the zone summary
 * in the config (config.shipping), then an optional country + postcode estimate through the
 * platform's route (storefront.estimate: Shopify's app proxy, the WordPress plugin's route,
 * Parcours' own for custom shops). Cart page: the cart's subtotal (storefront.cart), how much is
 * left for free delivery with a progress bar, and the platform's own cart estimate
 * (storefront.cart_rates). Results are announced (aria-live); prices are Intl-formatted in the
 * page's locale. Asking for an estimate reports shipping_estimate_requested. */
(function (w, d) {
  var P = w.Parcours, k = P && P.kit, c = k && P.config(), NAME = "shipping_estimate";
  if (k) k.on(NAME, function () {
    var s = c.storefront, t = k.t, cart = c.page == "cart", sum = c.shipping, spec = cart ? s.cart_rates : s.estimate;
    var field = s.variant && d.querySelector(s.variant);
    var m = k.mount(NAME, cart ? d.querySelector(s.checkout_button) : field && field.form);
    if (!m || m.querySelector(".prc-ship")) return;
    var country = (m.getAttribute("data-country") || c.country || (navigator.language || "").split("-")[1] || "").toUpperCase();
    var price = +((c.product || {}).price || m.getAttribute("data-price")) || 0, subtotal = null;
    var regions, named = false; // country names once the shopper opens the form (costly locale data)

    function region(cc) {
      try {
        return (regions = regions || new Intl.DisplayNames([c.locale, "en"], { type: "region" })).of(cc);
      } catch (e) { return cc; }
    }

    // The zone summary that applies: the first naming the country, else the rest of the world.
    function zone(cc) {
      var z = sum && sum.currency == c.currency ? sum.zones : [];
      return z.filter(function (x) { return x.countries.indexOf(cc) > -1; })[0] ||
        z.filter(function (x) { return x.countries.indexOf("*") > -1; })[0];
    }

    var props = k.show(NAME);
    if (props.bucket == "holdout") return;
    var line = k.el("p", { "class": "prc-ship", style: "min-height:1.5em" }), bar = k.el("progress", { "aria-label": t("Towards free delivery", "Vers la livraison offerte") });
    var out = k.el("div", { "aria-live": "polite" }), form = k.el("form", { hidden: "" });
    var toggle = k.el("button", { type: "button", "aria-expanded": "false" }, t("Estimate for my address", "Estimer pour mon adresse"));

    function say(text) { // "France: delivery from…" once the shopper chose, else "Delivery from…"
      line.textContent = named ? region(country) + t(": ", " : ") + text : text.charAt(0).toUpperCase() + text.slice(1);
    }

    function render() {
      var z = zone(country), free = z && z.free_from != null ? +z.free_from : null;
      bar.style.visibility = "hidden"; // keeps its place: nothing moves when it shows
      if (!z || (cart && s.cart && subtotal == null)) return (line.textContent = ""); // one change, not two
      if (cart && subtotal != null && free) {
        var left = free - subtotal;
        bar.max = free;
        bar.value = Math.min(subtotal, free);
        bar.style.visibility = "";
        return say(left > 0 ? t("add ", "plus que ") + k.money(left) + t(" for free delivery", " pour la livraison offerte")
          : t("free delivery", "livraison offerte"));
      }
      say(free === 0 || (free && (cart ? subtotal : price) >= free) ? t("free delivery", "livraison offerte")
        : t("delivery", "livraison") + (z.from ? t(" from ", " \u00e0 partir de ") + k.money(z.from) : "") +
        (free ? " \u00b7 " + t("free from ", "offerte d\u00e8s ") + k.money(free) : ""));
    }

    function label(text, input) {
      var l = k.el("label", {}, text + " ");
      l.appendChild(input);
      form.appendChild(l);
      return input;
    }
    var id = "prc-" + Math.random().toString(36).slice(2);
    var select = label(t("Country", "Pays"), k.el("select", { name: "country", autocomplete: "country", id: id }));
    var postcode = label(t("Postcode", "Code postal"), k.el("input", { name: "postcode", autocomplete: "postal-code", maxlength: "16", size: "8" }));
    form.appendChild(k.el("button", { type: "submit" }, t("Estimate", "Estimer")));

    toggle.addEventListener("click", function () {
      var opening = form.hidden;
      form.hidden = !opening;
      out.style.minHeight = opening ? "4.5em" : ""; // room for the answer: nothing moves when it comes
      toggle.setAttribute("aria-expanded", String(opening));
      if (opening && !named) { // the countries the store ships to, named in the page's language
        named = true;
        ((sum ? sum.countries : []).indexOf(country) < 0 ? [country] : []).concat(sum ? sum.countries : []).forEach(function (cc) {
          if (cc) select.appendChild(k.el("option", { value: cc }, region(cc)));
        });
        select.value = country;
        render();
        k.engaged(props);
      }
      if (opening) select.focus();
    });

    form.addEventListener("submit", function (e) {
      e.preventDefault();
      country = select.value;
      render();
      out.textContent = t("Estimating\u2026", "Calcul en cours\u2026");
      P.track("shipping_estimate_requested", { widget: NAME, country: country, page: c.page });
      var qty = k.quantity(), ask = { country: country, postcode: postcode.value.trim(), variant: k.variant(), quantity: qty,
        price: (price * qty).toFixed(2), subtotal: subtotal };
      // On the cart, after the cart's answer: it carries what the estimate call needs (a nonce).
      ready.then(function () { return k.call(spec, ask); })
        .then(function (body) {
          var list = k.pick(body, spec.list) || [], ul = k.el("ul");
          out.textContent = list.length ? "" : t("No delivery to this address.", "Pas de livraison \u00e0 cette adresse.");
          list.forEach(function (r) {
            var minor = typeof spec.minor == "string" ? +k.pick(r, spec.minor) : spec.minor || 0, p = +r.price / Math.pow(10, minor);
            ul.appendChild(k.el("li", {}, (r.name || r.label) + t(": ", " : ") + (p ? k.money(p, r.currency_code || r.currency) : t("free", "offerte"))));
          });
          if (list.length) out.appendChild(ul);
        }, function (err) {
          out.textContent = err.status >= 400 && err.status < 500 ? t("Check the country and the postcode.", "V\u00e9rifiez le pays et le code postal.")
            : t("The estimate is unavailable; please try again.", "Estimation indisponible ; r\u00e9essayez.");
        });
    });

    (cart ? [line, bar, toggle, form, out] : [line, toggle, form, out]).forEach(function (x) { m.appendChild(x); });
    render();
    var ready = cart && s.cart ? k.call(s.cart).then(function (body) {
      var minor = typeof s.cart.minor == "string" ? +k.pick(body, s.cart.minor) : s.cart.minor || 0;
      subtotal = +k.pick(body, s.cart.subtotal) / Math.pow(10, minor);
      render();
    }, function () {}) : Promise.resolve();
  });
})(window, document);
