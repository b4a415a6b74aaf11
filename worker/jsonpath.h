/*
 * jsonpath.h: the value of a {json:PATH} placeholder in s3.key: a member
 * of a JSON payload, found by dot-separated names, made safe for a key.
 */
#ifndef KK_JSONPATH_H
#define KK_JSONPATH_H

#include <stddef.h>

#include "util.h"

/* The value of a payload without the member, or not JSON at all; also
 * of null, objects and arrays */
#define JPATH_MISSING	"_missing"
/* The value of an empty string */
#define JPATH_EMPTY	"_empty"
/* Longest value kept (bytes of its UTF-8, before they are made safe) */
#define JPATH_MAX	64

/*
 * Append the value of path (path_len bytes, names separated by '.') in
 * json[0..len), which must be compact, valid JSON (json_minify's output),
 * or NULL for a payload that is not JSON. Strings are unescaped, numbers
 * and true/false taken as written; the first JPATH_MAX bytes are kept and
 * every byte outside [A-Za-z0-9._-] becomes '_'; a value of dots only
 * becomes underscores. Member names match byte for byte as written in the
 * payload (escapes included); the first of duplicate names wins.
 */
void	jpath_value(struct buf *, const unsigned char *json, size_t len,
	    const char *path, size_t path_len);

#endif
