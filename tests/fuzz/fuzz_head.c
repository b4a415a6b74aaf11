/*
 * fuzz_head.c: the parsers of what S3 says about the archive (common/
 * archive.c): the per-shard head object and the objects' user metadata.
 * Whatever the input, no crash; and what parses must come back the same
 * through arc_head_format / arc_meta_build.
 */
/* fuzz-sources: common/archive.c common/ckpt.c common/pos.c common/util.c common/log.c */
/* fuzz-pkgs: json-c libcrypto */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FAIL(...) do {							\
	fprintf(stderr, "fuzz_head: " __VA_ARGS__);			\
	fputc('\n', stderr);						\
	abort();							\
} while (0)

static void
head(const uint8_t *data, size_t len)
{
	struct arc_head h, g;
	const char *why;
	char *s;

	if (arc_head_parse((const char *)data, len, &h, &why) == -1) {
		if (why == NULL)
			FAIL("refused without a reason");
		return;
	}
	s = arc_head_format(&h, "stream");
	if (arc_head_parse(s, strlen(s), &g, &why) == -1)
		FAIL("its own output refused (%s): %s", why, s);
	if (strcmp(h.key, g.key) != 0 || strcmp(h.sha256, g.sha256) != 0 ||
	    strcmp(h.last.seq, g.last.seq) != 0 ||
	    h.last.has_sub != g.last.has_sub || h.last.sub != g.last.sub ||
	    h.last_more != g.last_more || h.done != g.done ||
	    strcmp(h.shard, g.shard) != 0)
		FAIL("round trip changed the head: %s", s);
	free(s);
}

static void
meta(const uint8_t *data, size_t len)
{
	struct arc_object o, p;
	struct arc_meta m;
	struct buf b, c;
	const char *why;
	size_t i;

	buf_init(&b);
	buf_add(&b, data, len);
	if (arc_meta_parse(&b, &o, &why) == 0) {
		arc_meta_build(&m, &o);
		buf_init(&c);
		for (i = 0; i < m.n; i++)
			buf_printf(&c, "%s: %s\n", m.kv[i].name, m.kv[i].value);
		if (arc_meta_parse(&c, &p, &why) == -1)
			FAIL("its own metadata refused (%s)", why);
		if (strcmp(o.first.seq, p.first.seq) != 0 ||
		    strcmp(o.last.seq, p.last.seq) != 0 ||
		    o.records != p.records || strcmp(o.sha256, p.sha256) != 0 ||
		    o.last_more != p.last_more || o.last.sub != p.last.sub ||
		    strcmp(o.prev.sha256, p.prev.sha256) != 0)
			FAIL("round trip changed the metadata");
		buf_free(&c);
	}
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	/* the first byte picks the parser */
	if (len == 0)
		return 0;
	if (data[0] & 1)
		head(data + 1, len - 1);
	else
		meta(data + 1, len - 1);
	return 0;
}
