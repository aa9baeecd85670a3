#!/bin/sh
# First start: create the node's configuration and keys in the volume.
# Settings come from BOCAGE_* variables (see the README's reference).
set -eu
config=/var/lib/bocage/bocage.toml
if [ ! -f "$config" ]; then
    : "${BOCAGE_NODE_DOMAIN:?set BOCAGE_NODE_DOMAIN to the node's public host name}"
    bocage init "$BOCAGE_NODE_DOMAIN" --dir /var/lib/bocage \
        --database "${BOCAGE_DATABASE_URL:-sqlite:///data/bocage.sqlite}"
fi
exec bocage "$@" -c "$config"
