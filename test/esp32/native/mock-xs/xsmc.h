/* A recording stand-in for Moddable's xsmc.h, so harness.c can run tether-esp.c's host functions
   on the build machine: results land in the machine record, errors longjmp with their message.
   The syntax check (native.test.ts) compiles tether-esp.c against the real xsmc.h instead. */
#pragma once
#include <setjmp.h>
#include <stdio.h>
#include <stdint.h>

typedef struct {
	int args[4];
	double result;
	const char *resultKind;	/* "integer", "number", "boolean" */
	char error[256];
	jmp_buf jump;
} xsMachine;
typedef int xsIntegerValue;
typedef double xsNumberValue;

#define xsResult 0
#define xsArg(i) (the->args[i])
#define xsmcToInteger(v) (v)
#define xsmcSetInteger(slot, v) ((void)(slot), the->result = (double)(v), the->resultKind = "integer")
#define xsmcSetNumber(slot, v) ((void)(slot), the->result = (double)(v), the->resultKind = "number")
#define xsmcSetTrue(slot) ((void)(slot), the->result = 1, the->resultKind = "boolean")
#define xsmcSetFalse(slot) ((void)(slot), the->result = 0, the->resultKind = "boolean")
#define mockThrow(kind, ...) do { int n = snprintf(the->error, sizeof(the->error), kind ": " __VA_ARGS__); (void)n; longjmp(the->jump, 1); } while (0)
#define xsUnknownError(...) mockThrow("Error", __VA_ARGS__)
#define xsRangeError(...) mockThrow("RangeError", __VA_ARGS__)
