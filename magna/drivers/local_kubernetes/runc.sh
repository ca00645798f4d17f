#!/bin/sh
# Magna: the OCI runtime a Kubernetes node's engine calls (daemon.json "default-runtime"), in
# front of runc. kubelet asks for a negative OOM score for every pod sandbox (-998), and no
# process of a sealed node may lower a score (container root is an unprivileged host user, and
# this host's root lacks CAP_SYS_RESOURCE anyway): runc would fail every pod ("can't get final
# child's PID from pipe"). So a negative oomScoreAdj in the bundle's config.json becomes 0
# before runc reads it. Nothing else changes.
bundle=
previous=
for arg; do
  case $previous in --bundle|-b) bundle=$arg ;; esac
  case $arg in --bundle=*) bundle=${arg#--bundle=} ;; esac
  previous=$arg
done
if [ -n "$bundle" ] && [ -f "$bundle/config.json" ]; then
  sed -i 's/"oomScoreAdj":-[0-9]*/"oomScoreAdj":0/' "$bundle/config.json"
fi
exec runc "$@"
