/**
 * MQTT 3.1.1 topic filters (§4.7): validation, one-off matching, and a subscription trie
 * so routing a PUBLISH costs the topic's depth, not the number of subscriptions (a fleet
 * holds tens of thousands). Portable: no Node APIs.
 */

// ---------------------------------------------------------------- protocol constants
const SEP = "/";
const ONE = "+";
const MULTI = "#";

/** §4.7.1: `#` only as the whole last level, `+` only as a whole level; not empty. */
export function validFilter(filter: string): boolean {
  if (filter.length === 0) return false;
  const levels = filter.split(SEP);
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i];
    if (l === MULTI) {
      if (i !== levels.length - 1) return false;
    } else if (l === ONE) {
      // fine
    } else if (l.includes(MULTI) || l.includes(ONE)) return false;
  }
  return true;
}

/** Whether `topic` (a valid topic name) matches `filter` (a valid filter). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split(SEP);
  const t = topic.split(SEP);
  // §4.7.2: wildcards at the first level never match `$` topics.
  if (topic.startsWith("$") && (f[0] === ONE || f[0] === MULTI)) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === MULTI) return true; // also matches the parent level ("a/#" matches "a")
    if (i >= t.length) return false;
    if (f[i] !== ONE && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

// ---------------------------------------------------------------- subscription trie
interface Node<S> {
  children: Map<string, Node<S>> | undefined;
  /** Subscriber → granted QoS for the filter that ends here. */
  subs: Map<S, number> | undefined;
}

const newNode = <S>(): Node<S> => ({ children: undefined, subs: undefined });

/** Subscriptions by filter; S is any subscriber identity (a session, an internal callback). */
export class SubscriptionTrie<S> {
  private readonly root: Node<S> = newNode<S>();
  /** Number of (subscriber, filter) pairs. */
  size = 0;
  /** Bumped by every change, so callers can cache match() results per topic. */
  version = 0;

  /** Adds or replaces (QoS update) a subscription. */
  add(filter: string, sub: S, qos: number): void {
    let node = this.root;
    for (const level of filter.split(SEP)) {
      node.children ??= new Map();
      let next = node.children.get(level);
      if (next === undefined) {
        next = newNode<S>();
        node.children.set(level, next);
      }
      node = next;
    }
    node.subs ??= new Map();
    if (!node.subs.has(sub)) this.size++;
    node.subs.set(sub, qos);
    this.version++;
  }

  /** Removes a subscription; prunes empty branches. Returns whether it existed. */
  remove(filter: string, sub: S): boolean {
    const path: [Node<S>, string][] = [];
    let node: Node<S> | undefined = this.root;
    for (const level of filter.split(SEP)) {
      const next: Node<S> | undefined = node.children?.get(level);
      if (next === undefined) return false;
      path.push([node, level]);
      node = next;
    }
    if (!node.subs?.delete(sub)) return false;
    this.size--;
    this.version++;
    if (node.subs.size === 0) node.subs = undefined;
    for (let i = path.length - 1; i >= 0; i--) {
      const [parent, level] = path[i];
      const child = parent.children!.get(level)!;
      if (child.subs !== undefined || (child.children !== undefined && child.children.size > 0)) break;
      parent.children!.delete(level);
    }
    return true;
  }

  /**
   * Every subscriber matching `topic`, each once. Where a subscriber has overlapping
   * matching filters, the first one in Mosquitto's search order wins (deeper literal levels,
   * then `+`, then `#`, a filter's `#` child before the filter itself): Mosquitto 2.0 and
   * aedes both deliver once at that filter's QoS, not at the maximum §3.3.5 asks for.
   */
  match(topic: string, out: Map<S, number> = new Map()): Map<S, number> {
    const levels = topic.split(SEP);
    this.walk(this.root, levels, 0, topic.charCodeAt(0) === 36 /* $ */, out);
    return out;
  }

  private walk(node: Node<S>, levels: string[], i: number, dollar: boolean, out: Map<S, number>): void {
    const children = node.children;
    if (children === undefined) return;
    const wild = !(i === 0 && dollar); // §4.7.2: no first-level wildcard matches a `$` topic
    if (i < levels.length) {
      const last = i + 1 === levels.length;
      const exact = children.get(levels[i]);
      if (exact !== undefined) {
        this.walk(exact, levels, i + 1, dollar, out);
        if (last) collect(exact.subs, out);
      }
      const one = wild ? children.get(ONE) : undefined;
      if (one !== undefined) {
        this.walk(one, levels, i + 1, dollar, out);
        if (last) collect(one.subs, out);
      }
    }
    // At i === levels.length this is "a/#" matching "a".
    const multi = wild ? children.get(MULTI) : undefined;
    if (multi !== undefined) collect(multi.subs, out);
  }
}

function collect<S>(subs: Map<S, number> | undefined, out: Map<S, number>): void {
  if (subs === undefined) return;
  for (const [s, q] of subs) if (!out.has(s)) out.set(s, q);
}
