// SPDX-License-Identifier: GPL-2.0

#ifdef CONFIG_X86_64

#include <asm/cpuid.h>
#include <asm/msr.h>
#include <linux/cpufeature.h>
#include <linux/io.h>
#include <linux/irqflags.h>
#include <linux/smp.h>

u64 rust_helper_rdmsrl(u32 msr)
{
	u64 val;

	rdmsrl(msr, val);
	return val;
}

void rust_helper_wrmsrl(u32 msr, u64 val)
{
	wrmsrl(msr, val);
}

unsigned int rust_helper_cpuid_ebx(unsigned int op)
{
	return cpuid_ebx(op);
}

bool rust_helper_boot_cpu_has(u16 feature)
{
	return boot_cpu_has(feature);
}

unsigned int rust_helper_raw_smp_processor_id(void)
{
	return raw_smp_processor_id();
}

void rust_helper_local_irq_disable(void)
{
	local_irq_disable();
}

void rust_helper_local_irq_enable(void)
{
	local_irq_enable();
}

phys_addr_t rust_helper_virt_to_phys(void *address)
{
	return virt_to_phys(address);
}

void rust_helper_on_each_cpu(smp_call_func_t func, void *info, int wait)
{
	on_each_cpu(func, info, wait);
}

#endif /* CONFIG_X86_64 */
