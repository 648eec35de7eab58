/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The volume plugin protocol as dockerd speaks it: POST, JSON in and out, an error
 * is a non-empty "Err". Handlers work on a parsed body and never see the socket. */
#include "plugin.h"

#include <stdio.h>
#include <string.h>

#include "../common/strv.h"

enum {
	HTTP_OK = 200,
	HTTP_BAD_REQUEST = 400,
	HTTP_NOT_FOUND = 404,
	HTTP_CONFLICT = 409,
	HTTP_INTERNAL = 500,
};

struct request {
	struct cvol_volume_store *store;
	const struct cvol_plugin_config *cfg;
	json_t *body;  /* an object; empty for an empty body */
	json_t *reply; /* what the handler fills in */
	struct cvol_error err;
};

/* The HTTP status that fits a library error. */
static unsigned status_of(int code)
{
	switch (code) {
	case ENOENT:
		return HTTP_NOT_FOUND;
	case EINVAL:
	case E2BIG:
	case ENAMETOOLONG:
		return HTTP_BAD_REQUEST;
	case EEXIST:
	case EBUSY:
		return HTTP_CONFLICT;
	}
	return HTTP_INTERNAL;
}

static unsigned fail(struct request *req)
{
	return status_of(req->err.code);
}

/* A required string field of the request; a clear error when missing. */
static const char *field(struct request *req, const char *key)
{
	json_t *v = json_object_get(req->body, key);
	if (json_is_string(v))
		return json_string_value(v);
	cvol_error_setx(&req->err, EINVAL, "request needs a string field `%s`", key);
	return NULL;
}

static unsigned handle_activate(struct request *req)
{
	json_object_set_new(req->reply, "Implements", json_pack("[s]", "VolumeDriver"));
	return HTTP_OK;
}

static unsigned handle_capabilities(struct request *req)
{
	json_object_set_new(req->reply, "Capabilities",
			    json_pack("{s:s}", "Scope", req->cfg->global_scope ? "global" : "local"));
	return HTTP_OK;
}

static unsigned handle_create(struct request *req)
{
	const char *name = field(req, "Name");
	json_t *opts = json_object_get(req->body, "Opts");
	if (!name)
		return fail(req);
	if (opts && json_is_null(opts))
		opts = NULL;
	if (cvol_volume_create(req->store, name, opts, &req->err) < 0)
		return fail(req);
	return HTTP_OK;
}

static unsigned handle_remove(struct request *req)
{
	const char *name = field(req, "Name");
	if (!name || cvol_volume_remove(req->store, name, &req->err) < 0)
		return fail(req);
	return HTTP_OK;
}

static unsigned handle_get(struct request *req)
{
	struct cvol_volume_info info;
	const char *name = field(req, "Name");
	if (!name || cvol_volume_get(req->store, name, &info, &req->err) < 0)
		return fail(req);
	json_object_set_new(req->reply, "Volume", cvol_volume_info_to_json(&info));
	cvol_volume_info_done(&info);
	return HTTP_OK;
}

static unsigned handle_list(struct request *req)
{
	char **names;
	if (cvol_volume_list_names(req->store, &names, &req->err) < 0)
		return fail(req);
	json_t *list = json_array();
	for (char **n = names; list && *n; n++) {
		_cleanup_free_ char *path = cvol_volume_mountpoint_of(req->store, *n);
		if (path)
			json_array_append_new(list, json_pack("{s:s, s:s}", "Name", *n, "Mountpoint", path));
	}
	cvol_strv_free(names);
	json_object_set_new(req->reply, "Volumes", list);
	return HTTP_OK;
}

static unsigned handle_path(struct request *req)
{
	_cleanup_free_ char *path = NULL;
	const char *name = field(req, "Name");
	if (!name || cvol_volume_get_mountpoint(req->store, name, &path, &req->err) < 0)
		return fail(req);
	json_object_set_new(req->reply, "Mountpoint", json_string(path));
	return HTTP_OK;
}

static unsigned handle_mount(struct request *req)
{
	_cleanup_free_ char *path = NULL;
	const char *name = field(req, "Name");
	const char *id = name ? field(req, "ID") : NULL;
	if (!id || cvol_volume_mount(req->store, name, id, &path, &req->err) < 0)
		return fail(req);
	json_object_set_new(req->reply, "Mountpoint", json_string(path));
	return HTTP_OK;
}

static unsigned handle_unmount(struct request *req)
{
	const char *name = field(req, "Name");
	const char *id = name ? field(req, "ID") : NULL;
	if (!id || cvol_volume_unmount(req->store, name, id, &req->err) < 0)
		return fail(req);
	return HTTP_OK;
}

static const struct route {
	const char *path;
	unsigned (*handle)(struct request *req);
	bool has_err; /* the reply carries "Err" */
} routes[] = {
	{ "/Plugin.Activate", handle_activate, false },
	{ "/VolumeDriver.Capabilities", handle_capabilities, false },
	{ "/VolumeDriver.Create", handle_create, true },
	{ "/VolumeDriver.Remove", handle_remove, true },
	{ "/VolumeDriver.Get", handle_get, true },
	{ "/VolumeDriver.List", handle_list, true },
	{ "/VolumeDriver.Path", handle_path, true },
	{ "/VolumeDriver.Mount", handle_mount, true },
	{ "/VolumeDriver.Unmount", handle_unmount, true },
};

static char *encode(json_t *reply)
{
	char *text = json_dumps(reply, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(reply);
	return text ? text : strdup("{\"Err\":\"out of memory\"}");
}

static unsigned reply_error(unsigned status, const char *msg, char **ret_body)
{
	*ret_body = encode(json_pack("{s:s}", "Err", msg));
	return status;
}

/* True when the @len bytes of @body (not NUL-terminated) are all white space. */
static bool is_blank(const char *body, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!strchr(" \t\r\n", body[i]) || body[i] == '\0')
			return false;
	return true;
}

/* An empty body is an empty object; anything else must be a JSON object. */
static int parse_body(const char *body, size_t len, json_t **ret, char *why, size_t why_size)
{
	json_error_t jerr;

	if (is_blank(body, len)) {
		*ret = json_object();
		return 0;
	}
	json_t *doc = json_loadb(body, len, 0, &jerr);
	if (!doc) {
		snprintf(why, why_size, "malformed JSON at line %d column %d: %s", jerr.line, jerr.column,
			 jerr.text);
		return -EINVAL;
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		snprintf(why, why_size, "the request body must be a JSON object");
		return -EINVAL;
	}
	*ret = doc;
	return 0;
}

unsigned cvol_plugin_handle(struct cvol_volume_store *store, const struct cvol_plugin_config *cfg,
			    const char *path, const char *body, size_t len, char **ret_body)
{
	char why[256], msg[300];
	const struct route *route = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(routes); i++)
		if (strcmp(path, routes[i].path) == 0)
			route = &routes[i];
	if (!route) {
		snprintf(msg, sizeof(msg), "unknown endpoint `%s`", path);
		return reply_error(HTTP_NOT_FOUND, msg, ret_body);
	}
	struct request req = { .store = store, .cfg = cfg };
	if (parse_body(body, len, &req.body, why, sizeof(why)) < 0)
		return reply_error(HTTP_BAD_REQUEST, why, ret_body);
	req.reply = json_object();
	unsigned status = route->handle(&req);
	if (status != HTTP_OK || route->has_err)
		json_object_set_new(req.reply, "Err", json_string(status == HTTP_OK ? "" : req.err.msg));
	json_decref(req.body);
	*ret_body = encode(req.reply);
	return status;
}
