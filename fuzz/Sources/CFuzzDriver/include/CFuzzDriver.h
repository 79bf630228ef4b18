#ifndef KLFS_FUZZ_DRIVER_H
#define KLFS_FUZZ_DRIVER_H

#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry for programs that have their own main (declared in
 * compiler-rt's FuzzerInterface.h, defined in libclang_rt.fuzzer). SwiftPM
 * links an executable's main itself, so the fuzz targets call this from
 * main.swift instead of relying on libFuzzer's main. */
int LLVMFuzzerRunDriver(int *argc, char ***argv,
                        int (*test_one_input)(const uint8_t *data, size_t size));

#endif
