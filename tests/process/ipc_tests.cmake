# The process-shared objects (cc_shared, cc_plock, cc_psem, cc_mpqueue and
# its JoinableQueue calls, cc_prlock, cc_shdict, cc_shlist, cc_shm_block by
# name): semantics, many processes at once, and processes killed with
# SIGKILL in the middle of their work.  The tests may call the objects'
# consistency checks (src/process/ipc_debug.h), hence the src include.
foreach(t shared mpqueue mpqueue_join prlock shdict shlist shm_block)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/process/test_${t}.c)
    concur_test(test_${t} process/test_${t}.c 180 LABELS unit stress process)
    target_include_directories(test_${t} PRIVATE ${PROJECT_SOURCE_DIR}/src)
  endif()
endforeach()
