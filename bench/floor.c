/*
 * floor.c: an engine's floor for bench.py: the keeper's own compression
 * module (worker/compress.c) alone on a file of JSON lines, fed in the
 * chunks batch.c uses. Prints "CPU-seconds compressed-bytes"; the CPU of
 * reading the file is measured apart and subtracted.
 * usage: kk-floor gzip|zstd level file
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compress.h"

static double
cpu(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int
main(int argc, char *argv[])
{
	enum cfg_compression kind;
	struct comp c;
	struct buf in, out;
	FILE *f;
	size_t n, chunk, stored = 0;
	double c0, c1, c2;

	if (argc != 4) {
		fprintf(stderr, "usage: kk-floor gzip|zstd level file\n");
		return 2;
	}
	kind = strcmp(argv[1], "zstd") == 0 ? COMPRESSION_ZSTD :
	    COMPRESSION_GZIP;
	if ((f = fopen(argv[3], "rb")) == NULL) {
		perror(argv[3]);
		return 1;
	}
	comp_init(&c, kind, atoi(argv[2]));
	chunk = comp_chunk(&c);
	buf_init(&in);
	buf_init(&out);
	buf_reserve(&in, chunk);

	c0 = cpu();
	while (fread(in.data, 1, chunk, f) > 0)
		;
	rewind(f);
	c1 = cpu();
	while ((n = fread(in.data, 1, chunk, f)) > 0) {
		comp_write(&c, &out, in.data, n);
		/* only the size counts: keep memory flat */
		stored += out.len;
		buf_reset(&out);
	}
	comp_finish(&c, &out, "", 0);
	stored += out.len;
	c2 = cpu();
	fclose(f);
	printf("%.3f %zu\n", (c2 - c1) - (c1 - c0), stored);
	comp_free(&c);
	buf_free(&in);
	buf_free(&out);
	return 0;
}
