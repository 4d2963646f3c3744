"""Roles, data classes, field policy and projections: what each role may see."""
