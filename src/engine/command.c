/*
 * command.c — a joiner's command in the run's record (docs/team.md,
 * "Joining a run"): who asked what of which step, from which host, and
 * whether it was applied or refused and why. The command's effect, when
 * applied, is the engine's own answer or note, recorded as it always is;
 * this event only says who asked for it.
 */
#include "emit.h"

/* Reports the command event; its fields are the detail's (engine.h). */
void engine_command(struct engine *e, const struct cJSON *detail)
{
	const cJSON *by = cJSON_GetObjectItemCaseSensitive(detail, "by");
	const cJSON *text = cJSON_GetObjectItemCaseSensitive(detail, "text");
	struct eng_event ev = {.type = ENG_EV_COMMAND, .detail = detail,
	                       .by = cJSON_IsString(by) ? by->valuestring : NULL,
	                       .text = cJSON_IsString(text) ? text->valuestring : NULL};
	engine_emit(e, &ev);
}
