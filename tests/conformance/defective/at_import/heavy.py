"""A plugin module that imports its cloud SDK at the top "so the first call is fast"."""

from __future__ import annotations

import botocore.session  # noqa: F401  (the defect: every application that has the plugin loads botocore)
