/* placeholder: being written */
#include "domprof.h"

int cmd_stat(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return error("'stat' is not available in this build yet");
}
