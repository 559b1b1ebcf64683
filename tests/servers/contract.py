"""Placeholder: fixtures arrive with the module owner."""
