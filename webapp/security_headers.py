"""The security headers, as data. Flask-Talisman sends them (and the per-request CSP nonce);
this module says what they are, and tests read the same data.

NOTE: no 'unsafe-inline' and no 'unsafe-eval' anywhere. Scripts run only from our origin with
the request's nonce; htmx is configured (meta htmx-config) to need neither eval nor inline
styles.
"""

from __future__ import annotations

CONTENT_SECURITY_POLICY: dict[str, str] = {
    "default-src": "'none'",  # start from nothing; each need is granted below
    "script-src": "'self'",  # plus the per-request nonce, added by Talisman
    "style-src": "'self'",  # app.css only: no inline styles
    "img-src": "'self' data:",  # icons; data: for the browser's own form controls
    "font-src": "'self'",
    "connect-src": "'self'",  # fetch()/htmx to our origin only
    "manifest-src": "'self'",
    "worker-src": "'self'",  # the service worker at /sw.js
    "form-action": "'self'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",  # never framed: no clickjacking
    "object-src": "'none'",
}
CSP_NONCE_IN = ["script-src"]

HSTS_MAX_AGE = 365 * 24 * 60 * 60  # one year, subdomains included, only over https

PERMISSIONS_POLICY: dict[str, str] = {
    "camera": "()",
    "microphone": "()",
    "geolocation": "()",
    "payment": "()",
    "usb": "()",
    "publickey-credentials-get": "(self)",
    "publickey-credentials-create": "(self)",
}

REFERRER_POLICY = "no-referrer"  # URLs never leave the app, not even opaque ids

NO_STORE = "no-store"
