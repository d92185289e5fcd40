// Removes `name` from every built-in function reachable from the global object, and from
// Function.prototype (else the lookup would find its ""), as xsl leaves them when it links with a
// `strip` list. Imported first by a scenario, so it runs before the rest of the bundle.
for (const key of Object.getOwnPropertyNames(globalThis)) {
  const value = (globalThis as Record<string, unknown>)[key];
  if (typeof value === "function") delete (value as { name?: string }).name;
}
delete (Function.prototype as { name?: string }).name;
