/*
 * fuzz_kpl.c: kpl_decode on arbitrary bytes never crashes, and a
 * successful decode's records all lie inside the input. Each input is
 * tried as it is and as a protobuf body wrapped with the magic and its
 * MD5, so the fuzzer gets past the checksum.
 */
/* fuzz-sources: worker/kpl.c common/util.c common/log.c */
/* fuzz-pkgs: libcrypto */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "kpl.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FAIL(...) do {							\
	fprintf(stderr, "fuzz_kpl: " __VA_ARGS__);			\
	fputc('\n', stderr);						\
	abort();							\
} while (0)

static int
within(const void *p, size_t n, const unsigned char *lo, size_t len)
{
	const unsigned char *q = p;

	return q != NULL && q >= lo && n <= len && q - lo <= (ptrdiff_t)(len - n);
}

/* where the touched bytes go, so the reads are not optimised away */
static volatile unsigned sink;

static void
check(const unsigned char *in, size_t len)
{
	struct kpl_agg agg;
	const char *why = NULL;
	unsigned sum = 0;
	size_t i, k;

	memset(&agg, 0xa5, sizeof(agg));
	if (kpl_decode(in, len, &agg, &why) == -1) {
		if (why == NULL || agg.records != NULL || agg.n != 0)
			FAIL("failure without reason or with records");
		return;
	}
	if (why != NULL)
		FAIL("success with a reason: %s", why);
	if (!kpl_is_aggregate(in, len))
		FAIL("decoded something that is not an aggregate");
	if (agg.n == 0 || agg.n > KPL_MAX_RECORDS)
		FAIL("record count %zu", agg.n);
	for (i = 0; i < agg.n; i++) {
		const struct kpl_record *r = &agg.records[i];

		if (!within(r->data, r->data_len, in, len) ||
		    !within(r->pk, r->pk_len, in, len) ||
		    (r->ehk != NULL && !within(r->ehk, r->ehk_len, in, len)) ||
		    (r->ehk == NULL && r->ehk_len != 0))
			FAIL("record %zu points outside the input", i);
		/* touch every byte: ASan checks what the ranges claim */
		for (k = 0; k < r->data_len; k++)
			sum += r->data[k];
		for (k = 0; k < r->pk_len; k++)
			sum += (unsigned char)r->pk[k];
	}
	sink += sum;
	kpl_free(&agg);
	if (agg.records != NULL || agg.n != 0)
		FAIL("kpl_free left records");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *w;
	unsigned int mdlen;

	check(data, size);

	/* exactly sized, so ASan sees any read past the end */
	w = xmalloc(size + 20);
	memcpy(w, KPL_MAGIC, 4);
	memcpy(w + 4, data, size);
	if (EVP_Digest(data, size, w + 4 + size, &mdlen, EVP_md5(),
	    NULL) != 1 || mdlen != 16)
		FAIL("EVP_Digest");
	check(w, size + 20);
	free(w);
	return 0;
}
