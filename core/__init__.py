"""Contracts shared by every package: settings, errors, table names, record layouts, keys."""
