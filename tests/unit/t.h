/*
 * t.h: a minimal unit test harness. Each test binary prints one TAP-like
 * line per check ("ok - ..." / "not ok - ...") and ends with
 * "N passed, N failed"; tests/run.sh adds the counts up.
 */
#ifndef KK_T_H
#define KK_T_H

#include <stdio.h>
#include <string.h>

static int t_passed, t_failed;

#define T_OK(cond, ...) do {						\
	if (cond) {							\
		t_passed++;						\
		printf("ok - ");					\
	} else {							\
		t_failed++;						\
		printf("not ok - %s:%d: ", __FILE__, __LINE__);		\
	}								\
	printf(__VA_ARGS__);						\
	printf("\n");							\
} while (0)

#define T_STREQ(a, b, name) do {					\
	const char *t_a_ = (a), *t_b_ = (b);				\
	int t_eq_ = t_a_ != NULL && t_b_ != NULL && strcmp(t_a_, t_b_) == 0; \
	T_OK(t_eq_, "%s", name);					\
	if (!t_eq_)							\
		printf("#   got:      %s\n#   expected: %s\n",		\
		    t_a_ ? t_a_ : "(null)", t_b_ ? t_b_ : "(null)");	\
} while (0)

#define T_INTEQ(a, b, name) do {					\
	long long t_a_ = (long long)(a), t_b_ = (long long)(b);		\
	T_OK(t_a_ == t_b_, "%s", name);					\
	if (t_a_ != t_b_)						\
		printf("#   got: %lld expected: %lld\n", t_a_, t_b_);	\
} while (0)

static inline int
t_done(void)
{
	printf("%d passed, %d failed\n", t_passed, t_failed);
	return t_failed != 0;
}

#endif
