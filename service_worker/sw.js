// SafeHarbor service worker: keeps the app shell (CSS, scripts, icons, the offline page) so the
// app starts on a weak signal, and nothing else.
//
// Served by webapp/views/pwa.py at /sw.js (scope "/"), which fills in the two placeholders
// below: the shell version (a hash of every shell file's bytes) and the shell's URLs. A deploy
// that changes any shell file changes this script's bytes, so the browser installs the new
// worker beside the old one; it waits until the page (pwa.js) asks it to take over.
//
// NOTE: PHI never enters Cache Storage. The one place this worker writes to a cache is the
// install step, and it writes only the shell URLs listed below, fetched without cookies (so no
// session can shape what is stored). Pages, htmx fragments, JSON and /devices/* are never
// intercepted: they go to the network exactly as if there were no worker, and the browser
// keeps none of them (the server sends `Cache-Control: no-store` on all of them).
//
// Wipe: a {type: "WIPE"} message deletes every cache this origin has (app.js sends it at sign
// out and on a wipe). A response carrying `Clear-Site-Data: "cache", "storage"` (what a lost or
// wiped device gets) goes further without any help from here: the browser empties Cache
// Storage and IndexedDB and unregisters this worker.
"use strict";

const VERSION = "__SHELL_VERSION__";
const SHELL_URLS = __SHELL_URLS__;
const OFFLINE_URL = "__OFFLINE_URL__";
const CACHE_NAME = `safeharbor-shell-${VERSION}`;

const SHELL = new Set(SHELL_URLS.map((url) => new URL(url, self.location.origin).href));
// A cached copy answers whatever Vary says: the shell is the same for every request.
const MATCH = { cacheName: CACHE_NAME, ignoreVary: true };

// ---------------------------------------------------------------- install: precache the shell

self.addEventListener("install", (event) => {
  event.waitUntil(precacheShell());
});

async function precacheShell() {
  const cache = await caches.open(CACHE_NAME);
  // credentials "omit": the shell is public, and no cookie means no session or device can
  // change what is stored. cache "no-cache": revalidated with the server (the deployed bytes,
  // never a stale copy), yet a file the page has just loaded costs only a 304.
  const requests = SHELL_URLS.map(
    (url) => new Request(url, { credentials: "omit", cache: "no-cache" }));
  await cache.addAll(requests); // all or nothing: a failed install keeps the old worker
}

// ---------------------------------------------------------------- activate: drop old versions

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(names.filter((name) => name !== CACHE_NAME)
      .map((name) => caches.delete(name)));
    await self.clients.claim();
  })());
});

// ---------------------------------------------------------------- fetch

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith(networkOrOfflinePage(request));
    return;
  }
  if (SHELL.has(url.href) && !request.headers.has("HX-Request")) {
    event.respondWith(shellFirst(request));
  }
  // Anything else is not ours to answer: the browser fetches it as if there were no worker.
});

// Shell files: the cached copy of this version, else the network (and nothing is stored).
async function shellFirst(request) {
  const cached = await caches.match(request, MATCH);
  return cached || fetch(request);
}

// Pages: always the network. Only when there is no network at all does the offline page
// answer; an error page from the server is shown as it is.
async function networkOrOfflinePage(request) {
  try {
    return await fetch(request);
  } catch (error) {
    const offline = await caches.match(OFFLINE_URL, MATCH);
    if (offline) return offline;
    throw error;
  }
}

// ---------------------------------------------------------------- messages from pages

self.addEventListener("message", (event) => {
  const type = event.data && event.data.type;
  if (type === "SKIP_WAITING") {
    // The person pressed "Reload" on the "new version" banner: take over now.
    self.skipWaiting();
  } else if (type === "WIPE") {
    event.waitUntil(deleteAllCaches().then(() => {
      // Answer on a MessageChannel port if the page gave one, so it can wait for the wipe.
      if (event.ports && event.ports[0]) event.ports[0].postMessage({ type: "WIPED" });
    }));
  }
});

async function deleteAllCaches() {
  const names = await caches.keys();
  await Promise.all(names.map((name) => caches.delete(name)));
}
