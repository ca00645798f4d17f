#!/bin/sh
# Magna: the setup step of a sealed node (engine.py, "the sealed start"). It runs as PID 1 of the
# node's fresh mount/UTS/IPC/cgroup/PID namespaces, already inside the node's network namespace
# and cgroups, mounts the node's root and turns into the node's engine:
#
#   seal.sh ROOT RUN HOSTNAME AUTHZ DOCKERD [ro:HOST_DIR | cg:FSTYPE:NAME:OPTIONS]...
#
# ROOT      the node's root on the host's disk (etc/ and var/lib/docker/ prepared by rootfs.py)
# RUN       the node's host run dir (emptied by the caller), mounted as the node's /run
# AUTHZ     the host directory of the node's authorization-plugin socket, or "-"
# ro:DIR    a host directory of programs bound read-only at the same path (/usr/bin, ...)
# file:F:P  a host program F bound read-only at P in the node (a dockerd outside those dirs)
# cg:...    a cgroup hierarchy to mount fresh under /sys/fs/cgroup (its root is the node's cgroup;
#           an empty name: the v2 hierarchy, mounted at /sys/fs/cgroup itself)
# dir:D:P   a host directory D bound read-only at P in the node (an orchestrator's programs)
# vol:P,P:IMAGE  the node's volume (storage.py): the ext4 image loop-mounted here, in the
#           node's namespace only, its subdirectory named after each P's last part bound at P
# sysctl:P:V  the node sees V in /proc/sys/P and cannot change it there (the host's stays as
#           it is): for agents that would otherwise write host-wide kernel settings
# kmsg      a /dev/kmsg (the kernel log, read by agents that watch for OOM kills)
#
# Every mount is made in the node's private mount namespace: none reaches the host, and all go
# with the namespace when the node's last process ends.
set -eu
R=$1 RUN=$2 NAME=$3 AUTHZ=$4 DOCKERD=$5
shift 5
mount --bind "$R" "$R"  # NOTE: pivot_root wants the new root to be a mount point
for item; do
  case $item in
  ro:*)
    dir=${item#ro:}
    # NOTE: util-linux >= 2.27 makes a read-only bind in one call (bind, then the remount)
    mount -o bind,ro,nosuid,nodev "$dir" "$R$dir" ;;
  file:*)  # file:HOST_FILE:NODE_PATH, the operator's own engine program (a mount point exists)
    rest=${item#file:}; source=${rest%%:*}; target=${rest#*:}
    mount -o bind,ro,nosuid,nodev "$source" "$R$target" ;;
  dir:*)
    rest=${item#dir:}; source=${rest%%:*}; target=${rest#*:}
    mkdir -p "$R$target"
    mount -o bind,ro,nosuid,nodev "$source" "$R$target" ;;
  vol:*)
    # NOTE: mount makes the loop device with autoclear: it detaches when the last mount of
    # it goes, i.e. when this namespace ends. The staging point goes before the node starts.
    rest=${item#vol:}; paths=${rest%%:*}; image=${rest#*:}
    mkdir -p "$R/.volume"
    mount -o loop "$image" "$R/.volume"
    for path in $(echo "$paths" | tr , ' '); do
      mkdir -p "$R/.volume/${path##*/}" "$R$path"
      mount --bind "$R/.volume/${path##*/}" "$R$path"
    done
    umount "$R/.volume"
    rmdir "$R/.volume" ;;
  esac
done
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"  # NOTE: shows the node's netns only
mount -t tmpfs -o mode=755,nosuid,nodev,noexec,size=64k cgroup "$R/sys/fs/cgroup"
for item; do
  case $item in
  cg:*)
    rest=${item#cg:}; fstype=${rest%%:*}; rest=${rest#*:}; name=${rest%%:*}; opts=${rest#*:}
    if [ -z "$name" ]; then  # NOTE: a cgroup v2 host: one hierarchy, at /sys/fs/cgroup itself
      mount -t "$fstype" -o nosuid,nodev,noexec "$fstype" "$R/sys/fs/cgroup"
      continue
    fi
    mkdir "$R/sys/fs/cgroup/$name"
    mount -t "$fstype" ${opts:+-o "$opts"} "$fstype" "$R/sys/fs/cgroup/$name" ;;
  esac
done
mount -t tmpfs -o mode=755,nosuid,noexec,size=64k dev "$R/dev"
mknod -m 666 "$R/dev/null" c 1 3
mknod -m 666 "$R/dev/zero" c 1 5
mknod -m 666 "$R/dev/full" c 1 7
mknod -m 666 "$R/dev/random" c 1 8
mknod -m 666 "$R/dev/urandom" c 1 9
mknod -m 666 "$R/dev/tty" c 5 0
mkdir "$R/dev/pts" "$R/dev/shm" "$R/dev/mqueue"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5,nosuid,noexec devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
mount -t tmpfs -o nosuid,nodev,size=64m shm "$R/dev/shm"
mount -t mqueue -o nosuid,nodev,noexec mqueue "$R/dev/mqueue"
ln -s /proc/self/fd "$R/dev/fd"
mkdir "$R/dev/.sysctl"
for item; do
  case $item in
  sysctl:*)  # NOTE: a read-only file over the /proc/sys entry: reads say V, writes fail
    if [ ! -d "$R/dev/.proc" ]; then
      # NOTE: the kernel lets a container (a user namespace) mount a new proc only while an
      # instance without anything mounted over its files is visible: this one, untouched.
      mkdir "$R/dev/.proc"
      mount -t proc -o nosuid,nodev,noexec proc "$R/dev/.proc"
    fi
    rest=${item#sysctl:}; key=${rest%%:*}; value=${rest#*:}
    file="$R/dev/.sysctl/$(echo "$key" | tr / .)"
    echo "$value" > "$file"
    mount --bind "$file" "$R/proc/sys/$key"
    mount -o remount,bind,ro "$R/proc/sys/$key" ;;
  kmsg) mknod -m 600 "$R/dev/kmsg" c 1 11 ;;
  esac
done
ln -s /proc/self/fd/0 "$R/dev/stdin"
ln -s /proc/self/fd/1 "$R/dev/stdout"
ln -s /proc/self/fd/2 "$R/dev/stderr"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmp "$R/tmp"
mount --bind "$RUN" "$R/run"
if [ "$AUTHZ" != - ]; then
  mkdir -p "$R/run/magna-seal"
  mount --bind "$AUTHZ" "$R/run/magna-seal"
fi
hostname "$NAME"
cd "$R"
mkdir -p .host
pivot_root . .host
umount -l /.host
rmdir /.host
cd /
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
exec docker-init -- "$DOCKERD" --config-file /etc/docker/daemon.json
