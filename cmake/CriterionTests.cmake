# chunkd_add_criterion_test(TARGET SOURCES src... [LIBS lib...]
#                           [LABELS label...] [TIMEOUT secs] [ARGS arg...]
#                           [FIXTURES fixture...] [ENVIRONMENT var=value...])
#
# Builds one Criterion test executable and registers every Criterion test in
# it as its own ctest test, named TARGET.suite/test, so that ctest names and
# counts each case. The list is read from `TARGET --list` after each build
# (the way gtest_discover_tests works) and included by ctest at run time.
function(chunkd_add_criterion_test target)
  cmake_parse_arguments(ARG "" "TIMEOUT"
    "SOURCES;LIBS;LABELS;ARGS;FIXTURES;ENVIRONMENT" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 60)
  endif()
  add_executable(${target} ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE PkgConfig::CRITERION ${ARG_LIBS})
  set(list_file "${CMAKE_CURRENT_BINARY_DIR}/${target}_tests.cmake")
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND ${CMAKE_COMMAND}
            -D "TEST_EXE=$<TARGET_FILE:${target}>"
            -D "TEST_PREFIX=${target}"
            -D "TEST_LABELS=${ARG_LABELS}"
            -D "TEST_TIMEOUT=${ARG_TIMEOUT}"
            -D "TEST_ARGS=${ARG_ARGS}"
            -D "TEST_FIXTURES=${ARG_FIXTURES}"
            -D "TEST_ENV=${ARG_ENVIRONMENT}"
            -D "OUT_FILE=${list_file}"
            -P "${PROJECT_SOURCE_DIR}/cmake/CriterionList.cmake"
    BYPRODUCTS "${list_file}"
    VERBATIM)
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${list_file}")
endfunction()
