/*
 * cmd.h — the subcommands. Each takes argv with argv[0] = its name and
 * returns the process exit status; only these and the console print.
 */
#ifndef RBC_CMD_H
#define RBC_CMD_H

int cmd_check(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_runs(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_follow(int argc, char **argv);
int cmd_join(int argc, char **argv);

#endif
