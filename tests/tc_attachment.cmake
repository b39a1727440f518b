if(TARGET resptrace_tc)
  resptrace_test(tc_attachment_test resptrace_tc)
  resptrace_test(interface_watcher_test resptrace_tc)
endif()
