/*
 * embedded:io/analog for the Moddable simulator, which has none: a battery divider that reads
 * a constant 60 % of full scale (with the manifest's 6600 mV full scale, about 3.96 V).
 */
export default class {
	#resolution;
	constructor(options) {
		this.#resolution = options?.resolution ?? 12;
	}
	get resolution() { return this.#resolution; }
	read() { return Math.round(((1 << this.#resolution) - 1) * 0.6); }
	close() {}
}
