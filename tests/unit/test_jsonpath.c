/*
 * test_jsonpath.c: worker/jsonpath.c, the {json:PATH} values of s3.key:
 * members found by dot-separated names in minified payloads, strings
 * unescaped, numbers and booleans as written, everything else missing,
 * and every value safe for a key ([A-Za-z0-9._-], at most 64 bytes).
 */
#include <stdio.h>
#include <string.h>

#include "jsonpath.h"
#include "jsonscan.h"
#include "t.h"
#include "util.h"

static void
check(const char *payload, const char *path, const char *want)
{
	struct buf min, out;
	const unsigned char *json = NULL;

	buf_init(&min);
	buf_init(&out);
	if (json_minify(&min, (const unsigned char *)payload,
	    strlen(payload)) == 0)
		json = (const unsigned char *)min.data;
	jpath_value(&out, json, min.len, path, strlen(path));
	T_STREQ(out.data, want, path);
	if (out.data != NULL && strcmp(out.data, want) != 0)
		printf("#   payload: %s\n", payload);
	buf_free(&min);
	buf_free(&out);
}

int
main(void)
{
	char big[200], want[80];

	check("{\"a\":\"x\"}", "a", "x");
	check("{\"a\":{\"b\":{\"c\":\"deep\"}}}", "a.b.c", "deep");
	check(" { \"a\" : { \"b\" : \"sp aced\" } } ", "a.b", "sp_aced");
	check("{\"z\":[1,{\"a\":2}],\"y\":{\"a\":\"no\"},\"a\":\"yes\"}", "a",
	    "yes");
	check("{\"a\":1,\"a\":2}", "a", "1");
	check("{\"a\":-12.5e+3}", "a", "-12.5e_3");
	check("{\"a\":true,\"b\":false}", "a", "true");
	check("{\"a\":true,\"b\":false}", "b", "false");
	check("{\"a\":null}", "a", JPATH_MISSING);
	check("{\"a\":{}}", "a", JPATH_MISSING);
	check("{\"a\":[\"x\"]}", "a", JPATH_MISSING);
	check("{\"a\":\"x\"}", "b", JPATH_MISSING);
	check("{\"a\":\"x\"}", "a.b", JPATH_MISSING);
	check("{}", "a", JPATH_MISSING);
	check("[{\"a\":1}]", "a", JPATH_MISSING);
	check("\"a\"", "a", JPATH_MISSING);
	check("not json", "a", JPATH_MISSING);
	check("{\"a\":\"x\"", "a", JPATH_MISSING);
	check("{\"a\":\"\"}", "a", JPATH_EMPTY);
	check("{\"a\":\".\"}", "a", "_");
	check("{\"a\":\"..\"}", "a", "__");
	check("{\"a\":\"..x\"}", "a", "..x");
	check("{\"a\":\"a/b c=d+e:f*g,h@i$j\"}", "a", "a_b_c_d_e_f_g_h_i_j");
	check("{\"a\":\"caf\\u00e9\"}", "a", "caf__");
	check("{\"a\":\"caf\xc3\xa9\"}", "a", "caf__");
	check("{\"a\":\"\\ud83d\\ude00!\"}", "a", "_____");
	check("{\"a\":\"q\\\"\\\\\\/\\n\"}", "a", "q____");
	check("{\"a\\\"b\":\"esc\"}", "a\\\"b", "esc");
	check("{\"a.b\":\"dotted\"}", "a.b", JPATH_MISSING);
	memset(big, 'x', sizeof(big));
	snprintf(big, sizeof(big), "{\"a\":\"%0150d\"}", 7);
	memset(want, '0', 64);
	want[64] = '\0';
	check(big, "a", want);
	return t_done();
}
