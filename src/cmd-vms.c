/* domprof vms: the VMs running on this host as domprof sees them. */
#include <errno.h>
#include <getopt.h>

#include "../lib/domain/vm.h"
#include "domprof.h"
#include "options.h"

int cmd_vms(int argc, char **argv)
{
	static const struct option longopts[] = {
		OPTION_VM,
		OPTION_FORMAT,
		{ 0 },
	};
	struct vm_names forced = { 0 };
	size_t n = 0;
	struct vm_info *vms = NULL;
	int json = 0;
	int c, ret = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_VM: ret = option_parse_vm(optarg, &forced); break;
		case 'f': ret = option_parse_format(optarg, option_text_json_formats, &json); break;
		default:
			usage("vms", stderr);
			ret = -EINVAL;
		}
		if (ret < 0)
			goto out;
	}
	if ((ret = vms__scan(forced.vms, forced.n, &vms, &n)) < 0) {
		ret = log_error_errno(ret, "cannot read /proc: %m");
		goto out;
	}
	if (json) {
		struct strbuf sb;
		strbuf_init(&sb);
		strbuf_adds(&sb, "[");
		for (size_t i = 0; i < n; i++) {
			strbuf_addf(&sb, "%s\n  {\"pid\": %d, \"name\": ", i ? "," : "", vms[i].pid);
			strbuf_add_json(&sb, vms[i].name);
			strbuf_addf(&sb, ", \"vmm\": \"%s\", \"accel\": \"%s\", \"uuid\": ", vmm_kind__name(vms[i].kind), vms[i].accel);
			if (vms[i].uuid)
				strbuf_add_json(&sb, vms[i].uuid);
			else
				strbuf_adds(&sb, "null");
			strbuf_adds(&sb, ", \"vcpus\": [");
			bool first = true;
			for (size_t t = 0; t < vms[i].n_threads; t++) {
				if (vms[i].threads[t].vcpu < 0)
					continue;
				strbuf_addf(&sb, "%s{\"index\": %d, \"tid\": %d, \"comm\": ", first ? "" : ", ", vms[i].threads[t].vcpu,
					    vms[i].threads[t].tid);
				strbuf_add_json(&sb, vms[i].threads[t].comm);
				strbuf_adds(&sb, "}");
				first = false;
			}
			strbuf_adds(&sb, "], \"backends\": [");
			first = true;
			for (size_t t = 0; t < vms[i].n_threads; t++) {
				if (!vms[i].threads[t].backend)
					continue;
				strbuf_addf(&sb, "%s{\"tid\": %d, \"comm\": ", first ? "" : ", ", vms[i].threads[t].tid);
				strbuf_add_json(&sb, vms[i].threads[t].comm);
				strbuf_adds(&sb, "}");
				first = false;
			}
			strbuf_adds(&sb, "]}");
		}
		strbuf_adds(&sb, n ? "\n]\n" : "]\n");
		fputs(sb.buf, stdout);
		strbuf_release(&sb);
		goto out;
	}
	if (!n) {
		printf("no VMs found (looked for qemu-system-*, firecracker, cloud-hypervisor, crosvm processes)\n");
		goto out;
	}
	printf("%-8s %-20s %-17s %-6s %s\n", "pid", "name", "vmm", "accel", "threads");
	for (size_t i = 0; i < n; i++) {
		struct vm_info *vm = &vms[i];
		size_t vcpus = 0;
		for (size_t t = 0; t < vm->n_threads; t++)
			vcpus += vm->threads[t].vcpu >= 0;
		printf("%-8d %-20s %-17s %-6s %zu vCPU%s%s\n", vm->pid, vm->name, vmm_kind__name(vm->kind), vm->accel, vcpus,
		       vcpus == 1 ? "" : "s", vm->uuid ? "" : "");
		if (vm->uuid)
			printf("%-8s uuid %s\n", "", vm->uuid);
		for (size_t t = 0; t < vm->n_threads; t++) {
			struct vm_thread *th = &vm->threads[t];
			if (th->vcpu >= 0)
				printf("%-8s vcpu %-3d tid %-8d %s\n", "", th->vcpu, th->tid, th->comm);
		}
		for (size_t t = 0; t < vm->n_threads; t++) {
			struct vm_thread *th = &vm->threads[t];
			if (th->backend)
				printf("%-8s backend  tid %-8d %s\n", "", th->tid, th->comm);
		}
	}
out:
	vms__free(vms, n);
	vm_names__release(&forced);
	return ret;
}
