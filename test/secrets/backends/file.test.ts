import { chmod, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Decrypter, generateX25519Identity, identityToRecipient } from "age-encryption";
import { describe, expect, it } from "vitest";
import type { SiteloomError } from "../../../src/errors.ts";
import {
  createFileBackend,
  createIdentityFile,
  createSecretStore,
  type FileBackendOptions,
  loadIdentity,
} from "../../../src/secrets/index.ts";
import { useTempDir } from "../../support/cli.ts";
import { testBackend } from "../contract.ts";

async function newIdentity() {
  const identity = await generateX25519Identity();
  return { identities: [identity], recipients: [await identityToRecipient(identity)], source: "test" };
}

async function setup(extra: Partial<FileBackendOptions> = {}) {
  const dir = await useTempDir("siteloom-file-");
  const id = await newIdentity();
  const path = join(dir, ".siteloom", "secrets.development.age");
  const backend = createFileBackend({ path, env: "development", identity: async () => id, ...extra });
  return {
    dir,
    id,
    path,
    backend,
    store: createSecretStore(backend, { name: "file", env: "development", actor: "t" }),
  };
}

describe("secrets: file backend", () => {
  testBackend("file", {
    async create() {
      return (await setup()).backend;
    },
  });

  it("writes one standard age file (0600 in a 0700 directory) that the identity alone decrypts", async () => {
    const { id, path, store } = await setup();
    await store.set("secret://shop/FTP_PASSWORD", "plain-value-123");
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(path, ".."))).mode & 0o777).toBe(0o700);
    const bytes = await readFile(path);
    expect(bytes.toString("latin1")).not.toContain("plain-value-123");
    expect(bytes.toString("latin1").startsWith("age-encryption.org/v1\n")).toBe(true);
    const d = new Decrypter();
    d.addIdentity(id.identities[0]!);
    const payload = JSON.parse(await d.decrypt(new Uint8Array(bytes), "text"));
    expect(payload.secrets["shop/FTP_PASSWORD"].versions[0].value).toBe("plain-value-123");
    expect(payload.env).toBe("development");
  });

  it("keeps historySize previous versions", async () => {
    const { store } = await setup({ historySize: 3 });
    await store.set("secret://shop/A", "value-1");
    for (let i = 2; i <= 7; i++) await store.rotate("secret://shop/A", `value-${i}`);
    const history = await store.history("secret://shop/A");
    expect(history.map((h) => h.version)).toEqual([4, 5, 6, 7]);
    expect(await store.get("secret://shop/A?version=2").catch((e: SiteloomError) => e.message)).toContain(
      "version 2 of secret://shop/A is not kept",
    );
  });

  it("a wrong key, truncated, flipped-byte and non-age files are distinct clear errors", async () => {
    const { path, store, id } = await setup();
    await store.set("secret://shop/FTP_PASSWORD", "value-for-faults");
    const good = await readFile(path);
    const other = await newIdentity();
    const wrong = createSecretStore(createFileBackend({ path, env: "development", identity: async () => other }), {
      name: "file",
      env: "development",
    });
    const wrongError = (await wrong.get("shop/FTP_PASSWORD").catch((e) => e)) as SiteloomError;
    expect(wrongError.code).toBe("ERR_SECRET_LOCKED");
    expect(wrongError.message).toContain("wrong key");

    const cases: Array<[string, Buffer, RegExp]> = [
      ["truncated body", good.subarray(0, good.length - 20), /tampered or truncated/],
      ["truncated header", good.subarray(0, 40), /damaged age header|tampered or truncated/],
      ["empty", Buffer.alloc(0), /empty \(truncated\)/],
      ["not age", Buffer.from("hello"), /not an age file/],
    ];
    const flipped = Buffer.from(good);
    flipped[flipped.length - 5]! ^= 0x01;
    cases.push(["flipped body byte", flipped, /tampered or truncated/]);
    const headerFlip = Buffer.from(good);
    // a flipped byte in the header MAC (a flipped byte inside a recipient stanza is indistinguishable from a wrong key)
    const macAt = headerFlip.indexOf("\n--- ") + 8;
    headerFlip[macAt]! ^= 0x01;
    cases.push(["flipped header byte", headerFlip, /tampered|damaged/]);
    for (const [label, bytes, pattern] of cases) {
      await writeFile(path, bytes);
      const reader = createSecretStore(createFileBackend({ path, env: "development", identity: async () => id }), {
        name: "file",
        env: "development",
      });
      const error = (await reader.get("shop/FTP_PASSWORD").catch((e) => e)) as SiteloomError;
      expect(error.code, label).toBe("ERR_SECRET_CORRUPT");
      expect(error.message, label).toMatch(pattern);
      expect(error.message, label).not.toContain("value-for-faults");
    }
  });

  it("a flipped byte in a recipient stanza, another environment's store and a deleted store each say what they are", async () => {
    const dev = await setup();
    await dev.store.set("secret://shop/A", "dev-value-seal");
    // production has its own key, as `secrets init --env production` makes it
    const prodId = await newIdentity();
    const prodPath = join(dev.dir, ".siteloom", "secrets.production.age");
    const prod = () =>
      createSecretStore(createFileBackend({ path: prodPath, env: "production", identity: async () => prodId }), {
        name: "file",
        env: "production",
      });
    await prod().set("secret://shop/A", "prod-value-seal");
    const failure = async (store: ReturnType<typeof prod>) =>
      (await store.get("shop/A").catch((e) => e)) as SiteloomError;

    // 1. a byte flipped inside the recipient stanza: age can only say "no identity matched"
    const good = await readFile(prodPath);
    const stanza = Buffer.from(good);
    const at = stanza.indexOf("\n-> X25519 ") + 12;
    stanza[at] = stanza[at] === 0x41 ? 0x42 : 0x41;
    await writeFile(prodPath, stanza);
    const flipped = await failure(prod());
    expect(flipped.code).toBe("ERR_SECRET_CORRUPT");
    expect(flipped.message).toMatch(
      /is not the file siteloom last wrote .*age header is damaged or the file was replaced/,
    );
    expect(flipped.message).not.toContain("wrong key");

    // 2. the development store copied over the production one
    await writeFile(prodPath, await readFile(dev.path));
    const copied = await failure(prod());
    expect(copied.code).toBe("ERR_SECRET_CORRUPT");
    expect(copied.message).toContain('is a copy of the store of environment "development", not the production store');

    // 3. the file restored: opens again; then deleted
    await writeFile(prodPath, good);
    expect((await prod().get("shop/A")).reveal()).toBe("prod-value-seal");
    await rm(prodPath);
    const deleted = await failure(prod());
    expect(deleted.code).toBe("ERR_SECRET_CORRUPT");
    expect(deleted.message).toMatch(
      /secrets\.production\.age was deleted \(siteloom last wrote it at .*\); restore it/,
    );
    // and a write does not silently start an empty store in its place
    expect(
      (
        (await prod()
          .set("secret://shop/B", "x")
          .catch((e) => e)) as SiteloomError
      ).message,
    ).toMatch(/was deleted/);

    // 4. a really wrong key is still called that
    const stranger = await newIdentity();
    const wrong = createSecretStore(
      createFileBackend({ path: dev.path, env: "development", identity: async () => stranger }),
      { name: "file", env: "development" },
    );
    expect((await failure(wrong)).message).toContain("wrong key");
  });

  it("a passphrase store opens with the passphrase and says so when it is wrong", async () => {
    const dir = await useTempDir("siteloom-pass-");
    const path = join(dir, "secrets.development.age");
    const make = (pass: string) =>
      createSecretStore(
        createFileBackend({ path, env: "development", passphrase: async () => pass, scryptWorkFactor: 10 }),
        { name: "file", env: "development" },
      );
    await make("correct horse battery").set("secret://shop/A", "passphrase-protected");
    expect((await make("correct horse battery").get("shop/A")).reveal()).toBe("passphrase-protected");
    const error = (await make("wrong one here")
      .get("shop/A")
      .catch((e) => e)) as SiteloomError;
    expect(error.code).toBe("ERR_SECRET_LOCKED");
    expect(error.message).toContain("wrong passphrase");
  });

  it("the store of one environment refuses to serve as another's", async () => {
    const { path, id, store } = await setup();
    await store.set("secret://shop/A", "dev-value-xyz");
    const asProd = createSecretStore(createFileBackend({ path, env: "production", identity: async () => id }), {
      name: "file",
      env: "production",
    });
    const error = (await asProd.get("shop/A").catch((e) => e)) as SiteloomError;
    expect(error.message).toContain('is the store of environment "development", not "production"');
  });

  it("adding a recipient re-encrypts so both keys open it; removing one locks it out", async () => {
    const { path, backend, id } = await setup();
    const store = createSecretStore(backend, { name: "file", env: "development" });
    await store.set("secret://shop/A", "shared-value-1");
    const teammate = await newIdentity();
    await backend.updateRecipients([teammate.recipients[0]!], []);
    const asTeammate = () =>
      createSecretStore(createFileBackend({ path, env: "development", identity: async () => teammate }), {
        name: "file",
        env: "development",
      });
    expect((await asTeammate().get("shop/A")).reveal()).toBe("shared-value-1");
    expect(await backend.recipients()).toEqual(expect.arrayContaining([id.recipients[0], teammate.recipients[0]]));
    await backend.updateRecipients([], [teammate.recipients[0]!]);
    expect(
      (
        (await asTeammate()
          .get("shop/A")
          .catch((e) => e)) as SiteloomError
      ).message,
    ).toContain("wrong key");
    expect(
      ((await backend.updateRecipients([], [id.recipients[0]!]).catch((e) => e)) as SiteloomError).message,
    ).toContain("lock you out");
  });
});

describe("secrets: identity files", () => {
  it("creates 0600 keys in a 0700 directory and refuses group-readable ones", async () => {
    const dir = await useTempDir("siteloom-id-");
    const file = join(dir, "cfg", "siteloom", "ws.development.key");
    const created = await createIdentityFile(file);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(file, ".."))).mode & 0o777).toBe(0o700);
    const loaded = await loadIdentity({ root: dir, env: "development", vars: { SITELOOM_AGE_IDENTITY_FILE: file } });
    expect(loaded?.recipients).toEqual(created.recipients);
    await chmod(file, 0o640);
    const error = (await loadIdentity({
      root: dir,
      env: "development",
      vars: { SITELOOM_AGE_IDENTITY_FILE: file },
    }).catch((e) => e)) as SiteloomError;
    expect(error.code).toBe("ERR_PERMISSIONS");
    expect(error.message).toContain("chmod 600");
  });

  it("takes the key from SITELOOM_AGE_IDENTITY and rejects garbage", async () => {
    const id = await generateX25519Identity();
    const loaded = await loadIdentity({ root: "/x", env: "ci", vars: { SITELOOM_AGE_IDENTITY: `# c\n${id}\n` } });
    expect(loaded?.recipients).toEqual([await identityToRecipient(id)]);
    const error = (await loadIdentity({ root: "/x", env: "ci", vars: { SITELOOM_AGE_IDENTITY: "nonsense" } }).catch(
      (e) => e,
    )) as SiteloomError;
    expect(error.message).toContain("does not hold an age X25519 identity");
  });
});
