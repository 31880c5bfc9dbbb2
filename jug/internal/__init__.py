"""Internal helpers of jug, not part of the jugfile vocabulary (docs/architecture.rst).

Imports nothing at package import time.
"""
