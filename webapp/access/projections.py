"""Projections: what a template gets instead of a model.

A projection holds only the fields its viewer may see. A forbidden field is absent, not
hidden: reading it raises AttributeError (and Jinja sees it as undefined), so no template,
export or offline cache can show what it was never given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .policy import DataClass, allowed_fields


class Projection(Mapping[str, Any]):
    """An immutable bag of permitted fields, readable as attributes or as a mapping."""

    __slots__ = ("_fields", "kind")

    def __init__(self, kind: str, fields: Mapping[str, Any]):
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "_fields", dict(fields))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._fields[name]
        except KeyError:
            raise AttributeError(f"{self.kind} projection has no field {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("projections are read-only")

    def __getitem__(self, name: str) -> Any:
        return self._fields[name]

    def __iter__(self):
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        return f"<{self.kind} projection of {sorted(self._fields)}>"


def project(kind: str, values: Mapping[str, Any] | Any, classes: Iterable[DataClass], *,
            always: Mapping[str, Any] | None = None) -> Projection:
    """Copy into a projection only the fields of `kind` the data classes allow.

    `values` is a mapping or an object (a model) read attribute by attribute: only permitted
    attributes are ever read, so forbidden PHI is never even decrypted. `always` adds fields
    that are not PHI (opaque ids, links).
    """
    fields: dict[str, Any] = dict(always or {})
    for name in sorted(allowed_fields(kind, classes)):
        if isinstance(values, Mapping):
            if name in values:
                fields[name] = values[name]
        elif hasattr(type(values), name) or name in getattr(values, "__dict__", {}):
            fields[name] = getattr(values, name)
    return Projection(kind, fields)
