// demangle: C++ functions with mangled names in a namespace and a template,
// for the demangling test.  usage: demangle [SECONDS]
#include <chrono>
#include <cstdint>
#include <cstdlib>

namespace shapes {
template <typename T> struct Accumulator {
	T value = 0;
	__attribute__((noinline)) void spin(long units)
	{
		for (long i = 0; i < units * 1000; i++) {
			value ^= value << 13;
			value ^= value >> 7;
			value += 0x9e37;
			__asm__ volatile("" : "+r"(value));
		}
	}
};
} // namespace shapes

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
	auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
	shapes::Accumulator<uint64_t> acc;
	while (std::chrono::steady_clock::now() < end)
		acc.spin(200);
	return (int)(acc.value & 1);
}
