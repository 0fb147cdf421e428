import { describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import { applyMergePatchToDocument, mergePatch } from "../../src/server/yaml-edit.ts";

describe("server: JSON Merge Patch (RFC 7386)", () => {
  // the examples of RFC 7386 appendix A
  const cases: [unknown, unknown, unknown][] = [
    [{ a: "b" }, { a: "c" }, { a: "c" }],
    [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
    [{ a: "b" }, { a: null }, {}],
    [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
    [{ a: ["b"] }, { a: "c" }, { a: "c" }],
    [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
    [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
    [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
    [
      ["a", "b"],
      ["c", "d"],
      ["c", "d"],
    ],
    [{ a: "b" }, ["c"], ["c"]],
    [{ a: "foo" }, null, null],
    [{ a: "foo" }, "bar", "bar"],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: "b", c: null }, { a: "b" }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  it.each(cases)("%j + %j", (target, patch, expected) => {
    expect(mergePatch(target, patch)).toEqual(expected);
  });

  it("edits a YAML document in place, keeping comments, order and untouched quoting (a deleted pair takes its blank line)", () => {
    const text = `# top comment
name: "Quoted Shop" # keep quotes
remote:
  host: a.example # the host
  port: 21

  user: deploy # blank line above stays
content:
  tone: dry
`;
    const doc = parseDocument(text);
    applyMergePatchToDocument(doc, {
      remote: { port: 22, user: null, root: "/www" },
      content: { tone: null },
      llm: { model: "m" },
    });
    expect(doc.toString()).toBe(`# top comment
name: "Quoted Shop" # keep quotes
remote:
  host: a.example # the host
  port: 22
  root: /www
content: {}
llm:
  model: m
`);
    // the result equals the RFC applied to plain data
    expect(doc.toJS()).toEqual(
      mergePatch(parseDocument(text).toJS(), {
        remote: { port: 22, user: null, root: "/www" },
        content: { tone: null },
        llm: { model: "m" },
      }),
    );
  });

  it("patches inside a nested base path (an environments block)", () => {
    const doc = parseDocument(
      "deploy:\n  parallel: 4\nenvironments:\n  production:\n    deploy:\n      parallel: 2 # gentle\n",
    );
    applyMergePatchToDocument(doc, { deploy: { retries: 1 } }, ["environments", "production"]);
    expect(doc.toString()).toBe(
      "deploy:\n  parallel: 4\nenvironments:\n  production:\n    deploy:\n      parallel: 2 # gentle\n      retries: 1\n",
    );
  });
});
