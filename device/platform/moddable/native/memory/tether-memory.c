/*
 * tether-memory native side (see tether-memory.js). Reads the counters XS keeps for its own
 * allocator (xs/sources/xsAll.h, txMachine: currentHeapCount/maximumHeapCount for slots,
 * currentChunksSize/maximumChunksSize for chunk bytes; xsMemory.c updates them on every
 * allocation and collection). Moddable's instrumentation reads the same fields
 * (xs/platforms/mc/xsHosts.c, modInstrumentationSlotHeapSize), but only in -d and -i builds;
 * this works in release builds, which is what boards in the field run.
 */

#include "xsAll.h"
#include "xsmc.h"

void xs_tether_memory_sample(xsMachine *the)
{
	/* Read first: making the result array allocates slots. */
	txInteger slotsUsed = (txInteger)the->currentHeapCount;
	txInteger slotsFree = (txInteger)(the->maximumHeapCount - the->currentHeapCount);
	txInteger chunksUsed = (txInteger)the->currentChunksSize;
	txInteger chunksFree = (txInteger)(the->maximumChunksSize - the->currentChunksSize);

	xsmcVars(1);
	xsmcSetNewArray(xsResult, 4);
	xsmcSetInteger(xsVar(0), slotsUsed);
	xsmcSetIndex(xsResult, 0, xsVar(0));
	xsmcSetInteger(xsVar(0), slotsFree);
	xsmcSetIndex(xsResult, 1, xsVar(0));
	xsmcSetInteger(xsVar(0), chunksUsed);
	xsmcSetIndex(xsResult, 2, xsVar(0));
	xsmcSetInteger(xsVar(0), chunksFree);
	xsmcSetIndex(xsResult, 3, xsVar(0));
}
