/* Tiny TAP-like reporting for the ctest programs: one "ok N - ..." / "not ok N - ..." line per
 * check, then "1..N" and the closing line "N passed, N failed". */
#ifndef CTEST_TAP_H
#define CTEST_TAP_H

/* Record one check; returns cond. */
int tap_ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print a diagnostic line ("# ..."). */
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print the plan and the summary; the exit status (0 if every check passed). */
int tap_done(void);

#define CHECK(cond, ...) tap_ok(!!(cond), __VA_ARGS__)

#endif
