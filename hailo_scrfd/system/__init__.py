"""The configuration schema and loading, render-config, systemd notify/watchdog, thermal and tuning."""
