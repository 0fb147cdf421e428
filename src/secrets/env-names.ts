// How the env store names variables: shared by the env and DigitalOcean backends and `secrets export`, without
// loading either backend.

/** `SITELOOM_SECRET_SHOP_EU__FTP_PASSWORD` → `shop-eu`, `FTP_PASSWORD`; undefined for other variables. */
export function envVarKey(prefix: string, variable: string): { scope: string; name: string } | undefined {
  if (!variable.startsWith(prefix)) return undefined;
  const rest = variable.slice(prefix.length);
  const sep = rest.indexOf("__");
  if (sep <= 0) return undefined;
  return { scope: rest.slice(0, sep).toLowerCase().replace(/_/g, "-"), name: rest.slice(sep + 2) };
}

/** `shop-eu`, `FTP_PASSWORD` → `SITELOOM_SECRET_SHOP_EU__FTP_PASSWORD`. */
export function envVarName(prefix: string, scope: string, name: string): string {
  return `${prefix}${scope.toUpperCase().replace(/-/g, "_")}__${name}`;
}
