/*
 * embedded:storage/flash for the Moddable simulator, which has none (Moddable SDK 8.2.3 builds
 * it for esp32 only). The partitions of manifests/esp32/partitions.csv ("running", "nextota",
 * "otadata"), each a host file under the `file` module's root (/tmp/ on Linux), so
 * they live outside the XS heap and survive a restart, as flash does. NOR rules: a new file
 * reads 0xFF, a write only clears bits, an erase sets a 4 KB block back to 0xFF.
 */
import { File } from "file";
import mcConfig from "mc/config";

const BLOCK = 4096;
const SIZES = { running: 0x1F0000, nextota: 0x1F0000, otadata: 0x2000 };

function bytes(buffer) {
	return ArrayBuffer.isView(buffer) ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength) : new Uint8Array(buffer);
}

class SimFlash {
	#file;
	#size;
	#writable;
	constructor(file, size, writable) {
		this.#file = file;
		this.#size = size;
		this.#writable = writable;
	}
	get format() { return "buffer"; }
	set format(value) { if (value !== "buffer") throw new RangeError("format: buffer only"); }
	status() { return { size: this.#size, blockLength: BLOCK, blocks: this.#size / BLOCK }; }
	read(what, offset) {
		const length = (typeof what === "number") ? what : bytes(what).byteLength;
		this.#range(offset, length);
		this.#file.position = offset;
		const data = this.#file.read(ArrayBuffer, length);
		if (typeof what === "number")
			return data;
		bytes(what).set(new Uint8Array(data));
		return length;
	}
	write(buffer, offset) {
		if (!this.#writable) throw new Error("flash: read-only");
		const data = bytes(buffer);
		this.#range(offset, data.byteLength);
		this.#file.position = offset;
		const now = new Uint8Array(this.#file.read(ArrayBuffer, data.byteLength));
		for (let i = 0; i < now.length; i++) now[i] &= data[i];
		this.#file.position = offset;
		this.#file.write(now.buffer);
	}
	eraseBlock(start, end = start + 1) {
		if (!this.#writable) throw new Error("flash: read-only");
		this.#range(start * BLOCK, (end - start) * BLOCK);
		const erased = new Uint8Array(BLOCK).fill(0xFF).buffer;
		this.#file.position = start * BLOCK;
		for (let b = start; b < end; b++) this.#file.write(erased);
	}
	close() {
		this.#file.close();
	}
	#range(offset, length) {
		if (!(offset >= 0 && length >= 0 && offset + length <= this.#size)) throw new RangeError("flash: out of range");
	}
}

export default class {
	static open(options) {
		const size = SIZES[options.path];
		if (size === undefined) throw new Error(`flash: no partition "${options.path}"`);
		const name = `${mcConfig.file.root}tether-sim-${mcConfig.deviceId}-${options.path}.flash`;
		if (!File.exists(name)) {
			const file = new File(name, true);
			const erased = new Uint8Array(BLOCK).fill(0xFF).buffer;
			for (let b = 0; b < size / BLOCK; b++) file.write(erased);
			file.close();
		}
		return new SimFlash(new File(name, options.mode !== "r"), size, options.mode !== "r");
	}
}
