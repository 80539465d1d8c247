/*
 * unfinished.h — a resumed run's steps whose start is recorded and not
 * their end (resume_state.cut): the operator decides for each — run it
 * again, mark it done, skip it with a reason — before the flow goes on
 * (docs/journal.md, "Resuming"; docs/console.md, the unfinished-step
 * prompt). Every decision is journaled with who decided: a note (run
 * again) or the step's end (done, skipped), never silently.
 */
#ifndef RBC_UNFINISHED_H
#define RBC_UNFINISHED_H

#include <stdbool.h>
#include <stddef.h>

enum unfinished_choice { UNFINISHED_ASK, UNFINISHED_RERUN, UNFINISHED_DONE, UNFINISHED_SKIP };

struct engine;
struct resume_state;
struct resume_cut;

/* "rerun", "done", "skip"; UNFINISHED_ASK for anything else. */
enum unfinished_choice unfinished_parse(const char *word);

/* Steps still to decide; the first of them (NULL: none). rs: the
   session's resume state (session_resume_state; NULL: not a resume). */
size_t unfinished_left(const struct resume_state *rs);
const struct resume_cut *unfinished_next(const struct resume_state *rs);

/* Decides the first step left as c, recorded with by (skip: reason, which
   it needs). False with *why (a static string) when it cannot be. */
bool unfinished_decide(struct resume_state *rs, struct engine *e, enum unfinished_choice c, const char *reason,
                       const char *by, const char **why);

/* The steps left, "1.2 Title, 3 Other" (a new string; NULL: none). */
char *unfinished_list(const struct resume_state *rs);

#endif
