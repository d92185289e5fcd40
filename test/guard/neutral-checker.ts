/**
 * The checker behind the core-neutral guard: finds platform-specific imports and Node
 * globals in TypeScript source. Comments are ignored, and so are the contents of strings,
 * template literals and regular expressions, so prose does not trip it.
 */
import path from "node:path";
import { isModdableSpecifier, isNodeBuiltin, repoRoot } from "../../scripts/build.mjs";

export interface Violation {
  file: string;
  line: number;
  rule: string;
  text: string;
}

// ---------------------------------------------------------------- lexing
const REGEX_AFTER_KEYWORD = new Set([
  "return", "typeof", "instanceof", "case", "do", "else", "in", "of", "new", "delete", "void", "throw", "yield", "await",
]);

/**
 * Returns two views of `src`, both the same length as `src` (so offsets and line numbers
 * carry over): `code` has comments blanked; `bare` also blanks the contents of string,
 * template and regular-expression literals (template `${...}` code stays).
 */
export function lex(src: string): { code: string; bare: string } {
  const code = src.split("");
  const bare = src.split("");
  const n = src.length;
  const blank = (arr: string[], from: number, to: number) => {
    for (let k = from; k < to; k++) if (arr[k] !== "\n") arr[k] = " ";
  };
  // Brace depth at which each open template literal's `${` started.
  const templateStack: number[] = [];
  let braceDepth = 0;
  let lastSignificant = ""; // the last significant token (for regex detection)
  let i = 0;

  const scanTemplateText = (start: number): number => {
    // From just after "`" or "}", up to and including the closing "`" or "${".
    let j = start;
    while (j < n) {
      const c = src[j];
      if (c === "\\") {
        j += 2;
        continue;
      }
      if (c === "`") {
        blank(bare, start, j);
        return j + 1;
      }
      if (c === "$" && src[j + 1] === "{") {
        blank(bare, start, j);
        templateStack.push(braceDepth);
        braceDepth++;
        return j + 2;
      }
      j++;
    }
    blank(bare, start, n);
    return n;
  };

  while (i < n) {
    const c = src[i]!;
    const next = src[i + 1];
    if (c === "/" && next === "/") {
      let j = i;
      while (j < n && src[j] !== "\n") j++;
      blank(code, i, j);
      blank(bare, i, j);
      i = j;
      continue;
    }
    if (c === "/" && next === "*") {
      const end = src.indexOf("*/", i + 2);
      const j = end < 0 ? n : end + 2;
      blank(code, i, j);
      blank(bare, i, j);
      i = j;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < n && src[j] !== c && src[j] !== "\n") j += src[j] === "\\" ? 2 : 1;
      blank(bare, i + 1, Math.min(j, n));
      i = j + 1;
      lastSignificant = "str";
      continue;
    }
    if (c === "`") {
      i = scanTemplateText(i + 1);
      lastSignificant = "str";
      continue;
    }
    if (c === "/") {
      const regexAllowed =
        lastSignificant === "" || /^[(,=:[!&|?{};+\-*%<>~^]$/.test(lastSignificant) || REGEX_AFTER_KEYWORD.has(lastSignificant);
      if (regexAllowed) {
        let j = i + 1;
        let inClass = false;
        while (j < n && src[j] !== "\n") {
          const d = src[j];
          if (d === "\\") {
            j += 2;
            continue;
          }
          if (d === "[") inClass = true;
          else if (d === "]") inClass = false;
          else if (d === "/" && !inClass) break;
          j++;
        }
        blank(bare, i + 1, j);
        i = j + 1;
        while (i < n && /[a-z]/i.test(src[i]!)) i++;
        lastSignificant = "re";
        continue;
      }
    }
    if (c === "{") {
      braceDepth++;
      lastSignificant = c;
      i++;
      continue;
    }
    if (c === "}") {
      braceDepth--;
      if (templateStack.length && templateStack[templateStack.length - 1] === braceDepth) {
        templateStack.pop();
        i = scanTemplateText(i + 1);
        lastSignificant = "str";
        continue;
      }
      lastSignificant = c;
      i++;
      continue;
    }
    if (/[A-Za-z_$]/.test(c)) {
      let j = i + 1;
      while (j < n && /[\w$]/.test(src[j]!)) j++;
      lastSignificant = src.slice(i, j);
      i = j;
      continue;
    }
    if (/[0-9]/.test(c)) {
      let j = i + 1;
      while (j < n && /[\w.]/.test(src[j]!)) j++;
      lastSignificant = "num";
      i = j;
      continue;
    }
    if (!/\s/.test(c)) lastSignificant = c === ")" || c === "]" ? "close" : c;
    i++;
  }
  return { code: code.join(""), bare: bare.join("") };
}

// ---------------------------------------------------------------- rules
/**
 * Where a file sits, for the import rules: device/core, host-sim/virtual, or any other
 * repo file the device bundle reaches (bootloader-spec/reference, for example).
 */
export type Zone = "device-core" | "host-sim-virtual" | "reachable";

const abs = (p: string) => path.join(repoRoot, p);
/** Repo directories device code must never import from. */
const FORBIDDEN_DIRS = ["host-sim", "tools", "device/platform", "test", "bench", "scripts"].map(abs);
const HOST_SIM_VIRTUAL = abs("host-sim/virtual");

function within(file: string, dir: string): boolean {
  return file === dir || file.startsWith(dir + path.sep) || file.startsWith(`${dir}.`);
}

/** Whether a repo file (absolute path) is one device code may not import. */
export function isForbiddenLocal(target: string, zone: Zone): boolean {
  if (zone === "host-sim-virtual" && within(target, HOST_SIM_VIRTUAL)) return false;
  return FORBIDDEN_DIRS.some((dir) => within(target, dir));
}

function lineOf(src: string, index: number): number {
  let line = 1;
  for (let k = 0; k < index; k++) if (src.charCodeAt(k) === 10) line++;
  return line;
}

function lineText(src: string, index: number): string {
  const start = src.lastIndexOf("\n", index - 1) + 1;
  const end = src.indexOf("\n", index);
  return src.slice(start, end < 0 ? src.length : end).trim();
}

/**
 * Import specifiers, with their offsets. The keywords are found in `bare` (so text inside
 * strings never counts) and the specifier is read from `code` at the same offset.
 */
export function importSpecifiers(code: string, bare: string): Array<{ spec: string; index: number }> {
  const out: Array<{ spec: string; index: number }> = [];
  const patterns = [
    /\bfrom\s*(["'])/g, // import ... from "x", export ... from "x"
    /\bimport\s*(["'])/g, // import "x"
    /\bimport\s*\(\s*(["'`])/g, // import("x")
    /(?<![.\w$])require\s*\(\s*(["'`])/g, // require("x")
  ];
  for (const re of patterns) {
    for (const m of bare.matchAll(re)) {
      const open = m.index! + m[0].length - 1;
      const close = code.indexOf(m[1]!, open + 1);
      if (close < 0) continue;
      const spec = code.slice(open + 1, close);
      if (!spec.includes("\n") && !spec.includes("${")) out.push({ spec, index: m.index! });
    }
  }
  return out.sort((a, b) => a.index - b.index);
}

/** Judges one import specifier of `file` (absolute path) in `zone`; returns why it is forbidden. */
export function importViolation(spec: string, file: string, zone: Zone): string | undefined {
  if (spec.startsWith(".") || spec.startsWith("/")) {
    const target = path.resolve(path.dirname(file), spec);
    if (!isForbiddenLocal(target, zone)) return undefined;
    return `imports ${path.relative(repoRoot, target)}: device code may not import host-sim${zone === "host-sim-virtual" ? " (outside host-sim/virtual)" : ""}, tools, device/platform, test, bench or scripts`;
  }
  if (isNodeBuiltin(spec)) return `imports the Node builtin "${spec}"`;
  if (isModdableSpecifier(spec)) return `imports the Moddable module "${spec}" (platform code belongs in device/platform/moddable)`;
  return undefined;
}

interface GlobalRule {
  rule: string;
  re: RegExp;
  /** Skip matches that are member definitions (`name(...) {`, `name(...): T`, `name: v`). */
  skipDefinitions?: boolean;
}

const NOT_MEMBER = String.raw`(?<![.\w$])`;
const GLOBAL_RULES: GlobalRule[] = [
  { rule: "Buffer", re: new RegExp(`${NOT_MEMBER}Buffer\\b`, "g"), skipDefinitions: true },
  { rule: "process", re: new RegExp(`${NOT_MEMBER}process(?=\\s*[.[])|\\btypeof\\s+process\\b`, "g") },
  {
    rule: "timers (use the clock port)",
    re: new RegExp(`${NOT_MEMBER}(?:setTimeout|setInterval|setImmediate|clearTimeout|clearInterval|clearImmediate)\\b`, "g"),
    skipDefinitions: true,
  },
  { rule: "Date.now (use the clock ports)", re: new RegExp(`${NOT_MEMBER}Date\\s*\\.\\s*now\\b`, "g") },
  { rule: "new Date() (use the wall-clock port)", re: /\bnew\s+Date\s*(?:\(\s*\)|(?![\s(]))/g },
  { rule: "Date() (use the wall-clock port)", re: new RegExp(`${NOT_MEMBER}(?<!new\\s+)Date\\s*\\(\\s*\\)`, "g") },
  { rule: "performance", re: new RegExp(`${NOT_MEMBER}performance\\b`, "g"), skipDefinitions: true },
  { rule: "require(", re: new RegExp(`${NOT_MEMBER}require(?=\\s*\\()`, "g"), skipDefinitions: true },
  { rule: "__dirname/__filename", re: /\b__(?:dirname|filename)\b/g },
  { rule: "Math.random (use the random port)", re: new RegExp(`${NOT_MEMBER}Math\\s*\\.\\s*random\\b`, "g") },
  { rule: "console (use the log port)", re: new RegExp(`${NOT_MEMBER}console\\s*\\.`, "g") },
  // Moddable's runtime has no TextEncoder/TextDecoder globals (seen under mcsim): use mqtt/utf8.
  { rule: "TextEncoder/TextDecoder (not in the Moddable runtime; use device/core/mqtt/utf8)", re: new RegExp(`${NOT_MEMBER}Text(?:En|De)coder\\b`, "g"), skipDefinitions: true },
  { rule: "global crypto (use the ports)", re: new RegExp(`${NOT_MEMBER}crypto\\s*\\.\\s*(?:getRandomValues|subtle|randomUUID)\\b`, "g") },
  {
    rule: "Node global via globalThis",
    re: /\b(?:globalThis|global|self|window)\s*\.\s*(?:process|Buffer|setTimeout|setInterval|setImmediate|performance|require|crypto|console)\b/g,
  },
];

/** Whether the identifier at [start, end) in `bare` is a member definition rather than a use. */
function isDefinition(bare: string, end: number): boolean {
  let k = end;
  while (k < bare.length && /\s/.test(bare[k]!)) k++;
  if (bare[k] === "?") k++; // optional member: name?(...) or name?: T
  while (k < bare.length && /\s/.test(bare[k]!)) k++;
  if (bare[k] === ":") return true; // property key or typed member
  if (bare[k] === "<") return false; // generic call; treat as a use
  if (bare[k] !== "(") return false;
  let depth = 0;
  for (; k < bare.length; k++) {
    if (bare[k] === "(") depth++;
    else if (bare[k] === ")" && --depth === 0) break;
  }
  k++;
  while (k < bare.length && /\s/.test(bare[k]!)) k++;
  return bare[k] === "{" || bare[k] === ":";
}

/** Finds every violation in one file's source. `file` is an absolute path. */
export function findViolations(src: string, file: string, zone: Zone): Violation[] {
  const { code, bare } = lex(src);
  const rel = path.relative(repoRoot, file);
  const out: Violation[] = [];
  for (const { spec, index } of importSpecifiers(code, bare)) {
    const why = importViolation(spec, file, zone);
    if (why) out.push({ file: rel, line: lineOf(src, index), rule: why, text: lineText(src, index) });
  }
  for (const { rule, re, skipDefinitions } of GLOBAL_RULES) {
    for (const m of bare.matchAll(re)) {
      if (skipDefinitions && isDefinition(bare, m.index! + m[0].length)) continue;
      out.push({ file: rel, line: lineOf(src, m.index!), rule: `uses ${rule}`, text: lineText(src, m.index!) });
    }
  }
  return out.sort((a, b) => a.line - b.line);
}

/** device/** (the platform adapters too) and service/** run without the simulator: they never import host-sim. */
const HOST_SIM = abs("host-sim");

/** Imports of host-sim in one file's source (`file` is an absolute path). */
export function hostSimImports(src: string, file: string): Violation[] {
  const { code, bare } = lex(src);
  const out: Violation[] = [];
  for (const { spec, index } of importSpecifiers(code, bare)) {
    if (!spec.startsWith(".") && !spec.startsWith("/")) continue;
    const target = path.resolve(path.dirname(file), spec);
    if (!within(target, HOST_SIM)) continue;
    const rule = `imports ${path.relative(repoRoot, target)}: device and service code may not depend on the simulator`;
    out.push({ file: path.relative(repoRoot, file), line: lineOf(src, index), rule, text: lineText(src, index) });
  }
  return out;
}

export function formatViolations(vs: Violation[]): string {
  return vs.map((v) => `${v.file}:${v.line}: ${v.rule}\n    ${v.text}`).join("\n");
}
