import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { generateX25519Identity } from "age-encryption";
import type { FastifyInstance } from "fastify";
import { type BuildServerOptions, buildServer } from "../../src/server/index.ts";
import { openStateStore, type StateStore } from "../../src/store/index.ts";
import { createToken, type Role } from "../../src/tokens/index.ts";

export const WORKSPACE_YAML = `# siteloom workspace used by the server tests
environment: development
llm:
  provider: offline # no API in tests
  apiKey: secret://global/OPENAI_API_KEY
deploy:
  parallel: 4 # shared hosts allow few connections
environments:
  production:
    deploy:
      parallel: 2 # be gentle in production
`;

export const SHOP_YAML = `# the shop site
domain: shop.example.com
remote:
  protocol: sftp
  host: 127.0.0.1 # loopback in tests
  user: deploy
  password: secret://shop/FTP_PASSWORD
content:
  language: en # English first
`;

/** A literal credential in a config file: must never appear in a response. */
export const LITERAL_PASSWORD = "literal-Pw-7f3a9c2e";

export const BLOG_YAML = `domain: blog.example.com
remote:
  host: 127.0.0.1
  password: ${LITERAL_PASSWORD}
`;

/** Writes a workspace with two sites into `dir` (`siteloom.yaml` is WORKSPACE_YAML unless given). */
export async function writeWorkspace(dir: string, workspaceYaml = WORKSPACE_YAML): Promise<void> {
  await writeFile(join(dir, "siteloom.yaml"), workspaceYaml);
  await mkdir(join(dir, "sites", "shop"), { recursive: true });
  await writeFile(join(dir, "sites", "shop", "site.yaml"), SHOP_YAML);
  await mkdir(join(dir, "sites", "blog"), { recursive: true });
  await writeFile(join(dir, "sites", "blog", "site.yaml"), BLOG_YAML);
}

/** The tokens every test server gets: name → token text. */
export interface TestTokens {
  viewer: string;
  editor: string;
  /** editor limited to staging */
  editorStaging: string;
  /** viewer limited to production */
  viewerProduction: string;
  admin: string;
  expired: string;
  revoked: string;
}

export interface TestServer {
  app: FastifyInstance;
  store: StateStore;
  tokens: TestTokens;
  vars: Record<string, string | undefined>;
  dir: string;
  close(): Promise<void>;
}

/** Builds a workspace, a state store with one token per role, and a server over them (not listening). */
export async function startTestServer(
  dir: string,
  options: Partial<BuildServerOptions> = {},
  workspaceYaml?: string,
): Promise<TestServer> {
  await writeWorkspace(dir, workspaceYaml);
  const stateDir = join(dir, ".siteloom");
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const store = openStateStore({ stateDir, url: "sqlite:" });
  const make = async (name: string, role: Role, envs: string[] = [], expires?: string) =>
    (await createToken(store, { name, role, envs, expires })).token;
  const tokens: TestTokens = {
    viewer: await make("viewer", "viewer"),
    editor: await make("editor", "editor"),
    editorStaging: await make("editor-staging", "editor", ["staging"]),
    viewerProduction: await make("viewer-production", "viewer", ["production"]),
    admin: await make("admin", "admin"),
    expired: (
      await createToken(store, { name: "expired", role: "admin", now: new Date(Date.now() - 7_200_000), expires: "1h" })
    ).token,
    revoked: await make("revoked", "admin"),
  };
  await store.revokeToken("revoked");
  const vars: Record<string, string | undefined> = {
    HOME: dir,
    XDG_CONFIG_HOME: join(dir, ".config"),
    SITELOOM_AGE_IDENTITY: await generateX25519Identity(),
    PATH: process.env.PATH,
  };
  const app = await buildServer({
    root: dir,
    store,
    vars,
    debounceMs: 20,
    rateLimit: { perToken: 100_000, perAddress: 100_000 },
    ...options,
  });
  return {
    app,
    store,
    tokens,
    vars,
    dir,
    async close() {
      await app.close();
      await store.close();
    },
  };
}

/** `{ authorization: "Bearer <token>" }`. */
export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
