import { describe, expect, it } from "vitest";
import { type JournalHeader, type JournalRecord, startJournalBatches } from "../../src/transfer/deploy/journal.ts";

const header: JournalHeader = { kind: "start", runId: "r1", baseId: undefined, planned: [] };
const done = (path: string) => ({ kind: "done", path, size: 1, hash: "h", mtime: 0 }) as const;

describe("journal batches", () => {
  it("records appended while a batch is written follow it without another append or close", async () => {
    const batches: Array<[number, string[]]> = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let stalled = false;
    const journal = await startJournalBatches(header, async (seq, records: JournalRecord[]) => {
      if (seq === 1) {
        stalled = true;
        await held; // the host stalls on the first batch
      }
      batches.push([seq, records.map((r) => (r.kind === "done" ? r.path : r.kind))]);
    });
    await journal.append(done("a.html"));
    for (let i = 0; i < 100 && !stalled; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    await journal.append(done("b.html"));
    await journal.append(done("c.html"));
    release();
    for (let i = 0; i < 100 && batches.length < 3; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(batches).toEqual([
      [0, ["start"]],
      [1, ["a.html"]],
      [2, ["b.html", "c.html"]],
    ]);
    await journal.close();
    expect(batches).toHaveLength(3);
  });

  it("records appended together go in one batch", async () => {
    const batches: Array<[number, string[]]> = [];
    const journal = await startJournalBatches(header, async (seq, records: JournalRecord[]) => {
      batches.push([seq, records.map((r) => (r.kind === "done" ? r.path : r.kind))]);
    });
    for (const name of ["a.html", "b.html", "c.html"]) await journal.append(done(name));
    for (let i = 0; i < 100 && batches.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(batches).toEqual([
      [0, ["start"]],
      [1, ["a.html", "b.html", "c.html"]],
    ]);
    await journal.close();
  });

  it("a failed batch is carried into the next write, and close writes it", async () => {
    const batches: Array<[number, string[]]> = [];
    let fail = true;
    const journal = await startJournalBatches(header, async (seq, records: JournalRecord[]) => {
      if (seq === 1 && fail) {
        fail = false;
        throw new Error("connection lost");
      }
      batches.push([seq, records.map((r) => (r.kind === "done" ? r.path : r.kind))]);
    });
    await journal.append(done("a.html"));
    await journal.close();
    expect(batches).toEqual([
      [0, ["start"]],
      [1, ["a.html"]],
    ]);
  });
});
