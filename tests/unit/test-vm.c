/* Recognising VMMs, VM names, vCPU threads and backend threads from what
 * /proc shows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/domain/vm.h"
#include "lib/util/util.h"

static void test_kind(void **state)
{
	assert_int_equal(vmm_kind__detect("qemu-system-x86", NULL), VMM_QEMU);
	assert_int_equal(vmm_kind__detect("qemu-system-aar", NULL), VMM_QEMU);
	assert_int_equal(vmm_kind__detect("whatever", "qemu-system-x86_64"), VMM_QEMU);
	assert_int_equal(vmm_kind__detect("qemu-kvm", NULL), VMM_QEMU);
	assert_int_equal(vmm_kind__detect("firecracker", NULL), VMM_FIRECRACKER);
	assert_int_equal(vmm_kind__detect("cloud-hyperviso", NULL), VMM_CLOUD_HYPERVISOR);
	assert_int_equal(vmm_kind__detect(NULL, "cloud-hypervisor"), VMM_CLOUD_HYPERVISOR);
	assert_int_equal(vmm_kind__detect("crosvm", NULL), VMM_CROSVM);
	assert_int_equal(vmm_kind__detect("bash", "bash"), VMM_NONE);
	assert_int_equal(vmm_kind__detect("qemu-img", NULL), VMM_NONE);
}

static char *name_of(enum vmm_kind k, const char *argv, size_t len) { return vm__name_from_cmdline(k, argv, len); }

#define ARGV(s) s, sizeof(s) /* includes the final NUL */

static void test_names(void **state)
{
	char *n;
	n = name_of(VMM_QEMU, ARGV("qemu-system-x86_64\0-m\0512\0-name\0web1,debug-threads=on\0-smp\0002"));
	assert_string_equal(n, "web1");
	free(n);
	n = name_of(VMM_QEMU, ARGV("qemu-system-x86_64\0-name\0guest=db,debug-threads=on"));
	assert_string_equal(n, "db");
	free(n);
	n = name_of(VMM_QEMU, ARGV("qemu-system-x86_64\0-name\0debug-threads=on,guest=cache"));
	assert_string_equal(n, "cache");
	free(n);
	n = name_of(VMM_QEMU, ARGV("qemu-system-x86_64\0-name\0a,,b"));
	assert_string_equal(n, "a,b");
	free(n);
	n = name_of(VMM_QEMU, ARGV("qemu-system-x86_64\0--name=plain"));
	assert_string_equal(n, "plain");
	free(n);
	assert_null(name_of(VMM_QEMU, ARGV("qemu-system-x86_64\0-m\0512")));
	assert_null(name_of(VMM_QEMU, ARGV("qemu-system-x86_64\0-name")));
	n = name_of(VMM_FIRECRACKER, ARGV("firecracker\0--api-sock\0/tmp/fc.sock\0--id\0fc-7"));
	assert_string_equal(n, "fc-7");
	free(n);
	n = name_of(VMM_FIRECRACKER, ARGV("firecracker\0--id=fc-8"));
	assert_string_equal(n, "fc-8");
	free(n);
	assert_null(name_of(VMM_CLOUD_HYPERVISOR, ARGV("cloud-hypervisor\0--kernel\0vmlinux")));
	n = vm__uuid_from_cmdline(VMM_QEMU, ARGV("qemu\0-uuid\0ABCDEF01-2345-6789-ABCD-EF0123456789"));
	assert_string_equal(n, "abcdef01-2345-6789-abcd-ef0123456789");
	free(n);
}

static void test_vcpus(void **state)
{
	int idx = -1;
	const char *accel;
	assert_true(vm__vcpu_from_comm(VMM_QEMU, "CPU 0/KVM", &idx, &accel));
	assert_int_equal(idx, 0);
	assert_string_equal(accel, "kvm");
	assert_true(vm__vcpu_from_comm(VMM_QEMU, "CPU 13/TCG", &idx, &accel));
	assert_int_equal(idx, 13);
	assert_string_equal(accel, "tcg");
	assert_false(vm__vcpu_from_comm(VMM_QEMU, "IO mon_iothread", &idx, &accel));
	assert_false(vm__vcpu_from_comm(VMM_QEMU, "CPU x/KVM", &idx, &accel));
	assert_true(vm__vcpu_from_comm(VMM_FIRECRACKER, "fc_vcpu 3", &idx, NULL));
	assert_int_equal(idx, 3);
	assert_false(vm__vcpu_from_comm(VMM_FIRECRACKER, "fc_api", &idx, NULL));
	assert_true(vm__vcpu_from_comm(VMM_CLOUD_HYPERVISOR, "vcpu7", &idx, NULL));
	assert_int_equal(idx, 7);
	assert_true(vm__vcpu_from_comm(VMM_CROSVM, "crosvm_vcpu2", &idx, NULL));
	assert_int_equal(idx, 2);
	assert_false(vm__vcpu_from_comm(VMM_NONE, "CPU 0/KVM", &idx, NULL));
}

static void test_backends(void **state)
{
	assert_int_equal(vm__backend_owner("vhost-4242"), 4242);
	assert_int_equal(vm__backend_owner("kvm-pit/77"), 77);
	assert_int_equal(vm__backend_owner("vhost-"), 0);
	assert_int_equal(vm__backend_owner("vhost-12a"), 0);
	assert_int_equal(vm__backend_owner("kworker/0:1"), 0);
}

static void test_scan_runs(void **state)
{
	struct vm_info *vms;
	size_t n;
	/* Forcing this very process to be a VM makes the scan find one. */
	struct vm_force f = { "myself", getpid() };
	assert_int_equal(vms__scan(&f, 1, &vms, &n), 0);
	bool found = false;
	for (size_t i = 0; i < n; i++)
		if (vms[i].pid == getpid()) {
			found = true;
			assert_string_equal(vms[i].name, "myself");
			assert_true(vms[i].forced);
		}
	assert_true(found);
	vms__free(vms, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kind),	 cmocka_unit_test(test_names),	   cmocka_unit_test(test_vcpus),
		cmocka_unit_test(test_backends), cmocka_unit_test(test_scan_runs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
