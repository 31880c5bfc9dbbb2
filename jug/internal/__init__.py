"""Internal helpers of jug, not part of the jugfile vocabulary (SPEC.md §1.14).

Imports nothing at package import time.
"""
