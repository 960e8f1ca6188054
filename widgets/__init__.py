"""Storefront widgets (vanilla JS) and their server-side configuration and rendering.

Filled by the widgets issue; platform differences reach it as data, never as imports.
"""
