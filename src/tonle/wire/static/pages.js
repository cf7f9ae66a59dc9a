// Small behaviours shared by the pages (CSP allows no inline script): a Back button that appears only when the
// browser has somewhere to go back to.
(function () {
  document.querySelectorAll("[data-back]").forEach((button) => {
    if (window.history.length > 1) {
      button.hidden = false;
      button.addEventListener("click", () => window.history.back());
    }
  });
})();
