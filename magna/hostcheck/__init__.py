"""What this machine offers Magna's local drivers, read from the machine itself (stdlib only).

Both the server (the node layer, the conductor) and the ``magna`` client (``magna status``)
ask, so this package imports nothing else of Magna's.
"""
