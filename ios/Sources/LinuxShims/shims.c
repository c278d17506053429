// Linux only: Debian's swiftlang 6.0.3 ships libswiftObservation.so with an undefined reference
// to swift::threading::fatal(const char *, ...), which no library of that toolchain defines, so
// nothing that imports Observation links. This defines it (it reports and aborts, as the
// toolchain's own does). Apple platforms never build this target (Package.swift).
#ifdef __linux__
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

__attribute__((noreturn, visibility("default"))) void
doorstep_swift_threading_fatal(const char *format, ...) __asm__("_ZN5swift9threading5fatalEPKcz");

void doorstep_swift_threading_fatal(const char *format, ...) {
    va_list args;
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    abort();
}
#endif
