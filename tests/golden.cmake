resptrace_test(golden_test resptrace_flow)
add_dependencies(golden_test resptrace)
# Captures with losses are written for it (PcapWriter).
target_link_libraries(golden_test PRIVATE resptrace_live)
