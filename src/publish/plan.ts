import type { Article } from "../content/index.ts";
import type { PublishedItem } from "../store/index.ts";

/** What a publish will do with one article. */
export type PlanAction =
  | { kind: "create"; article: Article; hash: string }
  | { kind: "update"; article: Article; hash: string; record: PublishedItem }
  | { kind: "unchanged"; article: Article; record: PublishedItem }
  | { kind: "remove"; record: PublishedItem; to: "draft" | "trash" };

export interface PlanInput {
  /** Ready articles, in publishing order. */
  articles: { article: Article; hash: string }[];
  /** Post records of this target, by article id. */
  records: Map<string, PublishedItem>;
  onRemoved: "keep" | "draft" | "trash";
  /** Send every article again. */
  force: boolean;
  /** At most this many creates + updates (the rest wait for the next run). */
  limit: number | undefined;
}

export interface PublishPlan {
  actions: PlanAction[];
  /** Creates and updates left for a later run by --limit. */
  deferred: number;
}

/**
 * The plan of a publish, from local facts only (articles, their input hashes, the store's records): no request is
 * needed to know that nothing changed. Pure: tests drive it from tables.
 */
export function planPublish(input: PlanInput): PublishPlan {
  const actions: PlanAction[] = [];
  let writes = 0;
  let deferred = 0;
  const ready = new Set<string>();
  for (const { article, hash } of input.articles) {
    ready.add(article.id);
    const record = input.records.get(article.id);
    const returning = record?.info.removed !== undefined;
    if (record && record.hash === hash && !input.force && !returning) {
      actions.push({ kind: "unchanged", article, record });
      continue;
    }
    if (input.limit !== undefined && writes >= input.limit) {
      deferred++;
      continue;
    }
    writes++;
    actions.push(record ? { kind: "update", article, hash, record } : { kind: "create", article, hash });
  }
  if (input.onRemoved !== "keep") {
    for (const record of input.records.values()) {
      if (ready.has(record.key) || record.info.removed === input.onRemoved) continue;
      // a trashed post is not made a draft again; a draft may still go to the trash
      if (record.info.removed === "trash") continue;
      actions.push({ kind: "remove", record, to: input.onRemoved });
    }
  }
  return { actions, deferred };
}

/** One line per action, for --dry-run and the run record. */
export function describePlan(plan: PublishPlan): string[] {
  const lines = plan.actions
    .filter((a) => a.kind !== "unchanged")
    .map((a) => {
      switch (a.kind) {
        case "create":
          return `create ${a.article.slug} (or adopt the post with its slug and siteloom marker)`;
        case "update":
          return `update ${a.article.slug} (post ${a.record.remoteId})`;
        case "remove":
          return `${a.to === "trash" ? "trash" : "unpublish"} post ${a.record.remoteId} (${String(a.record.info.slug ?? a.record.key)}: no longer a ready article)`;
        default:
          return "";
      }
    });
  if (plan.deferred > 0) lines.push(`${plan.deferred} more article(s) left for the next run (--limit)`);
  return lines;
}
