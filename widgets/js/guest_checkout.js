/* Guest-checkout prompt: "No account needed" beside the checkout button (cart) or at the top of
 * the checkout, where the store lets shoppers check out as guests (facts.guest_checkout, from
 * the platform). Where accounts are required it shows nothing: the merchant's dashboard flags
 * that instead. Both experiment arms report widget_shown (the exposure); holdout shoppers see
 * nothing; a click on checkout after it reports widget_engaged. */
(function (w, d) {
  var P = w.Parcours, k = P && P.kit, c = k && P.config(), NAME = "guest_checkout";
  if (k) k.on(NAME, function () {
    if (c.facts.guest_checkout !== true) return;
    var buttons = d.querySelectorAll(c.storefront.checkout_button), m = k.mount(NAME, buttons[0]);
    if (!m || m.querySelector(".prc-guest")) return;
    var props = k.show(NAME);
    if (props.bucket == "holdout") return;
    m.appendChild(k.el("p", { "class": "prc-guest", role: "note" }, k.t(
      "No account needed: check out as a guest.",
      "Pas besoin de compte : commandez en tant qu\u2019invit\u00e9.")));
    [].forEach.call(buttons, function (b) {
      b.addEventListener("click", function () { k.engaged(props); P.flush(); }, { once: true });
    });
  });
})(window, document);
