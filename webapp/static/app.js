// SafeHarbor page script: CSRF for htmx and fetch, passkey ceremonies, idle lock, privacy blur,
// and the local-data wipe used at logout and on a wiped device. (The encrypted offline store is
// offline.js; the service worker's registration and updates are pwa.js.)
//
// The page runs under a nonce-based CSP without 'unsafe-inline' or 'unsafe-eval', so nothing here
// evaluates strings, writes inline styles or relies on inline handlers: every behaviour is bound
// by event delegation on `document`, which also keeps it working after htmx swaps.
(() => {
  "use strict";

  const LOGIN_PATH = "/login";
  const CANCELLED = "The passkey prompt was cancelled or timed out. Try again.";
  const UNREACHABLE = "Couldn't reach SafeHarbor. Check your connection and try again.";
  const SERVER_TROUBLE = "Something went wrong on our side. Try again.";
  const PASSKEY_TROUBLE = "Something went wrong with the passkey. Try again.";
  const ACTIVITY_EVENTS = ["pointerdown", "keydown", "touchstart", "wheel", "scroll"];
  // A swap that changes the page height makes the browser scroll by itself; that is not a person.
  const SWAP_SCROLL_GRACE_MS = 1000;
  const WIPE_TIMEOUT_MS = 2000;
  const BACKGROUND_HEADER = "X-Background";

  let lastActivityAt = Date.now();
  let lastSwapAt = 0;
  let locked = false;
  let autofill = null; // AbortController of the pending conditional-mediation get()

  // ---------------------------------------------------------------- CSRF

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  // NOTE: the server counts a request as the person's activity (postponing its idle lock)
  // unless it carries X-Background. Only a real click, key or submit is a person; polling,
  // "load" and "revealed" triggers are not.
  function prepareHtmxRequest(event) {
    const headers = event.detail.headers;
    headers["X-CSRFToken"] = csrfToken();
    const trigger = event.detail.triggeringEvent;
    if (!(trigger && trigger.isTrusted)) headers[BACKGROUND_HEADER] = "1";
  }

  // ---------------------------------------------------------------- server replies

  class NetworkFailure extends Error {
    constructor() {
      super(UNREACHABLE);
      this.name = "NetworkFailure";
    }
  }

  function triggerNames(headerValue) {
    if (!headerValue) return [];
    const text = headerValue.trim();
    if (text.startsWith("{")) {
      try {
        return Object.keys(JSON.parse(text));
      } catch {
        return [];
      }
    }
    return text.split(",").map((name) => name.trim());
  }

  // Returns true when the page is about to leave (so callers stop touching the DOM).
  function followSessionSignals(status, data, hxTrigger) {
    const names = triggerNames(hxTrigger);
    if (status === 410 && data && data.wiped === true) {
      // The device was wiped: the wiped page finishes the job and confirms it.
      location.assign("/");
      return true;
    }
    const ended = status === 401 || names.includes("session-ended");
    if (ended && location.pathname !== LOGIN_PATH) {
      location.assign(LOGIN_PATH);
      return true;
    }
    if (status === 423 || (data && data.locked === true) || names.includes("session-locked")) {
      showLock();
    }
    return false;
  }

  async function postJSON(url, payload, { signal, background = false } = {}) {
    const headers = {
      "Content-Type": "application/json",
      Accept: "application/json",
      "X-CSRFToken": csrfToken(),
    };
    if (background) headers[BACKGROUND_HEADER] = "1";
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers,
        body: JSON.stringify(payload),
        signal,
      });
    } catch (error) {
      if (error && error.name === "AbortError") throw error;
      throw new NetworkFailure();
    }
    let data = {};
    try {
      data = await response.json();
    } catch {
      data = {}; // an HTML error page or an empty body: judged by the status alone
    }
    const leaving = followSessionSignals(
      response.status, data, response.headers.get("HX-Trigger"));
    return { ok: response.ok, status: response.status, data: data || {}, leaving };
  }

  function refusalText(reply) {
    if (reply.data && typeof reply.data.error === "string" && reply.data.error) {
      return reply.data.error;
    }
    return SERVER_TROUBLE;
  }

  // NOTE: only same-origin redirects are followed, so a tampered reply can't send a
  // signed-in person to a look-alike site.
  function goTo(target) {
    const url = new URL(target, location.href);
    location.assign(url.origin === location.origin ? url.href : "/");
  }

  // ---------------------------------------------------------------- base64url

  function bufferToBase64url(buffer) {
    const bytes = ArrayBuffer.isView(buffer)
      ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
      : new Uint8Array(buffer);
    let binary = "";
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function base64urlToBuffer(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "="));
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  // ---------------------------------------------------------------- WebAuthn JSON
  // Browsers with the WebAuthn L3 JSON helpers take py_webauthn's options as they are; Safari
  // before 18.4 lacks them, so the fallback converts just the binary members.

  function withBinaryIds(descriptors) {
    return (descriptors || []).map((d) => ({ ...d, id: base64urlToBuffer(d.id) }));
  }

  function creationOptionsFromJSON(json) {
    if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function") {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    return {
      ...json,
      challenge: base64urlToBuffer(json.challenge),
      user: { ...json.user, id: base64urlToBuffer(json.user.id) },
      excludeCredentials: withBinaryIds(json.excludeCredentials),
    };
  }

  function requestOptionsFromJSON(json) {
    if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function") {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    return {
      ...json,
      challenge: base64urlToBuffer(json.challenge),
      allowCredentials: withBinaryIds(json.allowCredentials),
    };
  }

  function credentialToJSON(credential) {
    if (typeof credential.toJSON === "function") {
      try {
        return credential.toJSON();
      } catch {
        // Some password-manager extensions return credentials whose toJSON() throws.
      }
    }
    const r = credential.response;
    const response = { clientDataJSON: bufferToBase64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = bufferToBase64url(r.attestationObject);
      response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
      if (typeof r.getAuthenticatorData === "function") {
        response.authenticatorData = bufferToBase64url(r.getAuthenticatorData());
      }
    } else {
      response.authenticatorData = bufferToBase64url(r.authenticatorData);
      response.signature = bufferToBase64url(r.signature);
      if (r.userHandle && r.userHandle.byteLength) {
        response.userHandle = bufferToBase64url(r.userHandle);
      }
    }
    return {
      id: credential.id,
      rawId: bufferToBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults:
        typeof credential.getClientExtensionResults === "function"
          ? credential.getClientExtensionResults()
          : {},
      response,
    };
  }

  // ---------------------------------------------------------------- passkey ceremonies

  function statusElementFor(element) {
    for (let node = element.parentElement; node; node = node.parentElement) {
      const status = node.querySelector("[data-passkey-status]");
      if (status) return status;
    }
    return null;
  }

  function showStatus(status, message) {
    if (!status) return;
    if (!status.hasAttribute("role")) status.setAttribute("role", "alert");
    status.textContent = message; // textContent, never HTML: messages come from the network
    if (message) status.hidden = false;
  }

  function messageForError(error) {
    switch (error && error.name) {
      case "NotAllowedError":
      case "AbortError":
        return CANCELLED;
      case "InvalidStateError":
        return "This device already holds a passkey for this account. Sign in with it instead.";
      case "SecurityError":
        return "Passkeys can't be used from this address. Open SafeHarbor from its usual address.";
      case "NotSupportedError":
        return "This browser or device can't use passkeys. Try an up-to-date phone browser.";
      case "NetworkFailure":
        return UNREACHABLE;
      default:
        return PASSKEY_TROUBLE;
    }
  }

  function formFields(form) {
    const fields = {};
    for (const [name, value] of new FormData(form)) {
      // The CSRF token already travels as a header; files never go through a ceremony.
      if (name === "csrf_token" || typeof value !== "string") continue;
      fields[name] = name in fields ? [].concat(fields[name], value) : value;
    }
    return fields;
  }

  function extraFieldsFor(element) {
    const form = element.closest("form");
    return form ? { form: formFields(form) } : {};
  }

  // Sends the credential to the server; returns true when the page is navigating away.
  async function verifyCredential(verifyUrl, credential, begun, extra, status, signal) {
    const payload = { credential: credentialToJSON(credential), ...extra };
    if (typeof begun.ceremony === "string") payload.ceremony = begun.ceremony;
    const reply = await postJSON(verifyUrl, payload, { signal });
    if (reply.leaving) return true;
    if (reply.ok) {
      if (typeof reply.data.redirect === "string") goTo(reply.data.redirect);
      else location.reload();
      return true;
    }
    showStatus(status, refusalText(reply));
    return false;
  }

  async function runPasskeyCeremony(button) {
    const kind = button.dataset.passkey;
    const status = statusElementFor(button);
    if (!window.PublicKeyCredential || !navigator.credentials) {
      showStatus(status, messageForError({ name: "NotSupportedError" }));
      return;
    }
    // A pending conditional get() would make this one fail with "a request is already pending".
    stopAutofill();
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    showStatus(status, "");
    let leaving = false;
    try {
      const extra = extraFieldsFor(button);
      const begun = await postJSON(button.dataset.optionsUrl, extra);
      if (begun.leaving) {
        leaving = true;
        return;
      }
      if (!begun.ok || !begun.data.options) {
        showStatus(status, refusalText(begun));
        return;
      }
      const credential = kind === "register"
        ? await navigator.credentials.create({
          publicKey: creationOptionsFromJSON(begun.data.options),
        })
        : await navigator.credentials.get({
          publicKey: requestOptionsFromJSON(begun.data.options),
        });
      leaving = await verifyCredential(
        button.dataset.verifyUrl, credential, begun.data, extra, status);
    } catch (error) {
      showStatus(status, messageForError(error));
    } finally {
      if (!leaving) {
        button.disabled = false;
        button.removeAttribute("aria-busy");
        startAutofill();
      }
    }
  }

  function onPasskeyClick(event) {
    const button = event.target.closest("[data-passkey]");
    if (!button || button.tagName === "INPUT") return;
    const kind = button.dataset.passkey;
    if (kind !== "register" && kind !== "authenticate") return;
    event.preventDefault(); // a ceremony button inside a form must not submit it
    if (!button.disabled) runPasskeyCeremony(button);
  }

  // ---------------------------------------------------------------- conditional UI (autofill)

  function stopAutofill() {
    if (autofill) autofill.abort();
    autofill = null;
  }

  async function startAutofill() {
    const input = document.querySelector("input[data-passkey-autofill]");
    const pkc = window.PublicKeyCredential;
    if (!input || autofill || locked || !pkc || !pkc.isConditionalMediationAvailable) return;
    const controller = new AbortController();
    autofill = controller;
    const status = statusElementFor(input);
    try {
      if (!(await pkc.isConditionalMediationAvailable()) || controller.signal.aborted) return;
      const extra = extraFieldsFor(input);
      // Fetched at page load, not by the person: it must not postpone the idle lock.
      const begun = await postJSON(
        input.dataset.optionsUrl, extra, { signal: controller.signal, background: true });
      if (begun.leaving || controller.signal.aborted) return;
      if (!begun.ok || !begun.data.options) {
        showStatus(status, refusalText(begun));
        return;
      }
      const credential = await navigator.credentials.get({
        publicKey: requestOptionsFromJSON(begun.data.options),
        mediation: "conditional",
        signal: controller.signal,
      });
      await verifyCredential(
        input.dataset.verifyUrl, credential, begun.data, extra, status, controller.signal);
    } catch (error) {
      // Aborting is how the button-driven ceremony takes over: not an error to show.
      if (!controller.signal.aborted && error.name !== "AbortError") {
        showStatus(status, messageForError(error));
      }
    } finally {
      if (autofill === controller) autofill = null;
    }
  }

  // ---------------------------------------------------------------- idle lock

  function idleLockSeconds() {
    const seconds = Number.parseInt(document.body.dataset.idleLockSeconds || "", 10);
    return Number.isFinite(seconds) && seconds > 0 ? seconds : null;
  }

  function noteActivity(event) {
    if (locked) return;
    if (event.type === "scroll" && Date.now() - lastSwapAt < SWAP_SCROLL_GRACE_MS) return;
    lastActivityAt = Date.now();
  }

  // Timers are throttled in background tabs and frozen while a phone sleeps, so the check
  // compares wall-clock times instead of counting ticks.
  function checkIdle() {
    const seconds = idleLockSeconds();
    if (locked || seconds === null) return;
    if (Date.now() - lastActivityAt >= seconds * 1000) lockForIdleness();
  }

  function lockForIdleness() {
    if (!showLock()) return;
    // The server enforces the lock on its own clock too; telling it now closes the gap. It goes
    // as an htmx request so the server answers with its lock fragment (200 + HX-Trigger), the
    // same as for any locked htmx request, rather than a 423 the console would log as an error.
    const lockUrl = document.body.dataset.lockUrl;
    if (!lockUrl) return;
    if (window.htmx) {
      window.htmx.ajax("POST", lockUrl, {
        target: "#lock-overlay", swap: "none", values: { reason: "idle" },
      }).catch(() => {}); // offline: the server locks by its own clock anyway
      return;
    }
    fetch(lockUrl, {
      method: "POST",
      credentials: "same-origin",
      keepalive: true,
      headers: { "X-CSRFToken": csrfToken(), [BACKGROUND_HEADER]: "1" },
      body: new URLSearchParams({ reason: "idle" }),
    })
      .then((response) => followSessionSignals(
        response.status, null, response.headers.get("HX-Trigger")))
      .catch(() => {});
  }

  function showLock() {
    const overlay = document.getElementById("lock-overlay");
    if (!overlay) return false;
    locked = true;
    stopAutofill();
    // offline.js drops the offline store's key: the next unlock fetches it again.
    window.dispatchEvent(new CustomEvent("safeharbor:locked"));
    // NOTE: everything behind the overlay leaves the accessibility tree and the tab order, so a
    // screen reader or a keyboard can't reach PHI that the opaque overlay hides from the eye.
    const behind = [...document.body.children, document.getElementById("app")];
    for (const element of behind) {
      // The lock page itself renders the overlay inside #app: never make it unreachable.
      if (!element || element.contains(overlay) || element.tagName === "SCRIPT") continue;
      element.setAttribute("aria-hidden", "true");
      element.inert = true;
    }
    if (overlay.hidden) showStatus(overlay.querySelector("[data-passkey-status]"), "");
    overlay.hidden = false;
    const unlock = overlay.querySelector("[data-passkey]");
    if (unlock) unlock.focus();
    return true;
  }

  // A response that was already on its way when the lock fell must not refresh PHI behind it.
  // A response already on its way when the lock fell must not refresh PHI behind the overlay,
  // nor replace the overlay the person may be using.
  function holdSwapsWhileLocked(event) {
    if (locked) event.detail.shouldSwap = false;
  }

  function onHtmxResponse(event) {
    const xhr = event.detail.xhr;
    if (!xhr) return;
    // HX-Trigger names arrive as their own events too; reading the header here covers both.
    followSessionSignals(xhr.status, null, xhr.getResponseHeader("HX-Trigger"));
  }

  // ---------------------------------------------------------------- privacy blur

  function setPrivacyBlur(on) {
    document.documentElement.classList.toggle("privacy-blur", on);
  }

  function onVisibilityChange() {
    const hidden = document.visibilityState === "hidden";
    setPrivacyBlur(hidden);
    if (!hidden) checkIdle();
  }

  // ---------------------------------------------------------------- local data wipe

  function deleteDatabase(name) {
    return new Promise((resolve) => {
      const request = indexedDB.deleteDatabase(name);
      request.onsuccess = request.onerror = request.onblocked = () => resolve();
    });
  }

  async function forgetLocalData() {
    window.dispatchEvent(new CustomEvent("safeharbor:forget")); // offline.js drops its key
    const jobs = [];
    const worker = navigator.serviceWorker && navigator.serviceWorker.controller;
    if (worker) worker.postMessage({ type: "WIPE" }); // its caches go even if unregister lags
    if (window.caches) {
      jobs.push(caches.keys().then((keys) => Promise.all(keys.map((key) => caches.delete(key)))));
    }
    if (window.indexedDB && typeof indexedDB.databases === "function") {
      jobs.push(indexedDB.databases().then((databases) =>
        Promise.all(databases.filter((db) => db.name).map((db) => deleteDatabase(db.name)))));
    }
    if (navigator.serviceWorker) {
      jobs.push(navigator.serviceWorker.getRegistrations().then((registrations) =>
        Promise.all(registrations.map((registration) => registration.unregister()))));
    }
    for (const storage of ["sessionStorage", "localStorage"]) {
      try {
        window[storage].clear();
      } catch {
        // Storage can be disabled by the browser; nothing to clear then.
      }
    }
    await Promise.allSettled(jobs);
  }

  // The server answers a lost or wiped device with the wiped page (and Clear-Site-Data, which
  // page script cannot see): delete what the header may have missed, drop anything held in
  // memory, then tell the server the device is clean.
  async function finishDeviceWipe() {
    const marker = document.querySelector("[data-device-wiped]");
    if (!marker) return;
    const status = marker.querySelector("[data-wipe-status]");
    window.dispatchEvent(new CustomEvent("safeharbor:wiped"));
    await forgetLocalData();
    try {
      const response = await fetch(marker.dataset.confirmUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
      });
      const body = await response.json().catch(() => ({}));
      if (status) {
        status.textContent = body.wiped ? "Wipe complete." : "Wipe done on this phone.";
      }
      marker.setAttribute("data-wipe-confirmed", body.wiped ? "true" : "false");
    } catch {
      if (status) status.textContent = "Wipe done on this phone; it will be confirmed online.";
    }
  }

  // A revealed SSN goes back to its masked form after a short while, without a request.
  function scheduleRemask(root) {
    for (const element of root.querySelectorAll("[data-remask-seconds]")) {
      const seconds = Number(element.getAttribute("data-remask-seconds")) || 30;
      element.removeAttribute("data-remask-seconds");
      setTimeout(() => {
        element.textContent = element.getAttribute("data-masked") || "";
        element.removeAttribute("data-ssn-revealed");
      }, seconds * 1000);
    }
  }

  function onLogoutSubmit(event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-logout")) return;
    // Wipe first, then submit natively; a slow wipe must not keep someone from signing out.
    event.preventDefault();
    event.stopPropagation();
    const timeout = new Promise((resolve) => setTimeout(resolve, WIPE_TIMEOUT_MS));
    Promise.race([forgetLocalData(), timeout])
      .catch(() => {})
      .finally(() => HTMLFormElement.prototype.submit.call(form));
  }

  // ---------------------------------------------------------------- wiring

  function start() {
    document.addEventListener("htmx:configRequest", prepareHtmxRequest);
    document.addEventListener("htmx:afterRequest", onHtmxResponse);
    document.addEventListener("htmx:beforeSwap", holdSwapsWhileLocked);
    document.addEventListener("htmx:afterSwap", (event) => {
      lastSwapAt = Date.now();
      scheduleRemask(event.target);
    });
    document.addEventListener("htmx:afterSettle", () => {
      lastSwapAt = Date.now();
      startAutofill(); // a boosted navigation may have brought in a sign-in field
    });

    document.addEventListener("click", onPasskeyClick);
    document.addEventListener("submit", onLogoutSubmit, true);

    for (const type of ACTIVITY_EVENTS) {
      document.addEventListener(type, noteActivity, { capture: true, passive: true });
    }
    setInterval(checkIdle, 1000);

    document.addEventListener("visibilitychange", onVisibilityChange);
    window.addEventListener("pagehide", () => setPrivacyBlur(true));
    window.addEventListener("blur", () => setPrivacyBlur(true));
    window.addEventListener("focus", () => setPrivacyBlur(false));
    window.addEventListener("pageshow", () => {
      setPrivacyBlur(document.visibilityState === "hidden");
      checkIdle();
    });
    if (document.visibilityState === "hidden") setPrivacyBlur(true);

    startAutofill();
    finishDeviceWipe();
  }

  window.SafeHarbor = Object.assign(window.SafeHarbor || {}, { forgetLocalData, showLock });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start, { once: true });
  } else {
    start();
  }
})();
