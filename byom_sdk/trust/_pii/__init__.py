"""The built-in detector's parts: checksums, numbering plans, secrets, context words.

:mod:`byom_sdk.trust._detectors` assembles them into ``BuiltinDetector``; nothing here
touches the network or loads a model.
"""
