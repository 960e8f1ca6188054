"""Storefront widgets: the loader and widget scripts (vanilla JS in js/, served minified), and
their server-side configuration (config.py) and routes (routes.py).

Platform differences reach this package as data (store facts, the inlined config), never as
imports of an adapter.
"""
