/* placeholder: being written */
#include "domprof.h"

int cmd_html(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return error("'html' is not available in this build yet");
}
