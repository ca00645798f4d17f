"""Pure rules of the Magnum world: states, names, labels, COE constraints, JSON-patch semantics.

Nothing here does I/O or knows about HTTP or SQL; every function is input to output, so the rules
are tested directly and shared by the API, the services and the conductor.
"""
