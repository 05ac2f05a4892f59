# SPDX-License-Identifier: Apache-2.0
# CTest script: runs PROGRAM with ARGS ("|"-separated) and fails unless it exits 0 and its
# standard output matches the regular expression EXPECT.
# EMULATOR: the cross build's CMAKE_CROSSCOMPILING_EMULATOR (qemu for the aarch64 preset),
# which CTest adds only to a test's own command, not to what this script runs.
string(REPLACE "|" ";" args "${ARGS}")
string(REPLACE "|" ";" emulator "${EMULATOR}")
execute_process(COMMAND ${emulator} ${PROGRAM} ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                ERROR_VARIABLE err TIMEOUT 50)
message("${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} exited with ${rc}")
endif()
if(NOT out MATCHES "${EXPECT}")
  message(FATAL_ERROR "${PROGRAM}'s output does not match: ${EXPECT}")
endif()
