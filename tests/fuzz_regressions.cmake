# The fuzzers' findings, replayed through the same harnesses in every build.
resptrace_test(fuzz_regressions_test resptrace_fuzz_harness)
