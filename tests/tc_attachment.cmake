if(TARGET resptrace_tc)
  resptrace_test(tc_attachment_test resptrace_tc)
endif()
