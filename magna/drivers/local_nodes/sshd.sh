#!/bin/sh
# Magna: the SSH server of a sealed node (ssh.py). daemons.py starts this inside the node's
# namespaces as the host's root:
#
#   magna-sshd ID_BASE
#
# It moves sshd into a user namespace of its own whose ids 0..65535 are the host's
# ID_BASE..ID_BASE+65535 (the cluster's range) and makes it that namespace's root, an
# unprivileged host uid. unshare writes the maps through newuidmap/newgidmap, which are Magna's
# own here (/opt/magna/libexec, run while unshare's helper is still the host's root): Debian's
# would look the range up in /etc/subuid.
set -eu
base=$1
PATH=/opt/magna/libexec:$PATH
export PATH
exec unshare --user --map-users="$base,0,65536" --map-groups="$base,0,65536" \
  --setuid 0 --setgid 0 -- /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config
