# Script mode: turns `TEST_EXE --list` into add_test() calls in OUT_FILE.
# Criterion prints "suite: N tests" and then one "├── name" or "└── name"
# line per test.
execute_process(COMMAND "${TEST_EXE}" --list
                OUTPUT_VARIABLE listing
                ERROR_VARIABLE listing_err
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${TEST_EXE} --list failed (${rc}): ${listing_err}")
endif()

string(REPLACE "\n" ";" lines "${listing}")
set(script "# Generated from ${TEST_EXE} --list; do not edit.\n")
set(suite "")
set(count 0)
foreach(line IN LISTS lines)
  if(line MATCHES "^([A-Za-z0-9_]+): [0-9]+ tests?$")
    set(suite "${CMAKE_MATCH_1}")
  elseif(line MATCHES "── ([A-Za-z0-9_]+)$" AND suite)
    set(name "${suite}/${CMAKE_MATCH_1}")
    string(APPEND script
      "add_test([=[${TEST_PREFIX}.${name}]=] [=[${TEST_EXE}]=] "
      "--filter=${name} ${TEST_ARGS})\n"
      "set_tests_properties([=[${TEST_PREFIX}.${name}]=] PROPERTIES "
      "LABELS [=[${TEST_LABELS}]=] TIMEOUT ${TEST_TIMEOUT})\n")
    if(TEST_FIXTURES)
      string(APPEND script
        "set_tests_properties([=[${TEST_PREFIX}.${name}]=] PROPERTIES "
        "FIXTURES_REQUIRED [=[${TEST_FIXTURES}]=])\n")
    endif()
    if(TEST_ENV)
      string(APPEND script
        "set_tests_properties([=[${TEST_PREFIX}.${name}]=] PROPERTIES "
        "ENVIRONMENT [=[${TEST_ENV}]=])\n")
    endif()
    math(EXPR count "${count} + 1")
  endif()
endforeach()
if(count EQUAL 0)
  message(FATAL_ERROR "${TEST_EXE} --list shows no tests")
endif()
file(WRITE "${OUT_FILE}" "${script}")
