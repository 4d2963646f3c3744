// SafeHarbor: registers the service worker (/sw.js, scope "/") on signed-in pages and, when a
// new version of the app has been installed and waits, offers a small "A new version is ready"
// banner with a Reload button. Nothing takes over by itself: the person decides when the page
// reloads.
//
// Built with DOM APIs only and styled with app.css's classes: the CSP allows no inline script
// or style. The offline cache and wipe handling live in app.js and the worker, not here.
(() => {
  "use strict";

  if (!("serviceWorker" in navigator)) return;

  const WORKER_URL = "/sw.js";
  const BANNER_ATTRIBUTE = "data-update-banner";

  let waitingWorker = null; // the installed worker that waits for the person's go-ahead
  let reloadRequested = false;
  let reloading = false;

  function banner() {
    return document.querySelector(`[${BANNER_ATTRIBUTE}]`);
  }

  function buildBanner() {
    const box = document.createElement("div");
    box.className = "alert";
    box.setAttribute("role", "status");
    box.setAttribute(BANNER_ATTRIBUTE, "");
    const text = document.createElement("p");
    text.textContent = "A new version is ready.";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button button-small";
    button.textContent = "Reload";
    button.addEventListener("click", () => takeOver(button));
    box.append(text, button);
    return box;
  }

  // In the page's main column, above its content; htmx's boosted navigations replace the body,
  // so the banner is put back after each one while a worker still waits.
  function showBanner() {
    if (!waitingWorker || banner()) return;
    const main = document.getElementById("app") || document.body;
    main.prepend(buildBanner());
  }

  function offer(worker) {
    waitingWorker = worker;
    showBanner();
  }

  function takeOver(button) {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    reloadRequested = true;
    const worker = waitingWorker;
    if (!worker || worker.state === "activated" || worker.state === "redundant") {
      // Another tab already let it take over: this page only needs the reload.
      reload();
      return;
    }
    worker.postMessage({ type: "SKIP_WAITING" });
  }

  function reload() {
    if (reloading) return;
    reloading = true;
    window.location.reload();
  }

  function watch(registration) {
    // A worker that installed on an earlier visit and still waits.
    if (registration.waiting && navigator.serviceWorker.controller) {
      offer(registration.waiting);
    }
    registration.addEventListener("updatefound", () => {
      const worker = registration.installing;
      if (!worker) return;
      worker.addEventListener("statechange", () => {
        // With no controller this is the very first install, not an update: nothing to offer.
        if (worker.state === "installed" && navigator.serviceWorker.controller) offer(worker);
      });
    });
  }

  // NOTE: the first install also changes the controller (the worker claims open pages); only a
  // change the person asked for reloads the page, and only once.
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    if (reloadRequested) reload();
  });

  document.addEventListener("htmx:afterSettle", showBanner);

  function register() {
    // NOTE: only a signed-in page installs the worker. Signing out and a wipe unregister it
    // (app.js, Clear-Site-Data), and the login or wiped page that follows must not bring it
    // straight back; the next sign-in does.
    if (!document.body.classList.contains("signed-in")) return;
    navigator.serviceWorker.register(WORKER_URL, { scope: "/" })
      .then(watch)
      .catch(() => {
        // No worker (private mode, storage off, an old browser): the app works as a website.
      });
  }

  // After the page has loaded: installing the shell must not compete with the first paint.
  if (document.readyState === "complete") {
    register();
  } else {
    window.addEventListener("load", register, { once: true });
  }
})();
