"""`SCRFDModel` (load, health, self-healing) and the inference worker that owns the backend."""
