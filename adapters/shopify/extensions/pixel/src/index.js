// Parcours web pixel: turns Shopify's standard customer events into Parcours' canonical events
// (docs/events.md) and posts them in batches to `${settings.endpoint}/collect` as
// {"key": settings.store_key, "events": [...]}.
//
// It runs in Shopify's strict sandbox (a web worker): no DOM; `browser.sendBeacon` runs in the top
// frame, `fetch` with keepalive is the fallback. Event shapes per
// https://shopify.dev/docs/api/web-pixels-api/standard-events. Only ids, amounts, quantities, the
// search query, and page views' referrer (without its query) and utm parameters leave the
// browser: never an email, a phone, a name or an address.
import { register } from "@shopify/web-pixels-extension";

const SOURCE = "shopify_pixel";
const FLUSH_MS = 1000; // events of one page moment go together; checkout_completed goes at once
const MAX_BATCH = 20; // far below /collect's 100 events and 64 KiB, and sendBeacon's quota
const MAX_ID = 255; // the longest identity Parcours accepts

// "gid://shopify/Product/123" -> "123" (the numeric id webhooks carry); a cart id also loses its
// "?key=..." part, a secret that must not travel. Plain ids pass unchanged.
function plainId(value) {
  if (value === null || value === undefined || value === "") return undefined;
  const text = String(value).split("?")[0];
  const id = text.slice(text.lastIndexOf("/") + 1);
  return id && id.length <= MAX_ID ? id : undefined;
}

// MoneyV2.amount is a number; a decimal string is accepted too. Negative or odd values are dropped:
// /collect refuses a whole batch for one bad record.
function amount(money) {
  const value = money ? money.amount : undefined;
  if (typeof value === "number" && isFinite(value) && value >= 0) return String(value);
  return typeof value === "string" && /^\d+(\.\d+)?$/.test(value) ? value : undefined;
}

function currency(code) {
  return typeof code === "string" && /^[A-Za-z]{3}$/.test(code) ? code.toUpperCase() : undefined;
}

function compact(object) {
  const out = {};
  for (const name of Object.keys(object)) {
    if (object[name] !== undefined && object[name] !== null) out[name] = object[name];
  }
  return out;
}

function variantProperties(variant) {
  if (!variant) return {};
  return {
    product_id: plainId(variant.product && variant.product.id),
    variant_id: plainId(variant.id),
    price: amount(variant.price),
    currency: currency(variant.price && variant.price.currencyCode),
  };
}

function checkoutProperties(checkout) {
  const lines = Array.isArray(checkout.lineItems) ? checkout.lineItems : [];
  return {
    total: amount(checkout.totalPrice),
    currency: currency(checkout.currencyCode || (checkout.totalPrice && checkout.totalPrice.currencyCode)),
    item_count: lines.reduce((sum, line) => sum + (Number(line && line.quantity) || 0), 0),
  };
}

register(({ analytics, browser, settings, init }) => {
  const endpoint = String((settings && settings.endpoint) || "").replace(/\/+$/, "");
  const storeKey = settings && settings.store_key;
  if (!/^https?:\/\/[^/]/.test(endpoint) || !storeKey) return;
  const url = endpoint + "/collect";
  let cartToken = plainId(init && init.data && init.data.cart && init.data.cart.id);
  let queue = [];
  let timer = null;

  function send(events) {
    const body = JSON.stringify({ key: storeKey, events: events });
    // text/plain keeps the request CORS-simple (no preflight); /collect reads any content type.
    const viaFetch = () =>
      fetch(url, { method: "POST", body: body, keepalive: true, headers: { "Content-Type": "text/plain" } })
        .catch(() => undefined);
    Promise.resolve()
      .then(() => browser.sendBeacon(url, body))
      .then((queued) => (queued ? undefined : viaFetch()), viaFetch);
  }

  function flush() {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    while (queue.length) send(queue.splice(0, MAX_BATCH));
  }

  function track(event) {
    const data = event.data || {};
    const checkout = data.checkout || null;
    let properties = {};
    if (event.name === "page_viewed") {
      // How the shopper came, for Parcours to derive the channel: the referrer without its query
      // (it may hold the last page's personal data) and the campaign's utm parameters.
      const doc = (event.context && event.context.document) || {};
      const location = doc.location;
      const query = new URLSearchParams((location && location.search) || "");
      properties = {
        path: location ? location.pathname : undefined,
        referrer: typeof doc.referrer === "string" && doc.referrer ? doc.referrer.split("?")[0] : undefined,
        utm_source: query.get("utm_source") || undefined,
        utm_medium: query.get("utm_medium") || undefined,
      };
    } else if (event.name === "product_viewed") {
      properties = variantProperties(data.productVariant);
    } else if (event.name === "collection_viewed") {
      properties = { collection_id: plainId(data.collection && data.collection.id) };
    } else if (event.name === "search_submitted") {
      const query = data.searchResult && data.searchResult.query;
      properties = { query: typeof query === "string" ? query.slice(0, 200) : undefined };
    } else if (event.name === "product_added_to_cart" || event.name === "product_removed_from_cart") {
      const line = data.cartLine;
      properties = line ? { ...variantProperties(line.merchandise), quantity: line.quantity } : {};
    } else if (event.name === "cart_viewed") {
      const cart = data.cart;
      if (cart) {
        cartToken = plainId(cart.id) || cartToken;
        const total = cart.cost && cart.cost.totalAmount;
        properties = { subtotal: amount(total), currency: currency(total && total.currencyCode), item_count: cart.totalQuantity };
      }
    } else if (checkout) {
      properties = checkoutProperties(checkout);
    }
    const orderId = event.name === "checkout_completed" && checkout ? plainId(checkout.order && checkout.order.id) : undefined;
    if (orderId) properties.order_id = orderId;
    const identities = compact({
      anonymous_id: typeof event.clientId === "string" && event.clientId.length <= MAX_ID ? event.clientId : undefined,
      checkout_token: plainId(checkout && checkout.token),
      cart_token: cartToken,
      order_id: orderId,
    });
    if (!Object.keys(identities).length) return; // /collect would refuse the whole batch
    const record = {
      name: event.name,
      occurred_at: typeof event.timestamp === "string" ? event.timestamp : new Date().toISOString(),
      identities: identities,
      properties: compact(properties),
      source: SOURCE,
    };
    if (event.id && String(event.id).length <= 200) record.key = "pixel:" + event.id;
    queue.push(record);
    if (event.name === "checkout_completed" || queue.length >= MAX_BATCH) flush();
    else if (timer === null) timer = setTimeout(flush, FLUSH_MS);
  }

  // Exactly Shopify's standard events that are Parcours' storefront event names (checked by
  // `parcours shopify check-extensions`): one literal subscription each.
  analytics.subscribe("page_viewed", track);
  analytics.subscribe("product_viewed", track);
  analytics.subscribe("collection_viewed", track);
  analytics.subscribe("search_submitted", track);
  analytics.subscribe("product_added_to_cart", track);
  analytics.subscribe("product_removed_from_cart", track);
  analytics.subscribe("cart_viewed", track);
  analytics.subscribe("checkout_started", track);
  analytics.subscribe("checkout_contact_info_submitted", track);
  analytics.subscribe("checkout_address_info_submitted", track);
  analytics.subscribe("checkout_shipping_info_submitted", track);
  analytics.subscribe("payment_info_submitted", track);
  analytics.subscribe("checkout_completed", track);
});
