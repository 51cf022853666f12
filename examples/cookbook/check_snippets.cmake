# Fails unless DOC (docs/cookbook.md) holds, verbatim, the region of each recipe program
# SOURCE_DIR/<recipe>.cpp between its lines "// [recipe]" and "// [/recipe]".
# Usage: cmake -DDOC=... -DSOURCE_DIR=... -DRECIPES="a;b" -P check_snippets.cmake
file(READ "${DOC}" doc)
foreach(recipe IN LISTS RECIPES)
  file(READ "${SOURCE_DIR}/${recipe}.cpp" source)
  string(REGEX MATCH "// \\[recipe\\]\n(.*)\n[ ]*// \\[/recipe\\]" region "${source}")
  if(NOT region)
    message(FATAL_ERROR "${recipe}.cpp: no region between // [recipe] and // [/recipe]")
  endif()
  string(FIND "${doc}" "${CMAKE_MATCH_1}\n```" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${DOC} does not show ${recipe}.cpp's recipe as it is; copy the lines between "
                        "// [recipe] and // [/recipe] into its code block:\n${CMAKE_MATCH_1}")
  endif()
endforeach()
message(STATUS "every recipe in ${DOC} matches its program")
