"""The ``magna`` client commands, one module per resource; ``registry.COMMANDS`` names them."""
