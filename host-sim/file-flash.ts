/**
 * Flash persisted in a directory, one file per partition, with the same NOR semantics as the
 * simulated flash (it is one): every completed write or erase is written through to its file.
 * It lives in host-sim, not device/platform/node, because it is the simulated chip on disk and
 * device code never imports the simulator.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { PartitionName } from "../device/ports";
import { SimFlash, type PartitionLayout } from "./virtual/flash";

export function openFileFlash(dir: string, layout: PartitionLayout[], blockSize?: number): SimFlash {
  mkdirSync(dir, { recursive: true });
  const images: [PartitionName, Uint8Array][] = layout.map(({ name, size }) => {
    const file = join(dir, `${name}.bin`);
    if (existsSync(file)) {
      const bytes = new Uint8Array(readFileSync(file));
      if (bytes.length === size) return [name, bytes];
      throw new Error(`flash: ${file} is ${bytes.length} bytes, the layout says ${size}; move it aside to start fresh`);
    }
    const blank = new Uint8Array(size).fill(0xff);
    writeFileSync(file, blank);
    return [name, blank];
  });
  const flash = SimFlash.fromImages(images, { blockSize });
  flash.afterOp = (op, bytes) => {
    const fd = openSync(join(dir, `${op.partition}.bin`), "r+");
    try {
      writeSync(fd, bytes, op.offset, op.length, op.offset);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  };
  return flash;
}
