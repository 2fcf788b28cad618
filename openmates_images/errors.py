"""One JSON error shape for the whole API: {"error": {"code", "message", "field"}}."""
