"""The device registry: screen-lock attestation, approval, lost phones, remote wipe, and the
per-device offline-cache keys. See DESIGN.md, "Devices"."""
