// The agent runs from its own image bundle in host-sim, with its own copy of the port error
// classes; errors the host's adapters throw must still be recognised (by name).
import { describe, expect, it } from "vitest";
import { FlashError, KvError, RollbackFailed } from "../../device/ports";

describe("port error classes across bundles", () => {
  it("instanceof recognises another copy of the class by its name, and nothing else", () => {
    class ForeignKvError extends Error {
      constructor() {
        super("from the host bundle");
        this.name = "KvError";
      }
    }
    expect(new ForeignKvError() instanceof KvError).toBe(true);
    expect(new KvError("io", "x") instanceof KvError).toBe(true);
    expect(new FlashError("io", "x") instanceof KvError).toBe(false);
    expect(new FlashError("io", "x") instanceof FlashError).toBe(true);
    expect(new RollbackFailed("x") instanceof RollbackFailed).toBe(true);
    expect(new Error("x") instanceof FlashError).toBe(false);
    expect({ name: "KvError" } instanceof KvError).toBe(false);
  });
});
