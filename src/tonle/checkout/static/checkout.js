// The hosted checkout page: a countdown to expiry, and the payment noticed live through server-sent events.
(function () {
  const root = document.getElementById("checkout");
  if (!root) return;
  const expires = Number(root.dataset.expires);
  const countdown = document.getElementById("countdown");
  const status = document.getElementById("status");
  const texts = JSON.parse(root.dataset.texts);

  function tick() {
    const left = Math.max(0, Math.floor((expires - Date.now()) / 1000));
    const m = String(Math.floor(left / 60)).padStart(2, "0");
    const s = String(left % 60).padStart(2, "0");
    if (countdown) countdown.textContent = m + ":" + s;
    if (left === 0 && root.dataset.state === "pending") show("expired", texts.expired);
  }

  function show(state, text) {
    root.dataset.state = state;
    status.textContent = text;
    status.className = "status " + (state === "success" ? "ok" : state === "expired" ? "bad" : "");
    if (state !== "pending") document.querySelectorAll(".pay-options").forEach((el) => (el.hidden = true));
  }

  setInterval(tick, 1000);
  tick();

  const events = new EventSource(root.dataset.events);
  events.addEventListener("status", (msg) => {
    const data = JSON.parse(msg.data);
    if (data.status === "success") {
      events.close();
      show("success", texts.success);
      if (data.redirect) setTimeout(() => (window.location.href = data.redirect), 1500);
    } else if (data.status === "expired") {
      events.close();
      show("expired", texts.expired);
    }
  });
})();
