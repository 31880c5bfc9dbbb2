"""Hooks: functions that ``jug execute`` calls at fixed points (docs/utilities.rst, "Hooks").

Layer 3: imports only its own submodules.
"""
from .register import jug_hook, register_hook, register_hook_once, reset_all_hooks

__all__ = ['jug_hook', 'register_hook', 'register_hook_once', 'reset_all_hooks']
