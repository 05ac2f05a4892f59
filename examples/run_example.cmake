# SPDX-License-Identifier: Apache-2.0
# CTest script: runs PROGRAM with ARGS ("|"-separated) and fails unless it exits 0 and its
# standard output matches the regular expression EXPECT.
string(REPLACE "|" ";" args "${ARGS}")
execute_process(COMMAND ${PROGRAM} ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                ERROR_VARIABLE err TIMEOUT 50)
message("${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} exited with ${rc}")
endif()
if(NOT out MATCHES "${EXPECT}")
  message(FATAL_ERROR "${PROGRAM}'s output does not match: ${EXPECT}")
endif()
