/* Express pay: the fastest way to pay this store offers, on product and cart pages.
 *
 * A product goes straight to checkout (storefront.buy_now: Shopify's cart permalink,
 * WooCommerce's add-to-cart link), where the wallets show; the cart goes to checkout. The label
 * names only the wallets the store offers (facts.wallets) that this device can use: Apple Pay
 * where ApplePaySession says so, Google Pay where the Payment Request API exists, Shop Pay
 * anywhere. Where the theme already shows the platform's own express buttons
 * (storefront.native_express), it stays out: never two sets of buttons. */
(function (w, d) {
  var P = w.Parcours, k = P && P.kit, c = k && P.config(), NAME = "express_pay";
  if (k) k.on(NAME, function () {
    var s = c.storefront, product = c.page == "product", path = product ? s.buy_now : s.checkout;
    if (!path || (s.native_express && d.querySelector(s.native_express))) return;
    var names = [], label = { shopify_pay: "Shop Pay", shop_pay: "Shop Pay", apple_pay: "Apple Pay",
      google_pay: "Google Pay", android_pay: "Google Pay" };
    c.facts.wallets.forEach(function (x) {
      var apple = x == "apple_pay", google = /google|android/.test(x);
      try {
        if (apple && !(w.ApplePaySession && ApplePaySession.canMakePayments())) return;
      } catch (e) { return; }
      if (google && !w.PaymentRequest) return;
      if (label[x] && names.indexOf(label[x]) < 0) names.push(label[x]);
    });
    var field = s.variant && d.querySelector(s.variant), anchor = product ? field && field.form
      : d.querySelector(s.checkout_button);
    var m = names.length && k.mount(NAME, anchor);
    if (!m || m.querySelector(".prc-btn")) return;
    var props = k.show(NAME);
    if (props.bucket == "holdout") return;

    function href() {
      return k.fill(path, Object.assign({}, c.endpoints, { variant: k.variant(), quantity: k.quantity() }), 1);
    }
    var a = k.el("a", { "class": "prc-btn", href: href() }, (product ? k.t("Buy now with ", "Acheter avec ") : k.t("Check out with ", "Payer avec ")) + names.join(" \u00b7 "));
    a.addEventListener("click", function () {
      a.href = href(); // the variant or quantity may have changed since
      k.engaged(props, { wallets: names });
      P.flush();
    });
    m.appendChild(a);
  });
})(window, document);
