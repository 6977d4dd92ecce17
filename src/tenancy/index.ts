// Workspaces: businesses, memberships, invitations, roles (docs/ARCHITECTURE.md §13).
export { tenancyRoutes } from './routes.ts';
export type { TenancyDeps } from './deps.ts';
export { tenancyTx, translateRaised } from './db-errors.ts';
export { atLeast, type Role, type BusinessView } from './businesses.ts';
