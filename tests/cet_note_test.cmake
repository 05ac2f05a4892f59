# SPDX-License-Identifier: Apache-2.0
# CTest script: the context switcher's object carries a GNU property note claiming IBT
# (and not SHSTK, which the switcher does not honour; see asm/switch_x86_64.S), and
# linking it with code built with -fcf-protection keeps IBT on. Without the note the
# linker silently turns CET off for every program that links weft.
#   cmake -DOBJECTS=<weft's objects, '|'-separated> -DREADELF=... -DLINKER=...
#         -DCXX=... -DWORK_DIR=... -P cet_note_test.cmake
string(REPLACE "|" ";" objects "${OBJECTS}")
set(asm_object "")
foreach(o IN LISTS objects)
  if(o MATCHES "switch_x86_64\\.S\\.o(bj)?$")
    set(asm_object "${o}")
  endif()
endforeach()
if(NOT asm_object)
  message(FATAL_ERROR "no switch_x86_64 object among: ${OBJECTS}")
endif()

function(features file out)
  execute_process(COMMAND "${READELF}" -n "${file}" OUTPUT_VARIABLE notes RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "readelf -n ${file} failed (${rc})")
  endif()
  set(${out} "${notes}" PARENT_SCOPE)
endfunction()

features("${asm_object}" notes)
if(NOT notes MATCHES "x86 feature: IBT")
  message(FATAL_ERROR "${asm_object}: no GNU property note claiming IBT:\n${notes}")
endif()
if(notes MATCHES "SHSTK")
  message(FATAL_ERROR "${asm_object}: claims SHSTK, which the switcher does not honour:\n${notes}")
endif()

# A relocatable link ANDs the feature bits as the final link does: IBT must survive it.
file(MAKE_DIRECTORY "${WORK_DIR}")
file(WRITE "${WORK_DIR}/cet_probe.cpp" "int weft_cet_probe(int x) { return x + 1; }\n")
execute_process(COMMAND "${CXX}" -fcf-protection=full -c "${WORK_DIR}/cet_probe.cpp"
                        -o "${WORK_DIR}/cet_probe.o" RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cannot compile with -fcf-protection: ${err}")
endif()
execute_process(COMMAND "${LINKER}" -r "${WORK_DIR}/cet_probe.o" "${asm_object}"
                        -o "${WORK_DIR}/cet_merged.o" RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ld -r failed: ${err}")
endif()
features("${WORK_DIR}/cet_merged.o" merged)
if(NOT merged MATCHES "x86 feature: IBT")
  message(FATAL_ERROR "IBT lost when linked with the switcher:\n${merged}")
endif()
message(STATUS "${asm_object}: IBT claimed, kept after linking; SHSTK not claimed")
