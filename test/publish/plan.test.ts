import { describe, expect, it } from "vitest";
import type { Article } from "../../src/content/index.ts";
import { describePlan, planPublish } from "../../src/publish/index.ts";
import type { PublishedItem } from "../../src/store/index.ts";

const article = (id: string): Article => ({ id, slug: `post-${id}` }) as Article;
const record = (id: string, hash: string, info: Record<string, unknown> = {}): PublishedItem => ({
  target: "t",
  kind: "post",
  key: id,
  remoteId: `9${id}`,
  hash,
  info: { slug: `post-${id}`, ...info },
  updated: "",
});

describe("publish: plan", () => {
  const cases: {
    name: string;
    articles: [string, string][];
    records: PublishedItem[];
    onRemoved?: "keep" | "draft" | "trash";
    force?: boolean;
    limit?: number;
    expected: string[];
    deferred?: number;
  }[] = [
    { name: "new article", articles: [["a", "h1"]], records: [], expected: ["create a"] },
    { name: "same hash", articles: [["a", "h1"]], records: [record("a", "h1")], expected: ["unchanged a"] },
    { name: "changed hash", articles: [["a", "h2"]], records: [record("a", "h1")], expected: ["update a"] },
    { name: "reserved only", articles: [["a", "h1"]], records: [record("a", "")], expected: ["update a"] },
    { name: "force", articles: [["a", "h1"]], records: [record("a", "h1")], force: true, expected: ["update a"] },
    { name: "removed, keep", articles: [], records: [record("a", "h1")], expected: [] },
    {
      name: "removed, draft",
      articles: [],
      records: [record("a", "h1")],
      onRemoved: "draft",
      expected: ["remove a draft"],
    },
    {
      name: "removed, already a draft",
      articles: [],
      records: [record("a", "h1", { removed: "draft" })],
      onRemoved: "draft",
      expected: [],
    },
    {
      name: "trashed stays trashed",
      articles: [],
      records: [record("a", "h1", { removed: "trash" })],
      onRemoved: "draft",
      expected: [],
    },
    {
      name: "article back after removal",
      articles: [["a", "h1"]],
      records: [record("a", "h1", { removed: "trash" })],
      expected: ["update a"],
    },
    {
      name: "limit",
      articles: [
        ["a", "1"],
        ["b", "2"],
        ["c", "3"],
      ],
      records: [],
      limit: 2,
      expected: ["create a", "create b"],
      deferred: 1,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = planPublish({
        articles: c.articles.map(([id, hash]) => ({ article: article(id), hash })),
        records: new Map(c.records.map((r) => [r.key, r])),
        onRemoved: c.onRemoved ?? "keep",
        force: c.force ?? false,
        limit: c.limit,
      });
      expect(
        plan.actions.map((a) => (a.kind === "remove" ? `remove ${a.record.key} ${a.to}` : `${a.kind} ${a.article.id}`)),
      ).toEqual(c.expected);
      expect(plan.deferred).toBe(c.deferred ?? 0);
      expect(describePlan(plan).length).toBe(
        c.expected.filter((e) => !e.startsWith("unchanged")).length + (c.deferred ? 1 : 0),
      );
    });
  }
});
