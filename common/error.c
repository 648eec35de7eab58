/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ELLIPSIS     "\xe2\x80\xa6" /* "…" in UTF-8 */
#define ELLIPSIS_LEN (sizeof(ELLIPSIS) - 1)
#define MSG_ROOM     (CVOL_ERROR_MSG_MAX - 1)
/* Of a message too long, the start (outermost context) keeps a third of the room, the
 * end (the root cause) the rest. */
#define MSG_HEAD ((MSG_ROOM - ELLIPSIS_LEN) / 3)
#define MSG_TAIL (MSG_ROOM - ELLIPSIS_LEN - MSG_HEAD)

/* A message as pieces, joined only when stored. */
struct pieces {
	const char *s[3];
	size_t len[3];
};

static size_t pieces_len(const struct pieces *p)
{
	return p->len[0] + p->len[1] + p->len[2];
}

static unsigned char pieces_at(const struct pieces *p, size_t i)
{
	for (size_t k = 0; k < ARRAY_SIZE(p->s); i -= p->len[k], k++)
		if (i < p->len[k])
			return (unsigned char)p->s[k][i];
	return 0;
}

/* Copy bytes [@from, @from + @n) of @p to @dst; returns @dst + @n. */
static char *pieces_copy(const struct pieces *p, size_t from, size_t n, char *dst)
{
	for (size_t k = 0; k < ARRAY_SIZE(p->s) && n > 0; k++) {
		if (from >= p->len[k]) {
			from -= p->len[k];
			continue;
		}
		size_t c = p->len[k] - from < n ? p->len[k] - from : n;
		memcpy(dst, p->s[k] + from, c);
		dst += c, n -= c, from = 0;
	}
	return dst;
}

static bool utf8_continuation(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

static bool pieces_sep_at(const struct pieces *p, size_t i)
{
	return pieces_at(p, i) == ':' && pieces_at(p, i + 1) == ' ';
}

/* Whether "…" (of an earlier cut) starts at @i. */
static bool pieces_ellipsis_at(const struct pieces *p, size_t i)
{
	for (size_t k = 0; k < ELLIPSIS_LEN; k++)
		if (pieces_at(p, i + k) != (unsigned char)ELLIPSIS[k])
			return false;
	return true;
}

/* How far a cut moves to fall between two ": "-separated parts. */
#define CUT_SNAP 64

/* Store the pieces in @msg; when too long, drop from the middle and put "…" there:
 * "remove `a`: remove `b`: …: remove `y`: unlink `z`: Permission denied". The cut falls
 * on ": " when one is near, else on a UTF-8 character boundary. An earlier cut (a "…"
 * near the start of the message wrapped) is taken into this one, so a message has one
 * "…" however often it is wrapped. */
static void msg_store(char msg[CVOL_ERROR_MSG_MAX], const struct pieces *p)
{
	size_t total = pieces_len(p);
	if (total <= MSG_ROOM) {
		*pieces_copy(p, 0, total, msg) = '\0';
		return;
	}
	size_t head = MSG_HEAD, tail_from = total - MSG_TAIL;
	for (size_t i = head; i >= 2 && i > MSG_HEAD - CUT_SNAP; i--)
		if (pieces_sep_at(p, i - 2)) {
			head = i;
			break;
		}
	while (head > 0 && utf8_continuation(pieces_at(p, head)))
		head--;
	for (size_t i = tail_from; i < total - MSG_TAIL + CUT_SNAP; i++)
		if (pieces_sep_at(p, i)) {
			tail_from = i;
			break;
		}
	while (tail_from < total && utf8_continuation(pieces_at(p, tail_from)))
		tail_from++;
	/* An earlier cut is in the last piece (the message wrapped), with about MSG_TAIL -
	 * CUT_SNAP bytes or more after it: a cut keeps that many, a wrap adds in front. */
	for (size_t i = p->len[0] + p->len[1]; i + MSG_TAIL < total + CUT_SNAP + 2 * ELLIPSIS_LEN; i++)
		if (pieces_ellipsis_at(p, i)) {
			if (i < head)
				head = i;
			else if (i + ELLIPSIS_LEN > tail_from)
				tail_from = i + ELLIPSIS_LEN;
			break;
		}
	char *end = pieces_copy(p, 0, head, msg);
	memcpy(end, ELLIPSIS, ELLIPSIS_LEN);
	end = pieces_copy(p, tail_from, total - tail_from, end + ELLIPSIS_LEN);
	*end = '\0';
}

/* Format into @buf, or into *@heap when longer than @buf; returns the text. */
static const char *format(char *buf, size_t size, char **heap, const char *fmt, va_list ap)
{
	va_list again;
	va_copy(again, ap);
	int n = vsnprintf(buf, size, fmt, ap);
	if (n >= 0 && (size_t)n >= size && vasprintf(heap, fmt, again) < 0)
		*heap = NULL; /* out of memory: keep the cut text */
	va_end(again);
	if (n < 0)
		buf[0] = '\0';
	return *heap ? *heap : buf;
}

static int error_vset(struct cvol_error *err, int errnum, bool with_strerror, const char *fmt, va_list ap)
{
	if (errnum < 0)
		errnum = -errnum;
	if (errnum == 0)
		errnum = EIO;
	if (!err)
		return -errnum;

	char buf[CVOL_ERROR_MSG_MAX];
	_cleanup_free_ char *heap = NULL;
	const char *text = format(buf, sizeof(buf), &heap, fmt, ap);
	const char *cause = with_strerror ? strerror(errnum) : "";
	struct pieces p = { { text, with_strerror ? ": " : "", cause },
			    { strlen(text), with_strerror ? 2 : 0, strlen(cause) } };
	msg_store(err->msg, &p);
	err->code = errnum;
	return -errnum;
}

int cvol_error_set(struct cvol_error *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = error_vset(err, errnum, true, fmt, ap);
	va_end(ap);
	return r;
}

int cvol_error_setx(struct cvol_error *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = error_vset(err, errnum, false, fmt, ap);
	va_end(ap);
	return r;
}

int cvol_error_wrap(struct cvol_error *err, int r, const char *fmt, ...)
{
	int code = r < 0 ? -r : err && err->code > 0 ? err->code : EIO;
	if (!err)
		return -code;

	char buf[CVOL_ERROR_MSG_MAX], old[CVOL_ERROR_MSG_MAX];
	_cleanup_free_ char *heap = NULL;
	va_list ap;

	va_start(ap, fmt);
	const char *prefix = format(buf, sizeof(buf), &heap, fmt, ap);
	va_end(ap);
	/* the callee failed without a message: its errno is the cause */
	memcpy(old, err->msg, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	const char *cause = old[0] ? old : strerror(code);
	struct pieces p = { { prefix, ": ", cause }, { strlen(prefix), 2, strlen(cause) } };
	msg_store(err->msg, &p);
	err->code = code;
	return -code;
}

void cvol_error_clear(struct cvol_error *err)
{
	if (!err)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}
