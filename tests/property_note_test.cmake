# SPDX-License-Identifier: Apache-2.0
# CTest script: the context switcher's object carries the GNU property note of its
# architecture's control-flow protection, and linking it with code built with that
# protection keeps it on. Without the note the linker silently turns the protection off
# for every program that links weft.
#  - x86-64: IBT claimed (every indirect-branch target has endbr64), SHSTK not (the
#    switcher does not switch shadow stacks; see asm/switch_x86_64.S).
#  - AArch64: BTI and PAC claimed (landing pads, signed saved return addresses; see
#    asm/switch_aarch64.S).
#   cmake -DARCH=x86_64|aarch64 -DOBJECTS=<weft's objects, '|'-separated> -DREADELF=...
#         -DLINKER=... -DCXX=... -DWORK_DIR=... -P property_note_test.cmake
if(ARCH STREQUAL "x86_64")
  set(claims "x86 feature: IBT")
  set(forbidden "SHSTK")
  set(protect_flag "-fcf-protection=full")
elseif(ARCH STREQUAL "aarch64")
  set(claims "AArch64 feature: BTI, PAC")
  set(forbidden "")
  set(protect_flag "-mbranch-protection=standard")
else()
  message(FATAL_ERROR "unknown ARCH '${ARCH}'")
endif()

string(REPLACE "|" ";" objects "${OBJECTS}")
set(asm_object "")
foreach(o IN LISTS objects)
  if(o MATCHES "switch_${ARCH}\\.S\\.o(bj)?$")
    set(asm_object "${o}")
  endif()
endforeach()
if(NOT asm_object)
  message(FATAL_ERROR "no switch_${ARCH} object among: ${OBJECTS}")
endif()

function(features file out)
  execute_process(COMMAND "${READELF}" -n "${file}" OUTPUT_VARIABLE notes RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "readelf -n ${file} failed (${rc})")
  endif()
  set(${out} "${notes}" PARENT_SCOPE)
endfunction()

features("${asm_object}" notes)
if(NOT notes MATCHES "${claims}")
  message(FATAL_ERROR "${asm_object}: no GNU property note claiming '${claims}':\n${notes}")
endif()
if(forbidden AND notes MATCHES "${forbidden}")
  message(FATAL_ERROR "${asm_object}: claims ${forbidden}, which the switcher does not honour:\n${notes}")
endif()

# A relocatable link ANDs the feature bits as the final link does: they must survive it.
file(MAKE_DIRECTORY "${WORK_DIR}")
file(WRITE "${WORK_DIR}/probe.cpp" "int weft_property_probe(int x) { return x + 1; }\n")
execute_process(COMMAND "${CXX}" ${protect_flag} -c "${WORK_DIR}/probe.cpp"
                        -o "${WORK_DIR}/probe.o" RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cannot compile with ${protect_flag}: ${err}")
endif()
execute_process(COMMAND "${LINKER}" -r "${WORK_DIR}/probe.o" "${asm_object}"
                        -o "${WORK_DIR}/merged.o" RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ld -r failed: ${err}")
endif()
features("${WORK_DIR}/merged.o" merged)
if(NOT merged MATCHES "${claims}")
  message(FATAL_ERROR "'${claims}' lost when linked with the switcher:\n${merged}")
endif()
message(STATUS "${asm_object}: '${claims}' claimed, kept after linking")
