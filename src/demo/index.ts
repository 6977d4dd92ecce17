// Demo workspaces (P9): seeded, flagged is_demo, isolated, purged after 24 hours.
export { assertNotDemo } from './guard.ts';
export { purgeExpiredDemos, DEMO_EMAIL_DOMAIN, DEMO_LIFETIME_HOURS, type PurgeResult } from './purge.ts';
export { demoRoutes } from './routes.ts';
export { generateDemoData } from './seed.ts';
