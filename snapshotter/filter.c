/* SPDX-License-Identifier: GPL-2.0-or-later */
/* containerd's filter syntax, as its List sends it and as its `filters` package reads it:
 *
 *   filters  := selector ("," selector)*         all selectors must match
 *   selector := fieldpath [op value]             no op: the field is present
 *   fieldpath:= field ("." field)*               field: [A-Za-z0-9_]+ or "quoted"
 *   op       := "==" | "!=" | "~="               ~= : a POSIX extended regex
 *   value    := "quoted" | /quoted/ | chars up to "," or a space
 *
 * A snapshot has the fields kind (view, active, committed), name, parent and labels.KEY; a
 * list of filters matches if any of them does. Parsing is a loop over the bytes (no
 * recursion), and a filter is at most SNAP_FILTER_MAX bytes. */
#include "snapshotter-internal.h"

#include <ctype.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

enum op {
	OP_PRESENT,
	OP_EQUAL,
	OP_NOT_EQUAL,
	OP_MATCHES,
};

struct selector {
	char **path; /* the field path, at least one field */
	enum op op;
	char *value;
	regex_t re;    /* OP_MATCHES */
	bool compiled; /* @re is to be freed */
};

/* One filter: its selectors, all of which must match. */
struct conjunction {
	struct selector *sel;
	size_t n;
};

struct snap_filter {
	struct conjunction *any;
	size_t n;
};

static void selector_done(struct selector *s)
{
	cvol_strv_free(s->path);
	free(s->value);
	if (s->compiled)
		regfree(&s->re);
}

void snap_filter_free(struct snap_filter *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++) {
		for (size_t j = 0; j < f->any[i].n; j++)
			selector_done(&f->any[i].sel[j]);
		free(f->any[i].sel);
	}
	free(f->any);
	free(f);
}

/* ---- the scanner -------------------------------------------------------------------- */

struct scanner {
	const char *s;
	size_t pos;
	const char *filter; /* for messages */
	struct cvol_error *err;
};

static int syntax_error(struct scanner *sc, const char *what)
{
	return cvol_error_setx(sc->err, EINVAL, "filter `%.200s`: %s at byte %zu", sc->filter, what, sc->pos);
}

static void skip_spaces(struct scanner *sc)
{
	while (sc->s[sc->pos] == ' ' || sc->s[sc->pos] == '\t')
		sc->pos++;
}

static char unescape(char c)
{
	switch (c) {
	case 'n':
		return '\n';
	case 't':
		return '\t';
	case 'r':
		return '\r';
	default:
		return c;
	}
}

/* A string between @quote characters, with backslash escapes; the scanner is on the quote. */
static int scan_quoted(struct scanner *sc, char quote, char **ret)
{
	size_t start = ++sc->pos, len = 0;
	_cleanup_free_ char *out = malloc(strlen(sc->s + start) + 1);

	if (!out)
		return cvol_error_set(sc->err, ENOMEM, "parse filter");
	for (;;) {
		char c = sc->s[sc->pos];
		if (c == '\0')
			return syntax_error(sc, "unterminated quoted string");
		sc->pos++;
		if (c == quote)
			break;
		if (c == '\\' && sc->s[sc->pos] != '\0') {
			c = sc->s[sc->pos++];
			/* in a /regex/, keep escapes other than \/ for the regex */
			if (quote == '/' && c != '/')
				out[len++] = '\\';
			else
				c = unescape(c);
		}
		out[len++] = c;
	}
	out[len] = '\0';
	*ret = TAKE_PTR(out);
	return 0;
}

static bool is_field_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

static int scan_field(struct scanner *sc, char **ret)
{
	if (sc->s[sc->pos] == '"')
		return scan_quoted(sc, '"', ret);
	size_t start = sc->pos;
	while (is_field_char(sc->s[sc->pos]))
		sc->pos++;
	if (sc->pos == start)
		return syntax_error(sc, "expected a field name");
	*ret = strndup(sc->s + start, sc->pos - start);
	return *ret ? 0 : cvol_error_set(sc->err, ENOMEM, "parse filter");
}

static int scan_fieldpath(struct scanner *sc, char ***ret)
{
	_cleanup_strv_free_ char **path = NULL;

	for (;;) {
		_cleanup_free_ char *field = NULL;
		int r = scan_field(sc, &field);
		if (r < 0)
			return r;
		if (strv_push(&path, field) < 0)
			return cvol_error_set(sc->err, ENOMEM, "parse filter");
		if (sc->s[sc->pos] != '.')
			break;
		sc->pos++;
	}
	*ret = TAKE_PTR(path);
	return 0;
}

static int scan_op(struct scanner *sc, enum op *ret)
{
	static const struct {
		const char *text;
		enum op op;
	} ops[] = { { "==", OP_EQUAL }, { "!=", OP_NOT_EQUAL }, { "~=", OP_MATCHES } };

	skip_spaces(sc);
	char c = sc->s[sc->pos];
	if (c == '\0' || c == ',') {
		*ret = OP_PRESENT;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
		if (strncmp(sc->s + sc->pos, ops[i].text, 2) == 0) {
			sc->pos += 2;
			*ret = ops[i].op;
			return 0;
		}
	return syntax_error(sc, "expected ==, != or ~=");
}

static int scan_value(struct scanner *sc, char **ret)
{
	skip_spaces(sc);
	char c = sc->s[sc->pos];
	if (c == '"' || c == '/')
		return scan_quoted(sc, c, ret);
	size_t start = sc->pos;
	while (sc->s[sc->pos] && sc->s[sc->pos] != ',' && sc->s[sc->pos] != ' ' && sc->s[sc->pos] != '\t')
		sc->pos++;
	if (sc->pos == start)
		return syntax_error(sc, "expected a value");
	*ret = strndup(sc->s + start, sc->pos - start);
	return *ret ? 0 : cvol_error_set(sc->err, ENOMEM, "parse filter");
}

#define REGEX_MAX	1024 /* bytes of one ~= pattern */
#define REGEX_COUNT_MAX 100  /* {m,n}: at most this */

/* A repetition operator at @p ("*", "+", "?" or "{m,n}"): its length, 0 if none; its count in
 * *@count (1 for the others), -1 for a brace that is not a count. */
static size_t repetition_at(const char *p, long *count)
{
	*count = 1;
	if (*p == '*' || *p == '+' || *p == '?')
		return 1;
	if (*p != '{')
		return 0;
	char *end;
	long m = strtol(p + 1, &end, 10), n = m;
	if (end == p + 1)
		return 0; /* a literal brace */
	if (*end == ',')
		n = end[1] == '}' ? m : strtol(end + 1, &end, 10);
	if (*end == ',')
		end++;
	if (*end != '}')
		return 0;
	*count = m > n ? m : n;
	return (size_t)(end - p) + 1;
}

/* Refuse a pattern that makes glibc's regcomp() take memory without a bound, as RE2 (the
 * engine containerd's filters use) refuses it too: a repetition right after another ("a**",
 * "a+{2}"; one "?" after a repetition is RE2's lazy mark and allowed), a count above
 * REGEX_COUNT_MAX, more than one count, a pattern over REGEX_MAX bytes. */
static int regex_check(struct scanner *sc, const char *re)
{
	bool after_rep = false, lazy_done = false;
	unsigned counts = 0;

	if (strlen(re) > REGEX_MAX)
		return syntax_error(sc, "the regular expression is too long");
	for (const char *p = re; *p;) {
		long count;
		size_t len = repetition_at(p, &count);
		if (len == 0) {
			if (*p == '\\' && p[1] >= '1' && p[1] <= '9') /* glibc's regexec recurses on them */
				return syntax_error(sc,
						    "a back-reference (RE2, containerd's engine, has none)");
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '[') /* a bracket expression: "]" first is a member */
				for (p += p[1] == '^' ? 2 : 1, p += *p == ']'; *p && *p != ']'; p++)
					;
			if (*p)
				p++;
			after_rep = lazy_done = false;
			continue;
		}
		if (after_rep && (*p != '?' || lazy_done))
			return syntax_error(sc, "invalid nested repetition operator");
		lazy_done = after_rep;
		after_rep = true;
		if (*p == '{' && (++counts > 1 || count > REGEX_COUNT_MAX))
			return syntax_error(sc, "a repetition count above 100, or more than one");
		p += len;
	}
	return 0;
}

static int scan_selector(struct scanner *sc, struct selector *ret)
{
	struct selector s = { 0 };

	skip_spaces(sc);
	int r = scan_fieldpath(sc, &s.path);
	if (r == 0)
		r = scan_op(sc, &s.op);
	if (r == 0 && s.op != OP_PRESENT)
		r = scan_value(sc, &s.value);
	if (r == 0 && s.op == OP_MATCHES) {
		r = regex_check(sc, s.value);
		if (r == 0 && !(s.compiled = regcomp(&s.re, s.value, REG_EXTENDED | REG_NOSUB) == 0))
			r = syntax_error(sc, "the regular expression does not compile");
	}
	if (r < 0) {
		selector_done(&s);
		return r;
	}
	*ret = s;
	return 0;
}

static int parse_one(const char *text, struct conjunction *ret, struct cvol_error *err)
{
	struct scanner sc = { .s = text, .filter = text, .err = err };
	struct conjunction c = { 0 };
	int r = 0;

	if (strlen(text) > SNAP_FILTER_MAX)
		return cvol_error_setx(err, EINVAL, "a filter of %zu bytes; at most %d", strlen(text),
				       SNAP_FILTER_MAX);
	skip_spaces(&sc);
	while (r == 0 && text[sc.pos]) {
		struct selector *more = realloc(c.sel, (c.n + 1) * sizeof(*c.sel));
		if (!more) {
			r = cvol_error_set(err, ENOMEM, "parse filter");
			break;
		}
		c.sel = more;
		r = scan_selector(&sc, &c.sel[c.n]);
		if (r < 0)
			break;
		c.n++;
		skip_spaces(&sc);
		if (text[sc.pos] == ',') {
			sc.pos++;
			skip_spaces(&sc);
			if (!text[sc.pos])
				r = syntax_error(&sc, "a selector must follow ,");
		} else if (text[sc.pos]) {
			r = syntax_error(&sc, "expected , or the end");
		}
	}
	if (r < 0) {
		for (size_t j = 0; j < c.n; j++)
			selector_done(&c.sel[j]);
		free(c.sel);
		return r;
	}
	*ret = c;
	return 0;
}

int snap_filter_parse(char *const *filters, size_t n, struct snap_filter **ret, struct cvol_error *err)
{
	*ret = NULL;
	if (n == 0)
		return 0; /* no filter: everything matches */
	if (n > SNAP_FILTERS_MAX)
		return cvol_error_setx(err, EINVAL, "%zu filters; at most %d", n, SNAP_FILTERS_MAX);
	struct snap_filter *f = calloc(1, sizeof(*f));
	if (!f || !(f->any = calloc(n, sizeof(*f->any)))) {
		free(f);
		return cvol_error_set(err, ENOMEM, "parse filters");
	}
	for (size_t i = 0; i < n; i++) {
		int r = parse_one(filters[i], &f->any[i], err);
		if (r < 0) {
			snap_filter_free(f);
			return r;
		}
		f->n++;
	}
	*ret = f;
	return 0;
}

/* ---- matching -------------------------------------------------------------------------- */

static const char *kind_name(enum snap_kind k)
{
	return k == SNAP_VIEW ? "view" : k == SNAP_ACTIVE ? "active" : k == SNAP_COMMITTED ? "committed" : "";
}

/* A field's value as containerd's snapshot adaptor gives it; NULL when absent. */
static const char *field_value(char **path, const struct snap_record *rec, const struct snap_labels *labels)
{
	size_t n = strv_length(path);

	if (strcmp(path[0], "kind") == 0 && n == 1)
		return kind_name(rec->kind);
	if (strcmp(path[0], "name") == 0 && n == 1)
		return rec->key;
	if (strcmp(path[0], "parent") == 0 && n == 1)
		return rec->parent ? rec->parent : "";
	if (strcmp(path[0], "labels") == 0 && n == 2 && labels)
		return snap_labels_get(labels, path[1]);
	return NULL;
}

static bool selector_match(const struct selector *s, const struct snap_record *rec,
			   const struct snap_labels *labels)
{
	const char *v = field_value(s->path, rec, labels);

	switch (s->op) {
	case OP_PRESENT:
		return v != NULL;
	case OP_EQUAL:
		return v && strcmp(v, s->value) == 0;
	case OP_NOT_EQUAL:
		return strcmp(v ? v : "", s->value) != 0;
	case OP_MATCHES:
		return regexec(&s->re, v ? v : "", 0, NULL, 0) == 0;
	}
	return false;
}

bool snap_filter_match(const struct snap_filter *f, const struct snap_record *rec,
		       const struct snap_labels *labels)
{
	if (!f)
		return true;
	for (size_t i = 0; i < f->n; i++) {
		bool all = true;
		for (size_t j = 0; j < f->any[i].n && all; j++)
			all = selector_match(&f->any[i].sel[j], rec, labels);
		if (all)
			return true;
	}
	return false;
}

bool snap_filter_needs_labels(const struct snap_filter *f)
{
	for (size_t i = 0; f && i < f->n; i++)
		for (size_t j = 0; j < f->any[i].n; j++)
			if (strcmp(f->any[i].sel[j].path[0], "labels") == 0)
				return true;
	return false;
}
