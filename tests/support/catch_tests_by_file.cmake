# Registers a Catch2 executable's tests with CTest as one test per (layer, test file): each process
# pays LibTorch's start-up (about a second) once per file instead of once per test case.
#
# As a function (from a CMakeLists.txt): gpm_catch_tests_by_file(<target>) runs this file after each
# build of <target>. As a script (cmake -P, after the build): lists the executable's tests per layer
# with Catch2's file-name tags (--filenames-as-tags) and writes the add_test() calls to CTEST_FILE.
#
# The layers are the test tags' partition, one CTest label each: [static] compile-time checks,
# [statistical] seeded training runs, [numeric] math against closed forms, and unit for the rest.
# A test is named <file>.<layer>, e.g. flows_test.numeric; `ctest -L numeric` runs one layer, and
# `gpm_tests --filenames-as-tags "[#flows_test]"` one file's tests by hand.
set(GPM_CATCH_LAYERS static statistical numeric unit)
set(GPM_CATCH_SPEC_static "[static]")
set(GPM_CATCH_SPEC_statistical "[statistical]~[static]")
set(GPM_CATCH_SPEC_numeric "[numeric]~[statistical]~[static]")
set(GPM_CATCH_SPEC_unit "~[numeric]~[statistical]~[static]")
# The longest layer is started first when CTest runs tests in parallel.
set(GPM_CATCH_COST_statistical 100)

if(CMAKE_SCRIPT_MODE_FILE)
  file(WRITE "${CTEST_FILE}" "")
  foreach(layer IN LISTS GPM_CATCH_LAYERS)
    execute_process(COMMAND "${TEST_EXECUTABLE}" "${GPM_CATCH_SPEC_${layer}}" --filenames-as-tags --list-tags
                    OUTPUT_VARIABLE listing RESULT_VARIABLE status WORKING_DIRECTORY "${WORKING_DIR}")
    # Catch2 exits with the number of tags listed: the listing's heading tells success.
    if(NOT listing MATCHES "Tags for matching test cases")
      message(FATAL_ERROR "${TEST_EXECUTABLE} --list-tags failed (exit status ${status}):\n${listing}")
    endif()
    string(REGEX MATCHALL "\\[#[A-Za-z0-9_]+\\]" file_tags "${listing}")
    list(REMOVE_DUPLICATES file_tags)
    foreach(tag IN LISTS file_tags)
      string(REGEX REPLACE "^\\[#(.*)\\]$" "\\1" file "${tag}")
      set(name "${file}.${layer}")
      set(cost 1)
      if(DEFINED GPM_CATCH_COST_${layer})
        set(cost ${GPM_CATCH_COST_${layer}})
      endif()
      file(APPEND "${CTEST_FILE}"
           "add_test([=[${name}]=] [=[${TEST_EXECUTABLE}]=] [=[${GPM_CATCH_SPEC_${layer}}${tag}]=] --filenames-as-tags)\n"
           "set_tests_properties([=[${name}]=] PROPERTIES LABELS ${layer} COST ${cost} WORKING_DIRECTORY [=[${WORKING_DIR}]=])\n")
    endforeach()
  endforeach()
  return()
endif()

set(GPM_CATCH_TESTS_BY_FILE_SCRIPT "${CMAKE_CURRENT_LIST_FILE}")
function(gpm_catch_tests_by_file target)
  set(tests_file "${CMAKE_CURRENT_BINARY_DIR}/${target}_tests.cmake")
  add_custom_command(TARGET ${target} POST_BUILD
    BYPRODUCTS "${tests_file}"
    COMMAND "${CMAKE_COMMAND}" -D "TEST_EXECUTABLE=$<TARGET_FILE:${target}>" -D "WORKING_DIR=${CMAKE_CURRENT_BINARY_DIR}"
            -D "CTEST_FILE=${tests_file}" -P "${GPM_CATCH_TESTS_BY_FILE_SCRIPT}"
    VERBATIM)
  set(include_file "${CMAKE_CURRENT_BINARY_DIR}/${target}_include.cmake")
  file(WRITE "${include_file}"
       "if(EXISTS \"${tests_file}\")\n  include(\"${tests_file}\")\n"
       "else()\n  add_test(${target}_NOT_BUILT ${target}_NOT_BUILT)\nendif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${include_file}")
endfunction()
