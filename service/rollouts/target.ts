/**
 * Rollout target expressions: `firmware < 1.3.0 and group = field`.
 *
 *   expr   := clause (("and" | "or") clause)*      "and" binds tighter than "or"
 *   clause := field op value
 *   field  := firmware | group | hardware | id
 *   op     := = | != | < | <= | > | >=             (< <= > >= only for firmware)
 *   value  := a version (MAJOR.MINOR.PATCH) for firmware, else a label; quotes optional
 */
import { versionNumber } from "../../device/core/ota/version";

export interface TargetDevice {
  id: string;
  firmware_num: number | null;
  group_name: string | null;
  hardware: string | null;
}

type Op = "=" | "!=" | "<" | "<=" | ">" | ">=";
interface Clause {
  field: "firmware" | "group" | "hardware" | "id";
  op: Op;
  value: string;
  version?: number;
}
/** Disjunctive normal form: any of (all of clauses). */
export type Target = Clause[][];

export class TargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TargetError";
  }
}

const TOKEN = /\s*(<=|>=|!=|=|<|>|"[^"]*"|'[^']*'|[A-Za-z0-9._-]+)/y;
const FIELDS = new Set(["firmware", "group", "hardware", "id"]);
const OPS = new Set(["=", "!=", "<", "<=", ">", ">="]);

function tokens(text: string): string[] {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  let i = 0;
  while (i < text.length) {
    if (/^\s*$/.test(text.slice(i))) break;
    TOKEN.lastIndex = i;
    const m = TOKEN.exec(text);
    if (!m) throw new TargetError(`target: cannot read "${text.slice(i).trim()}"`);
    out.push(m[1].replace(/^["']|["']$/g, ""));
    i = TOKEN.lastIndex;
  }
  return out;
}

export function parseTarget(text: string): Target {
  if (text.length > 1000) throw new TargetError("target: longer than 1000 characters");
  const t = tokens(text);
  if (t.length === 0) throw new TargetError("target: empty (e.g. 'firmware < 1.3.0 and group = field')");
  const any: Target = [[]];
  let i = 0;
  for (;;) {
    const [field, op, value] = [t[i], t[i + 1], t[i + 2]];
    if (!FIELDS.has(field)) throw new TargetError(`target: "${field ?? ""}" is not a field (firmware, group, hardware, id)`);
    if (!OPS.has(op)) throw new TargetError(`target: expected an operator (= != < <= > >=) after "${field}", got "${op ?? "end"}"`);
    if (value === undefined || OPS.has(value)) throw new TargetError(`target: "${field} ${op}" needs a value`);
    const clause: Clause = { field: field as Clause["field"], op: op as Op, value };
    if (field === "firmware") {
      try {
        clause.version = versionNumber(value);
      } catch {
        throw new TargetError(`target: "${value}" is not a version (MAJOR.MINOR.PATCH)`);
      }
    } else if (op !== "=" && op !== "!=") throw new TargetError(`target: "${field}" compares only with = or !=`);
    any[any.length - 1].push(clause);
    i += 3;
    if (i >= t.length) break;
    const joint = t[i].toLowerCase();
    if (joint === "or") any.push([]);
    else if (joint !== "and") throw new TargetError(`target: expected "and" or "or", got "${t[i]}"`);
    i++;
    if (i >= t.length) throw new TargetError(`target: nothing after "${t[i - 1]}"`);
  }
  return any;
}

function compare(a: number, op: Op, b: number): boolean {
  switch (op) {
    case "=": return a === b;
    case "!=": return a !== b;
    case "<": return a < b;
    case "<=": return a <= b;
    case ">": return a > b;
    case ">=": return a >= b;
  }
}

function holds(c: Clause, d: TargetDevice): boolean {
  if (c.field === "firmware") return d.firmware_num !== null && compare(d.firmware_num, c.op, c.version!);
  const v = c.field === "group" ? d.group_name : c.field === "hardware" ? d.hardware : d.id;
  return c.op === "=" ? v === c.value : v !== c.value;
}

export function matches(target: Target, d: TargetDevice): boolean {
  return target.some((all) => all.every((c) => holds(c, d)));
}
