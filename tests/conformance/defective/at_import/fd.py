"""A plugin module that writes its banner straight to file descriptor 1."""

from __future__ import annotations

import os

os.write(1, b"echo plugin 1.0 loaded\n")  # the defect under test: past sys.stdout
