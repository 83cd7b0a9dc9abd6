/* cli.h: the command lines of the reporting commands, called by
 * harness/main.c.  Each takes main's argc/argv (argv[1] is the command),
 * prints its own usage errors and returns an exit code of the taxonomy in
 * harness/runner.h: 0, 2 (bad input), 3 (could not write), 4 (a threshold
 * or a regression: check, history regressions, compare --fail-on-worse).
 * None touches MPI, and none re-runs anything. */
#ifndef STRATA_CLI_H
#define STRATA_CLI_H

int strata_cli_report(int argc, char **argv);
int strata_cli_compare(int argc, char **argv);
int strata_cli_check(int argc, char **argv);
int strata_cli_history(int argc, char **argv);
int strata_cli_estimate(int argc, char **argv);

/* One line per command for strata's usage text. */
extern const char strata_cli_usage[];

#endif
