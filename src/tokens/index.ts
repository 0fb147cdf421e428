export { ROLES, type Role, roleAllows } from "./roles.ts";
export {
  type CreateTokenOptions,
  createToken,
  envAllows,
  listTokens,
  type Principal,
  revokeToken,
  type TokenInfo,
  type TokenStore,
  verifyToken,
  verifyTokenHash,
} from "./tokens.ts";
