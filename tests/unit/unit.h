/* unit.h - a tiny test harness: CHECK() counts passes and failures, and
 * unit_done() prints the one summary line "N passed, M failed" that
 * tests/unit/run.sh adds up.  Each test binary is a single translation unit,
 * so the counters can live here as statics. */
#ifndef RAGSTORE_UNIT_H
#define RAGSTORE_UNIT_H

#include <stdio.h>
#include <stdlib.h>

static unsigned int unit_passed, unit_failed;

#define CHECK(cond)                                                        \
	do {                                                               \
		if (cond) {                                                \
			unit_passed++;                                     \
		} else {                                                   \
			unit_failed++;                                     \
			fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n",   \
				__FILE__, __LINE__, __func__, #cond);      \
		}                                                          \
	} while (0)

/* Integer equality, printing both values on failure. */
#define CHECK_EQ(a, b)                                                     \
	do {                                                               \
		long long unit_a_ = (long long)(a), unit_b_ = (long long)(b); \
		if (unit_a_ == unit_b_) {                                  \
			unit_passed++;                                     \
		} else {                                                   \
			unit_failed++;                                     \
			fprintf(stderr,                                    \
				"%s:%d: %s: CHECK_EQ(%s, %s) failed: "     \
				"%lld != %lld\n",                          \
				__FILE__, __LINE__, __func__, #a, #b,      \
				unit_a_, unit_b_);                         \
		}                                                          \
	} while (0)

/* Print the summary line; the process exit status for main(). */
static inline int unit_done(void)
{
	printf("%u passed, %u failed\n", unit_passed, unit_failed);
	return unit_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
