/**
 * Retained messages (§3.3.1.3), stored in a tree by topic level so a SUBSCRIBE walks only
 * the branches its filter can match (10,000 devices each retain a status message).
 * Portable: no Node APIs.
 */

export interface RetainedMessage {
  topic: string;
  payload: Uint8Array;
  qos: number;
}

interface Node {
  children: Map<string, Node> | undefined;
  msg: RetainedMessage | undefined;
}

const newNode = (): Node => ({ children: undefined, msg: undefined });

export class RetainedStore {
  private root: Node = newNode();
  /** Number of retained messages held. */
  size = 0;

  /** Stores or replaces; an empty payload deletes (§3.3.1-10, -11). */
  set(topic: string, payload: Uint8Array, qos: number): void {
    const levels = topic.split("/");
    if (payload.length === 0) return this.delete(levels);
    let node = this.root;
    for (const level of levels) {
      node.children ??= new Map();
      let next = node.children.get(level);
      if (next === undefined) {
        next = newNode();
        node.children.set(level, next);
      }
      node = next;
    }
    if (node.msg === undefined) this.size++;
    node.msg = { topic, payload, qos };
  }

  get(topic: string): RetainedMessage | undefined {
    let node: Node | undefined = this.root;
    for (const level of topic.split("/")) {
      node = node.children?.get(level);
      if (node === undefined) return undefined;
    }
    return node.msg;
  }

  clear(): void {
    this.root = newNode();
    this.size = 0;
  }

  /** Every retained message whose topic matches the (valid) filter, in insertion order per level. */
  match(filter: string): RetainedMessage[] {
    const out: RetainedMessage[] = [];
    walk(this.root, filter.split("/"), 0, out);
    return out;
  }

  private delete(levels: string[]): void {
    const path: [Node, string][] = [];
    let node: Node | undefined = this.root;
    for (const level of levels) {
      const next: Node | undefined = node.children?.get(level);
      if (next === undefined) return;
      path.push([node, level]);
      node = next;
    }
    if (node.msg === undefined) return;
    node.msg = undefined;
    this.size--;
    for (let i = path.length - 1; i >= 0; i--) {
      const [parent, level] = path[i];
      const child = parent.children!.get(level)!;
      if (child.msg !== undefined || (child.children !== undefined && child.children.size > 0)) break;
      parent.children!.delete(level);
    }
  }
}

function walk(node: Node, f: string[], i: number, out: RetainedMessage[]): void {
  if (i === f.length) {
    if (node.msg) out.push(node.msg);
    return;
  }
  const level = f[i];
  if (level === "#") {
    // "a/#" matches "a" itself and everything below; at the root, not `$` topics (§4.7.2).
    if (i > 0 && node.msg) out.push(node.msg);
    subtree(node, i === 0, out);
    return;
  }
  const children = node.children;
  if (children === undefined) return;
  if (level === "+") {
    for (const [name, child] of children) {
      if (i === 0 && name.charCodeAt(0) === 36 /* $ */) continue;
      walk(child, f, i + 1, out);
    }
    return;
  }
  const child = children.get(level);
  if (child !== undefined) walk(child, f, i + 1, out);
}

function subtree(node: Node, atRoot: boolean, out: RetainedMessage[]): void {
  if (node.children === undefined) return;
  for (const [name, child] of node.children) {
    if (atRoot && name.charCodeAt(0) === 36 /* $ */) continue;
    if (child.msg) out.push(child.msg);
    subtree(child, false, out);
  }
}
