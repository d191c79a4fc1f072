"""Plugin modules that do work when byom loads them to discover the plugin (suite 2.6,
``isolation.import``). Only the check's own interpreter imports them: the subjects in
``defects_v26`` name them as their ``plugin_module``."""
