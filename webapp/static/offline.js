// SafeHarbor offline store: today's appointments and their client cards, encrypted on the phone.
//
// The design (SECURITY.md, "The offline store"):
// - the key is the device's cache key, fetched from /devices/cache-key only right after a
//   user-verified unlock, imported as a non-extractable AES-GCM CryptoKey and held in this
//   script's memory only: never written to any storage, dropped on lock, logout and wipe;
// - the copy (/devices/offline-copy) is the agent's own pages as rendered online, so it holds
//   exactly what the role may see; each page is sealed with AES-GCM (random 96-bit IV, the device
//   id and the page's path as associated data) and only the ciphertext goes to IndexedDB;
// - when a navigation fails for want of a network, the page is opened from the store, under an
//   "offline" banner; a restarted app has no key, so the copy stays sealed until it is online
//   and unlocked again; after the agency's offline limit the store is deleted.
(() => {
  "use strict";

  const DB_NAME = "safeharbor-offline";
  const DB_VERSION = 1;
  const PAGES = "pages";
  const META = "meta";
  const KEY_URL = "/devices/cache-key";
  const COPY_URL = "/devices/offline-copy";
  const REFRESH_EVERY_MS = 2 * 60 * 1000;
  const EXPIRY_CHECK_MS = 60 * 1000;
  const BACKGROUND = { Accept: "application/json", "X-Background": "1" };

  let key = null; // CryptoKey (non-extractable) or null: the only copy is this variable
  let deviceId = null;
  let limitSeconds = 0;
  let lastRefreshAt = 0;
  let refreshing = null;

  // data-offline-store: absent (not an agent, or not an approved device), "sealed" (keep the
  // copy, no key until the next unlock) or "key" (the server hands the key out now).
  const enabled = () => document.body.hasAttribute("data-offline-store");
  const keyOffered = () => document.body.dataset.offlineStore === "key";

  // ---------------------------------------------------------------- IndexedDB, one op at a time
  // Each operation opens and closes its own connection, so a wipe's deleteDatabase() is never
  // left waiting on a connection this script forgot to close.

  function openStore() {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        if (!db.objectStoreNames.contains(PAGES)) db.createObjectStore(PAGES, { keyPath: "path" });
        if (!db.objectStoreNames.contains(META)) db.createObjectStore(META, { keyPath: "name" });
      };
      request.onsuccess = () => {
        const db = request.result;
        db.onversionchange = () => db.close();
        resolve(db);
      };
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error("offline store blocked"));
    });
  }

  async function withStore(mode, work) {
    const db = await openStore();
    try {
      return await new Promise((resolve, reject) => {
        const tx = db.transaction([PAGES, META], mode);
        let result;
        Promise.resolve(work(tx.objectStore(PAGES), tx.objectStore(META)))
          .then((value) => { result = value; }, reject);
        tx.oncomplete = () => resolve(result);
        tx.onerror = tx.onabort = () => reject(tx.error);
      });
    } finally {
      db.close();
    }
  }

  const requestValue = (request) => new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });

  function deleteStore() {
    return new Promise((resolve) => {
      const request = indexedDB.deleteDatabase(DB_NAME);
      request.onsuccess = request.onerror = request.onblocked = () => resolve();
    });
  }

  // Opening a database creates it: look before reading, so a page after a wipe or a logout
  // does not bring an empty store back.
  async function storeExists() {
    if (typeof indexedDB.databases !== "function") return true;
    const databases = await indexedDB.databases();
    return databases.some((db) => db.name === DB_NAME);
  }

  async function readMeta() {
    try {
      if (!(await storeExists())) return undefined;
      return await withStore("readonly", (_pages, meta) => requestValue(meta.get("copy")));
    } catch {
      return undefined;
    }
  }

  // ---------------------------------------------------------------- sealing

  const encoder = new TextEncoder();
  const decoder = new TextDecoder();

  function associatedData(path) {
    return encoder.encode(`safeharbor-offline|${deviceId}|${path}`);
  }

  async function seal(path, page) {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const plaintext = encoder.encode(JSON.stringify(page));
    const ciphertext = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: associatedData(path) }, key, plaintext);
    return { path, iv, ciphertext };
  }

  // Throws if the record was altered, moved to another path or sealed under another key.
  async function unseal(record) {
    const plaintext = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: record.iv, additionalData: associatedData(record.path) },
      key, record.ciphertext);
    return JSON.parse(decoder.decode(plaintext));
  }

  function base64urlBytes(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "="));
    return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  }

  // ---------------------------------------------------------------- the key

  let inflight = null; // AbortController of the refresh under way

  function dropKey() {
    if (inflight) inflight.abort(); // a logout or lock must not race a refresh to the server
    inflight = null;
    key = null;
    deviceId = null;
    limitSeconds = 0;
  }

  async function fetchKey(signal) {
    const response = await fetch(KEY_URL, {
      credentials: "same-origin", headers: BACKGROUND, signal,
    });
    if (!response.ok) return null; // locked (no recent unlock), pending, wiped: no key
    const body = await response.json();
    const raw = base64urlBytes(body.key);
    try {
      const imported = await crypto.subtle.importKey(
        "raw", raw, { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
      return { key: imported, deviceId: body.device_id, limitSeconds: body.offline_limit_seconds };
    } finally {
      raw.fill(0); // the raw bytes go no further than the import
    }
  }

  // ---------------------------------------------------------------- keeping the copy fresh

  function pageParts(html) {
    const doc = new DOMParser().parseFromString(html, "text/html");
    const main = doc.getElementById("app");
    const heading = doc.querySelector(".top-bar h1");
    return {
      title: doc.title,
      heading: heading ? heading.textContent : "",
      main: main ? main.innerHTML : "",
    };
  }

  async function refreshCopy() {
    if (!enabled() || !navigator.onLine || !window.crypto || !crypto.subtle) return;
    const controller = new AbortController();
    inflight = controller;
    if (!key) {
      if (!keyOffered()) return;
      const issued = await fetchKey(controller.signal);
      if (!issued || controller.signal.aborted) return;
      ({ key, deviceId, limitSeconds } = issued);
    }
    const response = await fetch(COPY_URL, {
      credentials: "same-origin", headers: BACKGROUND, signal: controller.signal,
    });
    if (!response.ok || !key || controller.signal.aborted) return;
    const copy = await response.json();
    if (copy.device_id !== deviceId) return;
    const records = await Promise.all(
      copy.pages.map((page) => seal(page.path, pageParts(page.html))));
    if (controller.signal.aborted) return; // dropped while sealing: nothing may be written
    await withStore("readwrite", (pages, meta) => {
      pages.clear();
      for (const record of records) pages.put(record);
      meta.put({ name: "copy", deviceId, savedAt: Date.now(), limitSeconds });
    });
    lastRefreshAt = Date.now();
    document.documentElement.dataset.offlineCopySavedAt = String(lastRefreshAt);
  }

  function refreshSoon({ force = false } = {}) {
    if (!enabled() || refreshing) return;
    if (!force && Date.now() - lastRefreshAt < REFRESH_EVERY_MS) return;
    refreshing = refreshCopy()
      .catch(() => {}) // a failed refresh keeps the previous copy; it is retried later
      .finally(() => { refreshing = null; });
  }

  // After the agency's offline limit, the copy goes, key or no key.
  async function expireOldCopy() {
    const meta = await readMeta();
    if (meta && meta.limitSeconds && Date.now() - meta.savedAt > meta.limitSeconds * 1000) {
      await deleteStore();
      return true;
    }
    return false;
  }

  // ---------------------------------------------------------------- offline rendering

  function banner(message) {
    let element = document.querySelector("[data-offline-banner]");
    if (!element) {
      element = document.createElement("p");
      element.className = "alert alert-warning offline-banner";
      element.setAttribute("role", "status");
      element.setAttribute("data-offline-banner", "");
      document.getElementById("app").before(element);
    }
    element.textContent = message;
  }

  function clearBanner() {
    const element = document.querySelector("[data-offline-banner]");
    if (element) element.remove();
  }

  function markCurrentNav(path) {
    for (const link of document.querySelectorAll(".bottom-nav a")) {
      const href = link.getAttribute("href");
      const here = path === href || (href !== "/" && path.startsWith(`${href}/`));
      if (here) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  function savedAtText(savedAt) {
    return new Date(savedAt).toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
  }

  async function openFromStore(path) {
    if (!key) {
      banner("You're offline. The copy on this phone needs a connection to unlock.");
      return false;
    }
    if (await expireOldCopy()) {
      banner("You're offline, and the copy on this phone was too old to keep: it was deleted.");
      return false;
    }
    let record;
    let page;
    try {
      if (!(await storeExists())) throw new Error("no offline store");
      record = await withStore("readonly", (pages) => requestValue(pages.get(path)));
      page = record ? await unseal(record) : null;
    } catch {
      page = null;
    }
    if (!page) {
      banner("You're offline, and this page is not in the copy on this phone.");
      return false;
    }
    const meta = await readMeta();
    const app = document.getElementById("app");
    app.innerHTML = page.main; // our own server's page for this role, as it was rendered online
    const heading = document.querySelector(".top-bar h1");
    if (heading) heading.textContent = page.heading;
    document.title = page.title;
    if (location.pathname !== path) history.pushState({ offline: true }, "", path);
    markCurrentNav(path);
    if (window.htmx) window.htmx.process(app);
    app.setAttribute("data-offline-copy", "");
    banner(`Offline: the copy saved at ${savedAtText(meta ? meta.savedAt : Date.now())}. ` +
      "Changes need a connection.");
    return true;
  }

  function requestPath(detail) {
    const config = detail.requestConfig || {};
    try {
      return new URL(config.path || "", location.href).pathname;
    } catch {
      return null;
    }
  }

  function onSendError(event) {
    if (!enabled()) return;
    const config = event.detail.requestConfig || {};
    if (String(config.verb || "").toLowerCase() !== "get") {
      banner("You're offline: that change was not sent. Try again when you have a connection.");
      return;
    }
    const path = requestPath(event.detail);
    if (path) openFromStore(path);
  }

  // ---------------------------------------------------------------- wiring

  function start() {
    if (!window.indexedDB) return;
    document.addEventListener("htmx:sendError", onSendError);
    document.addEventListener("htmx:afterSettle", () => {
      if (!navigator.onLine) return;
      const app = document.getElementById("app");
      if (app) app.removeAttribute("data-offline-copy");
      clearBanner();
      if (location.pathname === "/") refreshSoon();
    });
    window.addEventListener("offline", () => {
      if (enabled()) banner("You're offline. Today's clients open from the copy on this phone.");
    });
    window.addEventListener("online", () => {
      if (enabled()) banner("Back online.");
    });
    // Lock, logout and wipe: the key leaves memory at once (the wipe deletes the store too).
    for (const name of ["safeharbor:locked", "safeharbor:forget", "safeharbor:wiped"]) {
      window.addEventListener(name, () => {
        dropKey();
        // Not again from this document: the unlock reloads the page, which says anew.
        if (enabled()) document.body.dataset.offlineStore = "sealed";
      });
    }
    setInterval(() => { expireOldCopy().catch(() => {}); }, EXPIRY_CHECK_MS);
    expireOldCopy()
      .catch(() => false)
      .then(() => refreshSoon({ force: true }));
  }

  // For the browser tests: whether a key is held, without ever exposing it.
  window.SafeHarbor = Object.assign(window.SafeHarbor || {}, {
    offlineKeyHeld: () => key !== null,
    refreshOfflineCopy: () => refreshCopy(),
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start, { once: true });
  } else {
    start();
  }
})();
