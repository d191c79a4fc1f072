"""Plugins that do work when byom imports them to discover them (suite 2.6,
``isolation.import``): one module each, since the defect is in the module itself."""
