"""The ``magna`` command line's client side: it parses, calls ``magna.client`` and prints.

``app.py`` is the cliff application, ``registry.py`` names every command, ``commands/`` holds
one module per resource, ``parsing.py`` and ``progress.py`` are the shared pieces.
"""
