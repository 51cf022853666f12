# core/ is the bottom layer of the library: its headers include no gpm header outside core/ (io/,
# flows/, models/, ... build on core, never the reverse). Fails naming each include that breaks it.
file(GLOB headers ${INCLUDE_DIR}/gpm/core/*.hpp)
if(NOT headers)
  message(FATAL_ERROR "no headers under ${INCLUDE_DIR}/gpm/core")
endif()
foreach(header ${headers})
  file(STRINGS ${header} includes REGEX "^#include [\"<]gpm/")
  foreach(line ${includes})
    if(NOT line MATCHES "^#include [\"<]gpm/core/")
      message(SEND_ERROR "${header}: '${line}': a core header may include only core headers")
    endif()
  endforeach()
endforeach()
