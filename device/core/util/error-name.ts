/**
 * Names an Error subclass's instances. On the board the agent bundle is preloaded, and XS then
 * leaves the built-ins frozen: `this.name = "X"` in a constructor throws "set name: not
 * writable" (Error.prototype.name is read-only, and an assignment cannot shadow a read-only
 * inherited property), so every such error turned into a TypeError with that message (seen in
 * mcsim: a truncated config message was refused as "not CBOR: set name: not writable").
 * Defining the property is not an assignment, and works frozen or not.
 */
export function setErrorName(error: Error, name: string): void {
  Object.defineProperty(error, "name", { value: name, writable: true, enumerable: false, configurable: true });
}
