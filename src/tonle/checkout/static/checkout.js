// The hosted checkout page: a countdown to expiry, the payment noticed live through server-sent events, and the
// receipt's short pause before it returns the customer to the merchant.
(function () {
  const root = document.getElementById("checkout");
  if (!root) return;

  // The receipt of a payment this page just watched: go back to the merchant after a moment (the button is there
  // for whoever is quicker).
  if (root.dataset.redirect) {
    setTimeout(() => window.location.assign(root.dataset.redirect), 2500);
    return;
  }
  if (root.dataset.state !== "pending") return;

  const expires = Number(root.dataset.expires);
  const countdown = document.getElementById("countdown");
  const status = document.getElementById("status");
  const texts = JSON.parse(root.dataset.texts);

  function reloadAs(extra) {
    const url = new URL(window.location.href);
    url.searchParams.set("lang", root.dataset.lang || "km");
    Object.entries(extra).forEach(([k, v]) => url.searchParams.set(k, v));
    window.location.replace(url.toString());
  }

  function tick() {
    const left = Math.max(0, Math.floor((expires - Date.now()) / 1000));
    const m = String(Math.floor(left / 60)).padStart(2, "0");
    const s = String(left % 60).padStart(2, "0");
    if (countdown) countdown.textContent = m + ":" + s;
    if (left === 0 && root.dataset.state === "pending") {
      root.dataset.state = "expired";
      status.textContent = texts.expired;
      status.className = "badge bad";
      setTimeout(() => reloadAs({}), 1500);
    }
  }

  setInterval(tick, 1000);
  tick();

  const events = new EventSource(root.dataset.events);
  events.addEventListener("status", (msg) => {
    const data = JSON.parse(msg.data);
    if (data.status === "success") {
      events.close();
      root.dataset.state = "success";
      status.textContent = texts.success;
      status.className = "badge ok";
      reloadAs({ paid: "1" }); // the receipt
    } else if (data.status === "expired") {
      events.close();
      reloadAs({});
    }
  });
})();
