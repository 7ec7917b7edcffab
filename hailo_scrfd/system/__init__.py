"""System layer: configuration, systemd integration, thermal, tuning, and the model cache and downloader."""
