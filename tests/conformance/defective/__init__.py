"""Deliberately defective plugins, each breaking one clause of the contract, and the correct
plugins they are variations of; run by ``test_conformance_defective.py``."""
