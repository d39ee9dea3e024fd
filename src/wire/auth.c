/* SPDX-License-Identifier: ISC */
/*
 * auth.c - the AUTH line (auth.h).  The token alphabet is that of base64,
 * base64url and RFC 6750 bearer tokens, so tokens that other tools make
 * can be used as they are, and nothing in it needs escaping anywhere.
 */
#include <string.h>

#include "wire/auth.h"

#define AUTH_PREFIX "AUTH "
#define AUTH_PREFIX_LEN 5

static bool
token_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=';
}

bool
auth_token_valid(const char *token, size_t len)
{
	if (len < AUTH_TOKEN_MIN || len > AUTH_TOKEN_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!token_char((unsigned char)token[i]))
			return false;
	}
	return true;
}

enum auth_status
auth_parse(const char *buf, size_t len, const char **token, size_t *token_len, size_t *line_len,
    const char **why)
{
	size_t n;

	*why = NULL;
	if (len == 0)
		return AUTH_NEED_MORE;
	/* A header line starts with its version digit: "A" can only begin an AUTH line. */
	if (memcmp(buf, AUTH_PREFIX, len < AUTH_PREFIX_LEN ? len : AUTH_PREFIX_LEN) != 0)
		return AUTH_NONE;
	if (len < AUTH_PREFIX_LEN)
		return AUTH_NEED_MORE;
	for (n = 0; AUTH_PREFIX_LEN + n < len; n++) {
		unsigned char c = (unsigned char)buf[AUTH_PREFIX_LEN + n];

		if (c == '\n')
			break;
		if (!token_char(c)) {
			*why = "AUTH token holds a character other than A-Z a-z 0-9 - . _ ~ + / =";
			return AUTH_BAD;
		}
		if (n + 1 > AUTH_TOKEN_MAX) {
			*why = "AUTH token longer than 256 bytes";
			return AUTH_BAD;
		}
	}
	if (AUTH_PREFIX_LEN + n == len)
		return AUTH_NEED_MORE;
	if (n < AUTH_TOKEN_MIN) {
		*why = "AUTH token shorter than 16 bytes";
		return AUTH_BAD;
	}
	*token = buf + AUTH_PREFIX_LEN;
	*token_len = n;
	*line_len = AUTH_PREFIX_LEN + n + 1;
	return AUTH_OK;
}

size_t
auth_line_format(char *buf, size_t len, const char *token, size_t token_len)
{
	size_t need = AUTH_PREFIX_LEN + token_len + 1;

	if (!auth_token_valid(token, token_len) || len < need + 1)
		return 0;
	memcpy(buf, AUTH_PREFIX, AUTH_PREFIX_LEN);
	memcpy(buf + AUTH_PREFIX_LEN, token, token_len);
	buf[need - 1] = '\n';
	buf[need] = '\0';
	return need;
}
