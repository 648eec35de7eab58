/* SPDX-License-Identifier: GPL-2.0-or-later */
/* containerd's snapshot service (containerd.services.snapshots.v1.Snapshots) on cvol's layer
 * store: committed snapshots are store layers, active ones are layers being written, views are
 * records on a committed parent. Served by rpc/ (cvol-snapshotter). */
#pragma once

#include "../common/error.h"
#include "../rpc/rpc.h"

#define CVOL_SNAPSHOTTER_SOCKET "/run/cvol/snapshotter.sock"

struct cvol_snapshotter;

/* Open the snapshotter on the store under @root: one process serves a store at a time (a
 * second one is refused); repairs what a crash left (see docs/snapshotter.md). */
int cvol_snapshotter_open(const char *root, struct cvol_snapshotter **ret, struct cvol_error *err);
/* Close it (unmounts nothing: containers keep their roots). */
void cvol_snapshotter_close(struct cvol_snapshotter *s);
/* The gRPC service of @s, for rpc_server_run(). */
const struct rpc_service *cvol_snapshotter_service(struct cvol_snapshotter *s);
