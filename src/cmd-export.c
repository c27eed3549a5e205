/* placeholder: being written */
#include "domprof.h"

int cmd_export(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return error("'export' is not available in this build yet");
}
