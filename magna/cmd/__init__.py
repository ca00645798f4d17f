"""Console entry points: ``magna`` (serve, db) and ``magna-api``."""
