export { ROLES, type Role, roleAllows } from "./roles.ts";
export {
  ALL_ENVS,
  type CreateTokenOptions,
  createToken,
  envAllows,
  listTokens,
  type Principal,
  revokeToken,
  TOKEN_PREFIX,
  type TokenInfo,
  type TokenStore,
  verifyToken,
} from "./tokens.ts";
