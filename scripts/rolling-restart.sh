#!/usr/bin/env bash
# Restart the hailo-scrfd@N instances behind nginx one at a time, so that clients see no failed request:
#   sudo scripts/rolling-restart.sh            every active hailo-scrfd@N.service
#   sudo scripts/rolling-restart.sh 1 3        only instances 1 and 3, in that order
# For each instance: systemctl restart (SIGTERM: /health answers 503 "draining" and requests are still served
# for server.drain_s; then the port closes, so nginx sends new connections to the others, and the process
# exits once in-flight requests are answered); wait until its GET /health answers 200 (model loaded), then
# SETTLE_S more, so that nginx, which took the instance out for fail_timeout=5s when its port refused, sends
# it work again before the next one stops. Stops at the first instance that does not come back.
# Environment: BASE_PORT (5001: instance N serves on BASE_PORT+N), READY_TIMEOUT_S (180; a HEF loads in
# 60-90 s), SETTLE_S (6, above nginx's fail_timeout), SYSTEMCTL (systemctl).
set -euo pipefail
base=${BASE_PORT:-5001}
ready_timeout=${READY_TIMEOUT_S:-180}
settle=${SETTLE_S:-6}
systemctl=${SYSTEMCTL:-systemctl}

instances=("$@")
if ((${#instances[@]} == 0)); then
  mapfile -t instances < <($systemctl list-units --type=service --state=active --plain --no-legend \
    'hailo-scrfd@*.service' | sed -nE 's/^hailo-scrfd@([0-9]+)\.service.*/\1/p')
fi
if ((${#instances[@]} == 0)); then
  echo "rolling-restart: no active hailo-scrfd@N.service to restart" >&2
  exit 1
fi

healthy() {
  python3 - "$1" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=5) as resp:
        sys.exit(0 if resp.status == 200 else 1)
except Exception:
    sys.exit(1)
PY
}

for n in "${instances[@]}"; do
  port=$((base + n))
  echo "rolling-restart: restarting hailo-scrfd@$n (port $port)"
  $systemctl restart "hailo-scrfd@$n.service"
  deadline=$((SECONDS + ready_timeout))
  until healthy "$port"; do
    if ((SECONDS >= deadline)); then
      echo "rolling-restart: hailo-scrfd@$n is not ready after ${ready_timeout}s: stopping here" >&2
      exit 1
    fi
    sleep 0.5
  done
  echo "rolling-restart: hailo-scrfd@$n ready; waiting ${settle}s for nginx to use it again"
  sleep "$settle"
done
echo "rolling-restart: restarted ${instances[*]}"
