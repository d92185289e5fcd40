/**
 * Self and inclusive time per function from a `.cpuprofile` (what `node --cpu-prof` writes), so a
 * profile of `bench/lib/profile-fleet.ts` can be read without a browser.
 *
 *   node bench/lib/cpuprofile-summary.mjs FILE.cpuprofile [top=30] [--files]
 *
 * `--files` sums self time per source file instead of per function. Inclusive time counts a
 * function once per sample even when it recurses.
 */
import { readFileSync } from "node:fs";

const args = process.argv.slice(2);
const byFile = args.includes("--files");
const [file, topArg] = args.filter((a) => !a.startsWith("--"));
if (!file) {
  console.error("usage: node bench/lib/cpuprofile-summary.mjs FILE.cpuprofile [top] [--files]");
  process.exit(2);
}
const top = Number(topArg ?? 30);
const profile = JSON.parse(readFileSync(file, "utf8"));

const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

function shortUrl(url) {
  if (!url) return "(native)";
  const i = url.indexOf("/s3-speed/");
  const j = url.lastIndexOf("node_modules/");
  if (j >= 0) return url.slice(j + 13);
  return i >= 0 ? url.slice(i + 10) : url.replace(/^file:\/\//, "");
}
function keyOf(node) {
  const f = node.callFrame;
  if (byFile) return shortUrl(f.url);
  return `${f.functionName || "(anonymous)"} ${shortUrl(f.url)}:${f.lineNumber + 1}`;
}

// Sample time deltas: each sample's duration is the gap to the next one.
const counts = new Map();
const deltas = profile.timeDeltas;
for (let i = 0; i < profile.samples.length; i++) {
  const dt = deltas[i + 1] ?? 0;
  counts.set(profile.samples[i], (counts.get(profile.samples[i]) ?? 0) + dt);
}
let total = 0;
const self = new Map();
const incl = new Map();
for (const [id, us] of counts) {
  total += us;
  const k = keyOf(nodes.get(id));
  self.set(k, (self.get(k) ?? 0) + us);
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const key = keyOf(nodes.get(cur));
    if (seen.has(key)) continue;
    seen.add(key);
    incl.set(key, (incl.get(key) ?? 0) + us);
  }
}
const pct = (us) => ((100 * us) / total).toFixed(1).padStart(5);
const print = (title, m) => {
  console.log(`\n${title} (total ${(total / 1e6).toFixed(2)} s sampled)`);
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}%  ${k}`);
};
print("self", self);
if (!byFile) print("inclusive", incl);
