/*
 * body.c: validate and compact an upstream body with jansson.
 */
#include <string.h>

#include <jansson.h>

#include "body.h"
#include "log.h"

enum err
body_compact(const char *in, size_t len, char **out, size_t *outlen)
{
	json_t		*root;
	json_error_t	 jerr;
	char		*s;

	*out = NULL;
	*outlen = 0;
	/* Without JSON_DECODE_ANY only an object or an array is accepted. */
	if ((root = json_loadb(in, len, JSON_ALLOW_NUL, &jerr)) == NULL) {
		log_debug("%s: invalid JSON at byte %d: %s", __func__,
		    jerr.position, jerr.text);
		return ERR_UPSTREAM_JSON;
	}
	/* json_dumps escapes NUL as \u0000: the result is a C string. */
	s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (s == NULL)
		return ERR_NOMEM;
	*out = s;	/* jansson allocates with malloc: free() it */
	*outlen = strlen(s);
	return ERR_OK;
}
