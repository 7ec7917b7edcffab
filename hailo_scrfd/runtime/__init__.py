"""`SCRFDModel` (load, health, self-healing) and the inference worker that admits runs to the backend."""
