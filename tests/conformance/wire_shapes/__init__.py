"""Providers for the wire-shape meta-test: correct ones for many real API body shapes (no
wire.* check may fail on them) and broken ones (each caught by a named wire.* check)."""
