"""The embedded demo tenant: a fictional company stored as provider-shaped API responses.

``tenant/`` holds one folder per provider (``graph``, ``google``, ``okta``, ``files``) with the
JSON collections the fake providers serve, written by ``generate.py`` (run
``python -m connectors.demo.generate`` after editing it; a test checks they agree).
"""
