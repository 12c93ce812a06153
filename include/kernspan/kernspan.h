/* SPDX-License-Identifier: MIT */
/*
 * kernspan.h - mark spans of work for kernspan to observe.
 *
 * Header-only, C and C++, no library to link. Each marker is a USDT probe
 * (provider "kernspan") with the standard .note.stapsdt ELF note, so
 * `readelf -n`, bpftrace and perf list it too. Two differences from
 * <sys/sdt.h>:
 *   - every probe site is a 5-byte NOP, which the kernel can turn into a
 *     cheap optimized uprobe instead of trapping on a 1-byte NOP;
 *   - every probe has a semaphore and the site sits behind it, so while no
 *     tracer is attached a marker costs one load and a not-taken branch, and
 *     its arguments are never computed.
 *
 *   KERNSPAN_BEGIN("parse");  ...  KERNSPAN_END("parse");
 *   { kernspan::Span s("query"); ... }               // C++, ends at scope exit
 *   KERNSPAN_BEGIN_REMOTE("handle", traceparent);    // joins a W3C trace
 *
 * Names must be NUL-terminated strings that outlive the span (string
 * literals are ideal); kernspan keeps up to --max-string bytes of a name
 * (256 unless told), and shows a longer one cut there, ending in U+2026.
 * Begin and end pair per thread, innermost first.
 */
#ifndef KERNSPAN_KERNSPAN_H
#define KERNSPAN_KERNSPAN_H

#if !defined(__x86_64__) && !defined(__aarch64__)
#error "kernspan.h: USDT markers are implemented for x86-64 and aarch64"
#endif

#if defined(__x86_64__)
#define KERNSPAN_NOP5_ ".nops 5"
#else
/* aarch64 has fixed 4-byte instructions: one nop is the site. */
#define KERNSPAN_NOP5_ "nop"
#endif

/*
 * One semaphore per probe, in the .probes section where tracers look for
 * them. Weak and hidden: every translation unit may define it (header-only),
 * the linker keeps one per executable or shared object.
 */
#define KERNSPAN_SEMAPHORE_(probe) kernspan_##probe##_semaphore
#define KERNSPAN_DEFINE_SEMAPHORE_(probe)                                                          \
	__extension__ unsigned short KERNSPAN_SEMAPHORE_(probe)                                    \
	    __attribute__((weak, used, section(".probes"), visibility("hidden")))

#ifdef __cplusplus
extern "C" {
#endif
KERNSPAN_DEFINE_SEMAPHORE_(span_begin);
KERNSPAN_DEFINE_SEMAPHORE_(span_begin_remote);
KERNSPAN_DEFINE_SEMAPHORE_(span_end);
#ifdef __cplusplus
}
#endif

/* Non-zero while some tracer is attached to the probe. */
#define KERNSPAN_PROBE_ENABLED(probe)                                                              \
	__builtin_expect(__atomic_load_n(&KERNSPAN_SEMAPHORE_(probe), __ATOMIC_RELAXED) != 0, 0)
/* Non-zero while kernspan (or any tracer) watches span begins. */
#define KERNSPAN_ENABLED() KERNSPAN_PROBE_ENABLED(span_begin)

/*
 * The probe site and its stapsdt note (version 3):
 *   pc, address of _.stapsdt.base, semaphore address,
 *   "provider\0name\0args\0".
 * Arguments are pointers, described as "SIZE@OPERAND" (8 bytes, unsigned);
 * they go to the asm as they are, so the header needs no casts (it stays
 * clean under C++'s -Wold-style-cast).
 */
#define KERNSPAN_STR_(x) #x
#define KERNSPAN_PROBE_ASM_(probe, args)                                                           \
	"990:\t" KERNSPAN_NOP5_ "\n"                                                               \
	"\t.pushsection .note.stapsdt,\"?\",\"note\"\n"                                            \
	"\t.balign 4\n"                                                                            \
	"\t.4byte 992f-991f, 994f-993f, 3\n"                                                       \
	"991:\t.asciz \"stapsdt\"\n"                                                               \
	"992:\t.balign 4\n"                                                                        \
	"993:\t.8byte 990b\n"                                                                      \
	"\t.8byte _.stapsdt.base\n"                                                                \
	"\t.8byte kernspan_" KERNSPAN_STR_(                                                        \
	    probe) "_semaphore\n"                                                                  \
		   "\t.asciz \"kernspan\"\n"                                                       \
		   "\t.asciz \"" KERNSPAN_STR_(                                                    \
		       probe) "\"\n"                                                               \
			      "\t.asciz \"" args "\"\n"                                            \
			      "994:\t.balign 4\n"                                                  \
			      "\t.popsection\n"                                                    \
			      "\t.ifndef _.stapsdt.base\n"                                         \
			      "\t.pushsection "                                                    \
			      ".stapsdt.base,\"aG\",\"progbits\",.stapsdt.base,comdat\n"           \
			      "\t.weak _.stapsdt.base\n"                                           \
			      "\t.hidden _.stapsdt.base\n"                                         \
			      "_.stapsdt.base:\n"                                                  \
			      "\t.space 1\n"                                                       \
			      "\t.size _.stapsdt.base, 1\n"                                        \
			      "\t.popsection\n"                                                    \
			      "\t.endif\n"

/*
 * On x86-64 the arguments are pinned to the first two argument registers
 * (%rdi, %rsi): the note still describes them, so any tracer reads them as
 * usual, and kernspan reads the registers directly instead of decoding the
 * argument spec on every hit. Elsewhere the compiler picks the operands.
 */
#if defined(__x86_64__)
#define KERNSPAN_ARG0_ "D"
#define KERNSPAN_ARG1_ "S"
#else
#define KERNSPAN_ARG0_ "nor"
#define KERNSPAN_ARG1_ "nor"
#endif
#define KERNSPAN_PROBE1_(probe, x0)                                                                \
	__asm__ __volatile__(KERNSPAN_PROBE_ASM_(probe, "8@%[a0]") : : [a0] KERNSPAN_ARG0_(x0))
#define KERNSPAN_PROBE2_(probe, x0, x1)                                                            \
	__asm__ __volatile__(KERNSPAN_PROBE_ASM_(probe, "8@%[a0] 8@%[a1]")                         \
			     :                                                                     \
			     : [a0] KERNSPAN_ARG0_(x0), [a1] KERNSPAN_ARG1_(x1))

/* Begin a span named `name` on this thread. */
#define KERNSPAN_BEGIN(name)                                                                       \
	do {                                                                                       \
		if (KERNSPAN_PROBE_ENABLED(span_begin))                                            \
			KERNSPAN_PROBE1_(span_begin, (name));                                      \
	} while (0)

/*
 * Begin a span that continues a trace begun elsewhere: `traceparent` is a
 * W3C Trace Context header value ("00-<trace id>-<parent id>-<flags>", in
 * lower-case hex), NUL-terminated: version 00 ends at its flags, so
 * anything after them (even a "\r\n" left from a request buffer) makes it
 * invalid. An invalid value (upper case included, as the spec says) starts
 * a new trace, and kernspan counts it.
 */
#define KERNSPAN_BEGIN_REMOTE(name, traceparent)                                                   \
	do {                                                                                       \
		if (KERNSPAN_PROBE_ENABLED(span_begin_remote))                                     \
			KERNSPAN_PROBE2_(span_begin_remote, (name), (traceparent));                \
	} while (0)

/* End the innermost open span; `name` must be the one given at begin. */
#define KERNSPAN_END(name)                                                                         \
	do {                                                                                       \
		if (KERNSPAN_PROBE_ENABLED(span_end))                                              \
			KERNSPAN_PROBE1_(span_end, (name));                                        \
	} while (0)

#ifdef __cplusplus
namespace kernspan
{

/* A span for the lifetime of a scope. */
class Span
{
      public:
	explicit Span(const char *name) noexcept : name_(name)
	{
		KERNSPAN_BEGIN(name_);
	}
	Span(const char *name, const char *traceparent) noexcept : name_(name)
	{
		KERNSPAN_BEGIN_REMOTE(name_, traceparent);
	}
	~Span()
	{
		KERNSPAN_END(name_);
	}
	Span(const Span &) = delete;
	Span &operator=(const Span &) = delete;
	Span(Span &&) = delete;
	Span &operator=(Span &&) = delete;

      private:
	const char *name_;
};

/* True while a tracer watches spans: skip costly work meant only for it. */
inline bool enabled() noexcept
{
	return KERNSPAN_ENABLED();
}

} // namespace kernspan
#endif

#endif /* KERNSPAN_KERNSPAN_H */
