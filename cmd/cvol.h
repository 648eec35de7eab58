/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The `cvol` command: global options and the table of commands. */
#pragma once

#include "../image/image.h"
#include "../layers/layers.h"
#include "cli.h"
#include "output.h"

struct cvol_globals {
	const char *root; /* --root, $CVOL_ROOT, or CVOL_DEFAULT_ROOT */
	bool json;	  /* --json */
};

/* `cvol info`: backing fs, d_type, kernel features, layer count. */
int cvol_cmd_info(const struct cvol_globals *g, int argc, char **argv);
/* `cvol layer create|mount|umount|rm|ls`. */
int cvol_cmd_layer(const struct cvol_globals *g, int argc, char **argv);
/* `cvol image import`. */
int cvol_cmd_image(const struct cvol_globals *g, int argc, char **argv);
/* `cvol volume create|ls|inspect|rm|mount|umount`. */
int cvol_cmd_volume(const struct cvol_globals *g, int argc, char **argv);
