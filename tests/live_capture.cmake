# The -w writer on its own, and the live capture end to end against a throwaway redis-server.
resptrace_test(pcap_writer_test resptrace_live)
resptrace_test(live_capture_test resptrace_flow redis_harness.cc)
add_dependencies(live_capture_test resptrace)
