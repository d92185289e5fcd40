import { describe, expect, it } from "vitest";
import { SubscriptionTrie, topicMatches, validFilter } from "../../host-sim/broker/topic-match";
import { RetainedStore } from "../../host-sim/broker/retained";
import { SeededRandom } from "../../host-sim/virtual/random";
import { testSeed, withSeed } from "../helpers/seed";

const FILE = "test/broker/topic-match.test.ts";

describe("topic filters", () => {
  it("validates filters per §4.7.1", () => {
    for (const f of ["a", "a/b", "+", "#", "a/+/c", "a/#", "+/+", "/", "a//b", "$SYS/#", "+/#"]) expect(validFilter(f), f).toBe(true);
    for (const f of ["", "a/#/b", "a#", "a/b+", "#/a", "a/+b", "##"]) expect(validFilter(f), f).toBe(false);
  });

  it("matches the spec's examples (§4.7.1.2, §4.7.1.3, §4.7.2)", () => {
    const yes: [string, string][] = [
      ["sport/tennis/player1/#", "sport/tennis/player1"],
      ["sport/tennis/player1/#", "sport/tennis/player1/ranking"],
      ["sport/#", "sport"],
      ["#", "a/b/c"],
      ["sport/tennis/+", "sport/tennis/player1"],
      ["sport/+", "sport/"],
      ["+/+", "/finance"],
      ["/+", "/finance"],
      ["$SYS/#", "$SYS/broker"],
      ["$SYS/+", "$SYS/x"],
    ];
    const no: [string, string][] = [
      ["sport/tennis/+", "sport/tennis/player1/ranking"],
      ["sport/+", "sport"],
      ["+", "/finance"],
      ["#", "$SYS/broker"],
      ["+/broker", "$SYS/broker"],
      ["a/b", "a/b/c"],
    ];
    for (const [f, t] of yes) expect(topicMatches(f, t), `${f} ~ ${t}`).toBe(true);
    for (const [f, t] of no) expect(topicMatches(f, t), `${f} !~ ${t}`).toBe(false);
  });

  it("the trie finds exactly the subscribers whose filters match (randomized)", () => {
    const seed = testSeed();
    withSeed(seed, FILE, () => {
      const r = new SeededRandom(seed);
      const words = ["a", "b", "", "$x", "c"];
      const level = (wild: boolean) => {
        const k = r.below(wild ? 8 : 5);
        return k === 5 || k === 6 ? "+" : k === 7 ? "#" : words[k];
      };
      const make = (wild: boolean) => {
        const n = 1 + r.below(4);
        const ls: string[] = [];
        for (let i = 0; i < n; i++) {
          const l = level(wild);
          ls.push(l);
          if (l === "#") break;
        }
        return ls.join("/");
      };
      for (let round = 0; round < 50; round++) {
        const trie = new SubscriptionTrie<number>();
        const subs: [number, string][] = [];
        for (let i = 0; i < 30; i++) {
          const f = make(true);
          const who = r.below(10);
          subs.push([who, f]);
          trie.add(f, who, 1);
        }
        // Remove some again, to exercise pruning.
        for (let i = 0; i < 10; i++) {
          const [who, f] = subs.splice(r.below(subs.length), 1)[0];
          if (!subs.some(([w, g]) => w === who && g === f)) trie.remove(f, who);
          else subs.push([who, f]);
        }
        for (let i = 0; i < 40; i++) {
          const t = make(false);
          const expected = new Set(subs.filter(([, f]) => topicMatches(f, t)).map(([w]) => w));
          expect([...trie.match(t).keys()].sort(), `topic "${t}"`).toEqual([...expected].sort());
        }
      }
    });
  });

  it("counts and prunes subscriptions", () => {
    const trie = new SubscriptionTrie<string>();
    trie.add("a/+", "x", 1);
    trie.add("a/+", "x", 0); // QoS update, same pair
    trie.add("a/#", "y", 1);
    expect(trie.size).toBe(2);
    expect(trie.match("a/b")).toEqual(new Map([["x", 0], ["y", 1]]));
    expect(trie.remove("a/+", "x")).toBe(true);
    expect(trie.remove("a/+", "x")).toBe(false);
    expect(trie.remove("nope/x", "x")).toBe(false);
    expect(trie.size).toBe(1);
    expect([...trie.match("a/b").keys()]).toEqual(["y"]);
  });
});

describe("retained store", () => {
  it("stores, replaces and deletes on an empty payload", () => {
    const s = new RetainedStore();
    s.set("a/b", Uint8Array.of(1), 1);
    s.set("a/b", Uint8Array.of(2), 0);
    expect(s.size).toBe(1);
    expect(s.get("a/b")).toEqual({ topic: "a/b", payload: Uint8Array.of(2), qos: 0 });
    s.set("a/b", new Uint8Array(0), 0);
    expect(s.size).toBe(0);
    expect(s.get("a/b")).toBeUndefined();
    s.set("nothing/here", new Uint8Array(0), 0); // deleting what is not there is fine
    expect(s.size).toBe(0);
  });

  it("matches filters like topicMatches does (randomized)", () => {
    const seed = testSeed();
    withSeed(seed, FILE, () => {
      const r = new SeededRandom(seed);
      const words = ["a", "b", "", "$d"];
      const topic = () => Array.from({ length: 1 + r.below(3) }, () => words[r.below(words.length)]).join("/");
      const s = new RetainedStore();
      const live = new Map<string, number>();
      for (let i = 0; i < 60; i++) {
        const t = topic();
        const del = r.below(4) === 0;
        s.set(t, del ? new Uint8Array(0) : Uint8Array.of(i), 0);
        if (del) live.delete(t);
        else live.set(t, i);
      }
      expect(s.size).toBe(live.size);
      for (const f of ["#", "+", "+/+", "a/#", "+/b", "$d/#", "+/#", "a/+/b", "", "a", "/#"]) {
        if (!validFilter(f)) continue;
        const got = s.match(f).map((m) => m.topic).sort();
        const want = [...live.keys()].filter((t) => topicMatches(f, t)).sort();
        expect(got, `filter "${f}"`).toEqual(want);
      }
    });
  });
});
