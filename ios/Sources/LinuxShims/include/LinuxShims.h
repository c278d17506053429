// Nothing to import: the target only supplies a symbol the Linux toolchain lacks (shims.c).
