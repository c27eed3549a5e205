/* placeholder: being written */
extern int domprof_placeholder_html;
