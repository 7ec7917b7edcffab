#!/usr/bin/env bash
# Install hailo-scrfd as a systemd service (Raspberry Pi OS, Debian, or any systemd Linux).
#
#   sudo scripts/install.sh                  install into /, create the user, enable the service
#   DESTDIR=/tmp/stage scripts/install.sh    stage everything under a directory (packaging, tests)
#
# Environment: PREFIX (default /opt/hailo-scrfd), PYTHON (default python3), PIP_ARGS (extra pip flags).
# The venv sees the system site-packages, so Hailo's apt-installed hailo_platform is importable.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/opt/hailo-scrfd}
PYTHON=${PYTHON:-python3}
USER_NAME=hailo-scrfd
at() { printf '%s%s' "$DESTDIR" "$1"; }

echo "installing hailo-scrfd into ${DESTDIR:-/}${PREFIX#/}"
"$PYTHON" -m venv --system-site-packages "$(at "$PREFIX/venv")"
# shellcheck disable=SC2086
"$(at "$PREFIX/venv/bin/python")" -m pip install --quiet --disable-pip-version-check ${PIP_ARGS:-} "$SRC"

install -d "$(at "$PREFIX/share")"
install -m 0644 "$SRC/README.md" "$(at "$PREFIX/share")/"
# The docs site's pages as Markdown (docs/api.md, docs/troubleshooting.md, ...), readable without a browser.
install -d "$(at "$PREFIX/share/docs")" "$(at "$PREFIX/share/docs/images")"
install -m 0644 "$SRC"/docs/*.md "$(at "$PREFIX/share/docs")/"
install -m 0644 "$SRC"/docs/images/* "$(at "$PREFIX/share/docs/images")/"
install -D -m 0644 "$SRC/systemd/hailo-scrfd.service" "$(at /etc/systemd/system/hailo-scrfd.service)"
# Several instances behind nginx: hailo-scrfd@N on port 5001+N (deploy/nginx/hailo-scrfd.conf).
install -D -m 0644 "$SRC/systemd/hailo-scrfd@.service" "$(at /etc/systemd/system/hailo-scrfd@.service)"
# Socket activation (optional: systemctl enable --now hailo-scrfd.socket): systemd holds the port across restarts.
install -D -m 0644 "$SRC/systemd/hailo-scrfd.socket" "$(at /etc/systemd/system/hailo-scrfd.socket)"
install -D -m 0644 "$SRC/systemd/hailo-scrfd@.socket" "$(at /etc/systemd/system/hailo-scrfd@.socket)"
for n in 1 2 3; do  # instance N listens on 5001+N, as in deploy/nginx/hailo-scrfd.conf
  dropin=$(at "/etc/systemd/system/hailo-scrfd@$n.socket.d/listen.conf")
  install -d "$(dirname "$dropin")"
  printf '[Socket]\nListenStream=127.0.0.1:%d\n' $((5001 + n)) > "$dropin"
done
install -D -m 0644 "$SRC/deploy/nginx/hailo-scrfd.conf" "$(at "$PREFIX/share/nginx/hailo-scrfd.conf")"
install -D -m 0644 "$SRC/systemd/hailo-scrfd.sysusers" "$(at /usr/lib/sysusers.d/hailo-scrfd.conf)"

config=$(at /etc/hailo/hailo-scrfd.yaml)
if [ -e "$config" ]; then
  echo "keeping the existing $config (the shipped default is in $PREFIX/share/hailo-scrfd.yaml)"
else
  install -D -m 0644 "$SRC/config/hailo-scrfd.yaml" "$config"
fi
install -m 0644 "$SRC/config/hailo-scrfd.yaml" "$(at "$PREFIX/share/hailo-scrfd.yaml")"
"$(at "$PREFIX/venv/bin/hailo-scrfd")" render-config --input "$config" \
  --output "$(at /etc/xdg/hailo-scrfd/hailo-scrfd.json)"

if [ -n "$DESTDIR" ]; then
  echo "staged under $DESTDIR: on the target, run systemd-sysusers, then systemctl daemon-reload"
  exit 0
fi

systemd-sysusers /usr/lib/sysusers.d/hailo-scrfd.conf
if [ -e /dev/hailo0 ]; then
  group=$(stat -c %G /dev/hailo0)
  mode=$(stat -c %a /dev/hailo0)
  if [ "${mode: -1}" -lt 6 ] && [ "$group" != root ]; then
    usermod -a -G "$group" "$USER_NAME"
    echo "added $USER_NAME to group $group, which owns /dev/hailo0"
  fi
fi
systemctl daemon-reload
systemctl enable hailo-scrfd.service
echo "installed. Set model.path in /etc/hailo/hailo-scrfd.yaml (a file, or a name such as scrfd_2.5g pulled with"
echo "  $PREFIX/venv/bin/hailo-scrfd models pull scrfd_2.5g --dir /var/lib/hailo-scrfd/models), then:"
echo "  systemctl start hailo-scrfd && $PREFIX/venv/bin/hailo-scrfd check --config /etc/hailo/hailo-scrfd.yaml"
