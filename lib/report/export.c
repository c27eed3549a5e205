/* placeholder: being written */
extern int domprof_placeholder_export;
