// Fastify helpers shared by every service: `@armillaria/core/server`.
export { createServiceApp } from './service-app.js';
export type { ServiceAppOptions } from './service-app.js';
export { SERVICE_TOKEN_ENV, bearerToken, requireServiceToken, serviceTokenFromEnv } from './service-token.js';
