/*
 * fuzz_jsonpath.c: {json:PATH} values (worker/jsonpath.c) of any payload,
 * through json_minify as the worker does: never a crash, and every value
 * is safe for a key (only A-Z a-z 0-9 . _ -, not empty, not dots only, at
 * most 64 bytes) whatever the bytes.
 */
/* fuzz-sources: worker/jsonpath.c common/jsonscan.c common/util.c common/log.c */
/* fuzz-pkgs: libcrypto */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonpath.h"
#include "jsonscan.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FAIL(...) do {							\
	fprintf(stderr, "fuzz_jsonpath: " __VA_ARGS__);			\
	fputc('\n', stderr);						\
	abort();							\
} while (0)

static const char *const paths[] = {
	"a", "a.b", "a.b.c", "tenant.id", "x", "\\u0061", "a\\\"b", "1.2"
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf min, out;
	const char *path;
	size_t i, dots = 0;

	if (size < 1)
		return 0;
	path = paths[data[0] % (sizeof(paths) / sizeof(paths[0]))];
	buf_init(&min);
	buf_init(&out);
	jpath_value(&out, json_minify(&min, data + 1, size - 1) == 0 ?
	    (const unsigned char *)min.data : NULL, min.len, path,
	    strlen(path));
	if (out.len == 0 || out.len > JPATH_MAX)
		FAIL("value of %zu bytes", out.len);
	for (i = 0; i < out.len; i++) {
		unsigned char c = (unsigned char)out.data[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '-'))
			FAIL("unsafe byte 0x%02x in the value", c);
		dots += c == '.';
	}
	if (dots == out.len)
		FAIL("a value of dots only");
	buf_free(&min);
	buf_free(&out);
	return 0;
}
