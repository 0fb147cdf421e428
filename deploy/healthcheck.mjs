// The container's HEALTHCHECK: exit 0 when SITELOOM_HEALTHCHECK_URL (the API's /health by default; a worker points
// it at its metrics port) answers 2xx within 4 s, else 1. Plain Node: no curl in the image.
const url = process.argv[2] ?? process.env.SITELOOM_HEALTHCHECK_URL ?? "http://127.0.0.1:8088/health";
try {
  const response = await fetch(url, { signal: AbortSignal.timeout(4000) });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}
