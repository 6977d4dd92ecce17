// The auth module's surface for the composition root (src/main.ts).
export { createAuthServices, type AuthServices } from './services.ts';
export { authRoutes } from './routes.ts';
