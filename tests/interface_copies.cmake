# Captures holding each segment twice, once per interface, through the whole binary.
# (pcap_builder.h writes them through libpcap, which resptrace_capture brings.)
resptrace_test(interface_copies_test resptrace_capture)
add_dependencies(interface_copies_test resptrace)
