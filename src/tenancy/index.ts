// Workspaces: businesses, memberships, invitations, roles (issue 4).
export { tenancyRoutes, type TenancyDeps } from './routes.ts';
export { tenancyTx, translateRaised } from './db-errors.ts';
export { atLeast, type Role, type BusinessView } from './businesses.ts';
