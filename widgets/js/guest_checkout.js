/* Guest-checkout prompt: "No account needed" beside the cart's checkout button, where the store
 * lets shoppers check out as guests (facts.guest_checkout, from the platform). Where accounts are
 * required it shows nothing: the merchant's dashboard flags that instead.
 * Experiment: a shopper in the widget's holdout sees nothing; both arms report widget_shown
 * with their bucket (the exposure), and a click on checkout after it reports widget_engaged. */
(function (w, d) {
  var P = w.Parcours, c = P && P.config(), NAME = "guest_checkout";
  if (!c || !c.facts || c.facts.guest_checkout !== true) return;
  var button = d.querySelector("[name=checkout],.checkout-button,a[href$='/checkout'],[data-parcours-checkout]");
  if (!button || d.querySelector(".prc-guest")) return;
  var arm = P.bucket(NAME), props = { widget: NAME, bucket: arm, page: c.page };
  P.track("widget_shown", props);
  if (arm == "holdout") return;
  var fr = c.lang == "fr", note = d.createElement("p");
  note.className = "prc-guest";
  note.setAttribute("role", "note");
  note.textContent = fr ? "Pas besoin de compte : commandez en tant qu\u2019invit\u00e9." : "No account needed: check out as a guest.";
  note.style.cssText = "margin:.5em 0 0;font-size:.9em";
  button.insertAdjacentElement("afterend", note);
  button.addEventListener("click", function () { P.track("widget_engaged", props); P.flush(); }, { once: true });
})(window, document);
