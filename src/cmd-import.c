/* placeholder: being written */
#include "domprof.h"

int cmd_import(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return error("'import' is not available in this build yet");
}
