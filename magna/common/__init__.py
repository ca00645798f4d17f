"""Small pieces shared by every layer: the error taxonomy and the request context."""
