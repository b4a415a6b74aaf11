/*
 * fuzz_config.c: cfg_parse on arbitrary NUL-terminated text never crashes
 * or leaks, and returns -1 exactly when it reported errors, each one a
 * "fuzz.conf:LINE: message" line; a configuration it accepts has the
 * required settings and values inside their documented ranges.
 */
/* fuzz-sources: common/cfg.c common/cfg_check.c common/cfg_dump.c common/cfg_file.c common/cfg_units.c common/util.c common/log.c */
/* fuzz-pkgs: libconfig libcrypto */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "util.h"

int		 LLVMFuzzerTestOneInput(const uint8_t *, size_t);
const char	*__lsan_default_suppressions(void);

/*
 * libconfig 1.5 (Debian 12) leaks the text of a string token when a
 * syntax error follows it (no bison %destructor): config_read_string()
 * on the two bytes "" leaks 1 byte, with no cfg.c code involved. Only
 * that allocation site is suppressed (libconfig has no frame pointers:
 * the stack often stops at strbuf_append).
 */
const char *
__lsan_default_suppressions(void)
{
	return "leak:libconfig_yylex\nleak:strbuf_append\n";
}

#define FAIL(...) do {							\
	fprintf(stderr, "fuzz_config: " __VA_ARGS__);			\
	fputc('\n', stderr);						\
	abort();							\
} while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg cfg;
	struct cfg_errors errs;
	char *text;
	size_t i;
	int r;

	/*
	 * @include would make libconfig read files named by the input
	 * (/dev/zero, /dev/stdin...): not what this target is about.
	 */
	if (memmem(data, size, "include", 7) != NULL)
		return 0;
	text = xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';

	memset(&errs, 0, sizeof(errs));
	r = cfg_parse(&cfg, "fuzz.conf", text, NULL, 0, 0, &errs);
	if (r != 0 && r != -1)
		FAIL("returned %d", r);
	if ((r == -1) != (errs.n > 0))
		FAIL("returned %d with %zu errors", r, errs.n);
	for (i = 0; i < errs.n; i++) {
		const char *m = errs.msgs[i], *p;

		if (m == NULL || strncmp(m, "fuzz.conf:", 10) != 0)
			FAIL("error %zu is not \"fuzz.conf:LINE: ...\": %s", i,
			    m ? m : "(null)");
		for (p = m + 10; *p >= '0' && *p <= '9'; p++)
			;
		if (p == m + 10 || strncmp(p, ": ", 2) != 0 || p[2] == '\0')
			FAIL("error %zu is not \"fuzz.conf:LINE: ...\": %s", i,
			    m);
	}
	if (r == 0) {
		if (cfg.stream == NULL || *cfg.stream == '\0' ||
		    cfg.state_dir == NULL || *cfg.state_dir == '\0' ||
		    cfg.s3_bucket == NULL || *cfg.s3_bucket == '\0' ||
		    cfg.s3_key == NULL || cfg.region == NULL)
			FAIL("accepted without a required setting");
		if (cfg.read_max_records < 1 || cfg.read_max_records > 10000)
			FAIL("read.max_records %d", cfg.read_max_records);
		if (cfg.read_other_readers < 0 || cfg.read_other_readers > 100)
			FAIL("read.other_readers %d", cfg.read_other_readers);
		if (cfg.local_keep < 0)
			FAIL("local.keep %d", cfg.local_keep);
		if (cfg.format_compression == COMPRESSION_GZIP &&
		    (cfg.format_level < 1 || cfg.format_level > 9))
			FAIL("format.level %d", cfg.format_level);
		if (cfg.restart_min_ms > cfg.restart_max_ms)
			FAIL("restart_min %llu > restart_max %llu",
			    (unsigned long long)cfg.restart_min_ms,
			    (unsigned long long)cfg.restart_max_ms);
		cfg_free(&cfg);
	}
	cfg_errors_free(&errs);
	free(text);
	return 0;
}
